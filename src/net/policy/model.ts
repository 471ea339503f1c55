/**
 * Network policies with Kubernetes NetworkPolicy semantics on isola's container labels:
 * the shapes, and validation of decoded YAML/JSON that names the bad field. Pure.
 */
import { configError } from "../errors.ts";
import { cidrExpectation, formatPrefix, parseCidr, prefixContains } from "../ip.ts";

export type Operator = "In" | "NotIn" | "Exists" | "DoesNotExist";

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

/** A label selector; the empty selector selects every container of the network. */
export interface Selector {
  matchLabels: Record<string, string>;
  matchExpressions: Requirement[];
}

export type Peer = { selector: Selector } | { ipBlock: { cidr: string; except: string[] } };

export type Protocol = "tcp" | "udp" | "sctp";

export interface PortSpec {
  protocol: Protocol;
  /** undefined: every port of the protocol */
  port?: number;
  /** last port of a range (inclusive) */
  endPort?: number;
}

/** One allow rule; `peers`/`ports` undefined means "any" (an absent `from`/`to`/`ports`). */
export interface Rule {
  peers?: Peer[];
  ports?: PortSpec[];
}

export interface Policy {
  name: string;
  network: string;
  selector: Selector;
  /** undefined: the policy does not isolate that direction (not in policyTypes) */
  ingress?: Rule[];
  egress?: Rule[];
  /** log denied packets of containers this policy selects */
  log: boolean;
}

/** A container attachment as the policy engine knows it (registered by the isola-policy plugin). */
export interface Endpoint {
  containerId: string;
  ifName: string;
  /** addresses without prefix length */
  addresses: string[];
  labels: Record<string, string>;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;
const NET_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const LABEL_NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const OPERATORS: readonly Operator[] = ["In", "NotIn", "Exists", "DoesNotExist"];

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

function object(v: unknown, field: string, known: readonly string[]): Obj {
  if (!isObject(v)) throw configError(field, `expected an object, found ${show(v)}`);
  for (const k of Object.keys(v))
    if (!known.includes(k)) throw configError(field ? `${field}.${k}` : k, `unknown field (expected one of ${known.join(", ")})`);
  return v;
}

function array(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw configError(field, `expected a list, found ${show(v)}`);
  return v;
}

/** Checks a label key: [prefix/]name as Kubernetes has it. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX_RE.test(prefix))) return `${show(key)} has a bad prefix (expected a DNS subdomain before "/")`;
  if (!LABEL_NAME_RE.test(name)) return `${show(key)} is not a label key (expected [prefix/]name, name 1-63 letters, digits, "-", "_", "." starting and ending with a letter or digit)`;
  return undefined;
}

/** Checks a label value: empty, or 1-63 characters as Kubernetes has it. */
export function labelValueProblem(v: unknown): string | undefined {
  if (typeof v !== "string" || !LABEL_VALUE_RE.test(v))
    return `${show(v)} is not a label value (expected at most 63 letters, digits, "-", "_", "." starting and ending with a letter or digit)`;
  return undefined;
}

function labelValue(v: unknown, field: string): string {
  const bad = labelValueProblem(v);
  if (bad) throw configError(field, bad);
  return v as string;
}

/** Validates a label selector (matchLabels, matchExpressions). */
export function parseSelector(v: unknown, field: string): Selector {
  const o = object(v ?? {}, field, ["matchLabels", "matchExpressions"]);
  const matchLabels: Record<string, string> = {};
  if (o.matchLabels !== undefined) {
    const ml = object(o.matchLabels, `${field}.matchLabels`, Object.keys(isObject(o.matchLabels) ? o.matchLabels : {}));
    for (const [k, val] of Object.entries(ml)) {
      const bad = labelKeyProblem(k);
      if (bad) throw configError(`${field}.matchLabels`, bad);
      matchLabels[k] = labelValue(val, `${field}.matchLabels.${k}`);
    }
  }
  const matchExpressions = o.matchExpressions === undefined ? [] : array(o.matchExpressions, `${field}.matchExpressions`).map((e, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const x = object(e, f, ["key", "operator", "values"]);
    if (typeof x.key !== "string") throw configError(`${f}.key`, `expected a label key, found ${show(x.key)}`);
    const bad = labelKeyProblem(x.key);
    if (bad) throw configError(`${f}.key`, bad);
    if (!OPERATORS.includes(x.operator as Operator)) throw configError(`${f}.operator`, `${show(x.operator)} is not an operator (expected ${OPERATORS.join(", ")})`);
    const op = x.operator as Operator;
    const values = x.values === undefined ? [] : array(x.values, `${f}.values`).map((val, j) => labelValue(val, `${f}.values[${j}]`));
    if ((op === "In" || op === "NotIn") && values.length === 0) throw configError(`${f}.values`, `operator ${op} needs a non-empty list of values`);
    if ((op === "Exists" || op === "DoesNotExist") && values.length > 0) throw configError(`${f}.values`, `operator ${op} takes no values`);
    return { key: x.key, operator: op, values: [...new Set(values)].sort() };
  });
  return { matchLabels, matchExpressions };
}

function parseCidrField(v: unknown, field: string): ReturnType<typeof parseCidr> & object {
  const c = typeof v === "string" ? parseCidr(v) : undefined;
  if (!c) throw configError(field, `${show(v)} is not a CIDR (${cidrExpectation(String(v ?? ""))})`);
  return c;
}

function parsePeer(v: unknown, field: string): Peer {
  const o = object(v, field, ["podSelector", "ipBlock"]);
  if ((o.podSelector === undefined) === (o.ipBlock === undefined)) throw configError(field, "expected exactly one of podSelector, ipBlock");
  if (o.podSelector !== undefined) return { selector: parseSelector(o.podSelector, `${field}.podSelector`) };
  const b = object(o.ipBlock, `${field}.ipBlock`, ["cidr", "except"]);
  const cidr = parseCidrField(b.cidr, `${field}.ipBlock.cidr`);
  const except = b.except === undefined ? [] : array(b.except, `${field}.ipBlock.except`).map((e, i) => {
    const f = `${field}.ipBlock.except[${i}]`;
    const x = parseCidrField(e, f);
    if (x.prefix.family !== cidr.prefix.family || x.prefix.bits <= cidr.prefix.bits || !prefixContains(cidr.prefix, { family: x.prefix.family, value: x.prefix.network }))
      throw configError(f, `${String(e)} is not strictly inside the cidr ${formatPrefix(cidr.prefix)}`);
    return formatPrefix(x.prefix);
  });
  return { ipBlock: { cidr: formatPrefix(cidr.prefix), except } };
}

function parsePort(v: unknown, field: string): PortSpec {
  const o = object(v, field, ["protocol", "port", "endPort"]);
  const proto = o.protocol === undefined ? "TCP" : o.protocol;
  if (typeof proto !== "string" || !["TCP", "UDP", "SCTP"].includes(proto.toUpperCase()))
    throw configError(`${field}.protocol`, `${show(o.protocol)} is not a protocol (expected TCP, UDP or SCTP)`);
  const p: PortSpec = { protocol: proto.toLowerCase() as Protocol };
  const isPort = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
  if (o.port !== undefined) {
    if (typeof o.port === "string" && !/^\d+$/.test(o.port)) throw configError(`${field}.port`, `named port ${show(o.port)} is not supported (expected a number 1-65535)`);
    const n = typeof o.port === "string" ? Number(o.port) : o.port;
    if (!isPort(n)) throw configError(`${field}.port`, `${show(o.port)} is not a port (expected 1-65535)`);
    p.port = n as number;
  }
  if (o.endPort !== undefined) {
    if (p.port === undefined) throw configError(`${field}.endPort`, "needs a port (the first port of the range)");
    if (!isPort(o.endPort) || (o.endPort as number) < p.port) throw configError(`${field}.endPort`, `${show(o.endPort)} is not a port range end (expected ${p.port}-65535)`);
    if ((o.endPort as number) > p.port) p.endPort = o.endPort as number;
  }
  return p;
}

function parseRules(v: unknown, field: string, peerKey: "from" | "to"): Rule[] {
  return array(v, field).map((r, i) => {
    const f = `${field}[${i}]`;
    const o = object(r ?? {}, f, [peerKey, "ports"]);
    const rule: Rule = {};
    if (o[peerKey] !== undefined) {
      const peers = array(o[peerKey], `${f}.${peerKey}`).map((p, j) => parsePeer(p, `${f}.${peerKey}[${j}]`));
      if (peers.length) rule.peers = peers;
    }
    if (o.ports !== undefined) {
      const ports = array(o.ports, `${f}.ports`).map((p, j) => parsePort(p, `${f}.ports[${j}]`));
      if (ports.length) rule.ports = ports;
    }
    return rule;
  });
}

/**
 * Validates one decoded policy document:
 * `{kind?: NetworkPolicy, apiVersion?, metadata: {name, network}, spec: {podSelector, policyTypes?, ingress?, egress?, log?}}`.
 */
export function parsePolicy(raw: unknown, field = ""): Policy {
  const at = (k: string) => (field ? `${field}.${k}` : k);
  const o = object(raw, field, ["apiVersion", "kind", "metadata", "spec"]);
  if (o.kind !== undefined && o.kind !== "NetworkPolicy") throw configError(at("kind"), `${show(o.kind)} is not a policy kind (expected NetworkPolicy)`);
  if (o.apiVersion !== undefined && typeof o.apiVersion !== "string") throw configError(at("apiVersion"), `expected a string, found ${show(o.apiVersion)}`);
  const md = object(o.metadata, at("metadata"), ["name", "network", "labels", "annotations"]);
  if (typeof md.name !== "string" || !NAME_RE.test(md.name))
    throw configError(at("metadata.name"), `${show(md.name)} is not a policy name (expected 1-63 lower-case letters, digits, "-" or ".", starting and ending with a letter or digit)`);
  if (typeof md.network !== "string" || !NET_RE.test(md.network))
    throw configError(at("metadata.network"), `${show(md.network)} is not a network name (expected the name of an isola network)`);
  const spec = object(o.spec, at("spec"), ["podSelector", "policyTypes", "ingress", "egress", "log"]);
  const selector = parseSelector(spec.podSelector, at("spec.podSelector"));
  let types: string[];
  if (spec.policyTypes !== undefined) {
    types = array(spec.policyTypes, at("spec.policyTypes")).map((t, i) => {
      if (t !== "Ingress" && t !== "Egress") throw configError(at(`spec.policyTypes[${i}]`), `${show(t)} is not a policy type (expected Ingress or Egress)`);
      return t;
    });
  } else types = spec.egress !== undefined ? ["Ingress", "Egress"] : ["Ingress"];
  if (spec.log !== undefined && typeof spec.log !== "boolean") throw configError(at("spec.log"), `expected true or false, found ${show(spec.log)}`);
  const p: Policy = { name: md.name, network: md.network, selector, log: spec.log === true };
  const ingress = spec.ingress === undefined ? [] : parseRules(spec.ingress, at("spec.ingress"), "from");
  const egress = spec.egress === undefined ? [] : parseRules(spec.egress, at("spec.egress"), "to");
  if (types.includes("Ingress")) p.ingress = ingress;
  else if (ingress.length) throw configError(at("spec.ingress"), "given, but policyTypes does not include Ingress");
  if (types.includes("Egress")) p.egress = egress;
  else if (egress.length) throw configError(at("spec.egress"), "given, but policyTypes does not include Egress");
  return p;
}

/** The canonical document of a policy (what the store keeps and `inspect` shows). */
export function policyDocument(p: Policy): Record<string, unknown> {
  const sel = (s: Selector) => {
    const o: Obj = {};
    if (Object.keys(s.matchLabels).length) o.matchLabels = s.matchLabels;
    if (s.matchExpressions.length) o.matchExpressions = s.matchExpressions.map((e) => (e.values.length ? e : { key: e.key, operator: e.operator }));
    return o;
  };
  const rules = (rs: Rule[], key: "from" | "to") =>
    rs.map((r) => {
      const o: Obj = {};
      if (r.peers) o[key] = r.peers.map((x) => ("selector" in x ? { podSelector: sel(x.selector) } : { ipBlock: x.ipBlock.except.length ? x.ipBlock : { cidr: x.ipBlock.cidr } }));
      if (r.ports) o.ports = r.ports.map((x) => ({ protocol: x.protocol.toUpperCase(), ...(x.port !== undefined ? { port: x.port } : {}), ...(x.endPort !== undefined ? { endPort: x.endPort } : {}) }));
      return o;
    });
  const spec: Obj = { podSelector: sel(p.selector), policyTypes: [...(p.ingress ? ["Ingress"] : []), ...(p.egress ? ["Egress"] : [])] };
  if (p.ingress) spec.ingress = rules(p.ingress, "from");
  if (p.egress) spec.egress = rules(p.egress, "to");
  if (p.log) spec.log = true;
  return { apiVersion: "isola.dev/v1", kind: "NetworkPolicy", metadata: { name: p.name, network: p.network }, spec };
}

/** Whether the selector picks a container with these labels. */
export function selects(s: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(s.matchLabels)) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case "In":
        if (!has || !e.values.includes(labels[e.key]!)) return false;
        break;
      case "NotIn":
        if (has && e.values.includes(labels[e.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** A stable text for a selector (equal selectors share one address set). */
export function selectorKey(s: Selector): string {
  const ml = Object.entries(s.matchLabels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const me = s.matchExpressions.map((e) => `${e.key} ${e.operator} (${e.values.join(",")})`).sort();
  return [...ml.map(([k, v]) => `${k}=${v}`), ...me].join(";");
}

/** Does the CIDR peer match this address? */
export function ipBlockContains(b: { cidr: string; except: string[] }, addr: { family: 4 | 6; value: bigint }): boolean {
  const c = parseCidr(b.cidr)!.prefix;
  if (!prefixContains(c, addr)) return false;
  return !b.except.some((e) => prefixContains(parseCidr(e)!.prefix, addr));
}
