/**
 * The policy compiler: a network's policies × its containers → one nftables table
 * `inet isola-<network>`. Each distinct label selector gets an address set per family, so
 * the per-packet cost is set lookups, whatever the number of containers; attaching or
 * removing a container changes only set elements. Replies of allowed connections pass
 * through conntrack. Every change is one `nft -f` transaction. Pure.
 */
import { parseAddr, type Family } from "../ip.ts";
import { fnv64 } from "../plugins/bridge_plan.ts";
import { selectorKey, selects, type Endpoint, type Peer, type Policy, type PortSpec, type Rule, type Selector } from "./model.ts";

export interface CompiledSet {
  name: string;
  type: "ipv4_addr" | "ipv6_addr";
  elements: string[];
}

/** An nft JSON expression (libnftables-json), as `nft -j list` shows it. */
export type NftExpr = Record<string, unknown>;

/** One rule: as the transaction writes it, and as `nft -j list` lists it back (CHECK compares those). */
export interface CompiledRule {
  text: string;
  expr: NftExpr[];
  comment?: string;
}

export interface CompiledChain {
  name: string;
  /** base chains hook into the host's filter path (type filter, priority filter, policy accept) */
  hook?: "forward" | "input" | "output";
  rules: CompiledRule[];
}

export interface CompiledTable {
  network: string;
  /** `isola-<network>` in family inet */
  name: string;
  /** hash of everything but set elements: the rules the kernel should hold */
  generation: string;
  sets: CompiledSet[];
  counters: string[];
  chains: CompiledChain[];
}

/** The nftables table of a network's policies. */
export function tableName(network: string): string {
  return `isola-${network}`;
}

const FAMILIES: readonly Family[] = [4, 6];
const ipk = (f: Family) => (f === 4 ? "ip" : "ip6");

function selectorSetBase(s: Selector): string {
  return `sel_${fnv64(selectorKey(s)).toString(16).padStart(16, "0").slice(0, 10)}`;
}

const ISOLATED = { ingress: "in_isolated", egress: "eg_isolated" } as const;

/** A piece of a rule: its nft text and the expressions nft lists for it. */
interface Part {
  text: string;
  expr: NftExpr[];
}

const part = (text: string, ...expr: NftExpr[]): Part => ({ text, expr });
const match = (left: unknown, right: unknown, op = "=="): NftExpr => ({ match: { op, left, right } });
const payload = (protocol: string, field: string) => ({ payload: { protocol, field } });
const verdict = (v: "accept" | "drop" | "return"): Part => part(v, { [v]: null });
const toChain = (v: "jump" | "goto", target: string): Part => part(`${v} ${target}`, { [v]: { target } });

function rule(parts: readonly Part[], comment?: string): CompiledRule {
  const text = parts.map((p) => p.text).join(" ") + (comment ? ` comment "${comment}"` : "");
  const r: CompiledRule = { text, expr: parts.flatMap((p) => p.expr) };
  if (comment) r.comment = comment;
  return r;
}

/** `ip saddr @set` */
function addrInSet(fam: Family, side: "saddr" | "daddr", set: string): Part {
  return part(`${ipk(fam)} ${side} @${set}`, match(payload(ipk(fam), side), `@${set}`));
}

function prefixValue(cidr: string): unknown {
  const slash = cidr.indexOf("/");
  return { prefix: { addr: cidr.slice(0, slash), len: Number(cidr.slice(slash + 1)) } };
}

function byName(policies: readonly Policy[]): Policy[] {
  return [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every selector whose members need an address set: policy selectors and peer selectors. */
function selectorsOf(policies: readonly Policy[]): Map<string, Selector> {
  const out = new Map<string, Selector>();
  const add = (s: Selector) => out.set(selectorSetBase(s), s);
  for (const p of byName(policies)) {
    add(p.selector);
    for (const r of [...(p.ingress ?? []), ...(p.egress ?? [])]) for (const x of r.peers ?? []) if ("selector" in x) add(x.selector);
  }
  return out;
}

/** The set elements a container contributes: set name → its addresses of that family. */
export function endpointElements(policies: readonly Policy[], ep: Endpoint): Map<string, string[]> {
  const bases: string[] = [];
  for (const [base, s] of selectorsOf(policies)) if (selects(s, ep.labels)) bases.push(base);
  for (const dir of ["ingress", "egress"] as const) if (policies.some((p) => p[dir] !== undefined && selects(p.selector, ep.labels))) bases.push(ISOLATED[dir]);
  const out = new Map<string, string[]>();
  for (const a of ep.addresses) {
    const fam = parseAddr(a)?.family;
    if (!fam) continue;
    for (const b of bases) {
      const name = `${b}_${fam}`;
      const list = out.get(name) ?? [];
      if (!list.includes(a)) list.push(a);
      out.set(name, list);
    }
  }
  return out;
}

function portMatches(ports: readonly PortSpec[] | undefined): Part[][] {
  if (!ports) return [[]];
  const out: Part[][] = [];
  for (const proto of ["tcp", "udp", "sctp"] as const) {
    const mine = ports.filter((p) => p.protocol === proto);
    if (!mine.length) continue;
    if (mine.some((p) => p.port === undefined)) {
      out.push([part(`meta l4proto ${proto}`, match({ meta: { key: "l4proto" } }, proto))]);
      continue;
    }
    const items = new Map<string, unknown>();
    for (const p of mine) items.set(p.endPort !== undefined ? `${p.port}-${p.endPort}` : `${p.port}`, p.endPort !== undefined ? { range: [p.port, p.endPort] } : p.port);
    const texts = [...items.keys()];
    // nft lists "meta l4proto tcp th dport" as "tcp dport": the protocol match is its dependency
    const right = items.size === 1 ? [...items.values()][0] : { set: [...items.values()] };
    out.push([part(`meta l4proto ${proto} th dport ${texts.length === 1 ? texts[0] : `{ ${texts.join(", ")} }`}`, match(payload(proto, "dport"), right))]);
  }
  return out;
}

function peerMatches(peers: readonly Peer[] | undefined, fam: Family, side: "saddr" | "daddr"): Part[][] {
  if (!peers) return [[]];
  const out: Part[][] = [];
  for (const x of peers) {
    if ("selector" in x) out.push([addrInSet(fam, side, `${selectorSetBase(x.selector)}_${fam}`)]);
    else if (x.ipBlock.cidr.includes(":") === (fam === 6)) {
      const parts = [part(`${ipk(fam)} ${side} ${x.ipBlock.cidr}`, match(payload(ipk(fam), side), prefixValue(x.ipBlock.cidr)))];
      const ex = x.ipBlock.except;
      if (ex.length) parts.push(part(`${ipk(fam)} ${side} != { ${ex.join(", ")} }`, match(payload(ipk(fam), side), { set: ex.map(prefixValue) }, "!=")));
      out.push(parts);
    }
  }
  return out;
}

const counterName = (kind: "allow" | "deny", p: Policy) => `${kind}-${p.name}`;

/** The rules of one direction: allows return (the other direction is checked next), the rest is counted per policy and dropped. */
function counter(name: string): Part {
  return part(`counter name "${name}"`, { counter: name });
}

function directionRules(policies: readonly Policy[], dir: "ingress" | "egress"): CompiledRule[] {
  const selfSide = dir === "egress" ? "saddr" : "daddr";
  const peerSide = dir === "egress" ? "daddr" : "saddr";
  const mine = byName(policies).filter((p) => p[dir] !== undefined);
  const rules: CompiledRule[] = [];
  for (const p of mine) {
    for (const r of p[dir] as Rule[]) {
      for (const fam of FAMILIES) {
        const self = addrInSet(fam, selfSide, `${selectorSetBase(p.selector)}_${fam}`);
        for (const peer of peerMatches(r.peers, fam, peerSide))
          for (const port of portMatches(r.ports)) rules.push(rule([self, ...peer, ...port, counter(counterName("allow", p)), verdict("return")]));
      }
    }
  }
  for (const p of mine)
    for (const fam of FAMILIES) {
      const parts = [addrInSet(fam, selfSide, `${selectorSetBase(p.selector)}_${fam}`), counter(counterName("deny", p))];
      const prefix = `isola-policy ${dir} deny ${p.name}: `;
      if (p.log) parts.push(part(`log prefix "${prefix}"`, { log: { prefix } }));
      rules.push(rule(parts));
    }
  rules.push(rule([verdict("drop")]));
  return rules;
}

const MARK = "isola network policy";
const CONNTRACK = part("ct state established,related", match({ ct: { key: "state" } }, ["established", "related"], "in"));
// neighbour discovery must pass or IPv6 stops working for isolated containers
const ND_TYPES = ["nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-solicit", "nd-router-advert"];
const ND = part(`icmpv6 type { ${ND_TYPES.join(", ")} }`, match(payload("icmpv6", "type"), { set: ND_TYPES }));

/** Compiles the network's policies and containers into its table (undefined: no policy, no table). */
export function compileTable(network: string, policies: readonly Policy[], endpoints: readonly Endpoint[]): CompiledTable | undefined {
  const mine = policies.filter((p) => p.network === network);
  if (!mine.length) return undefined;
  const elements = new Map<string, Set<string>>();
  for (const ep of [...endpoints].sort((a, b) => (a.containerId + a.ifName < b.containerId + b.ifName ? -1 : 1)))
    for (const [set, addrs] of endpointElements(mine, ep)) {
      const s = elements.get(set) ?? new Set<string>();
      for (const a of addrs) s.add(a);
      elements.set(set, s);
    }
  const sets: CompiledSet[] = [];
  for (const base of [ISOLATED.ingress, ISOLATED.egress, ...selectorsOf(mine).keys()])
    for (const fam of FAMILIES) sets.push({ name: `${base}_${fam}`, type: fam === 4 ? "ipv4_addr" : "ipv6_addr", elements: [...(elements.get(`${base}_${fam}`) ?? [])] });
  const counters = byName(mine).flatMap((p) => [counterName("allow", p), counterName("deny", p)]);
  const accept = verdict("accept");
  const chains: CompiledChain[] = [
    { name: "forward", hook: "forward", rules: [rule([CONNTRACK, accept], `${MARK} ${network} gen @GEN@`), rule([ND, accept]), rule([toChain("jump", "egress")]), rule([toChain("jump", "ingress")])] },
    { name: "input", hook: "input", rules: [rule([CONNTRACK, accept]), rule([ND, accept]), rule([toChain("jump", "egress")])] },
    { name: "output", hook: "output", rules: [rule([CONNTRACK, accept]), rule([ND, accept]), rule([toChain("jump", "ingress")])] },
    { name: "egress", rules: FAMILIES.map((f) => rule([addrInSet(f, "saddr", `${ISOLATED.egress}_${f}`), toChain("goto", "egress_rules")])) },
    { name: "ingress", rules: FAMILIES.map((f) => rule([addrInSet(f, "daddr", `${ISOLATED.ingress}_${f}`), toChain("goto", "ingress_rules")])) },
    { name: "egress_rules", rules: directionRules(mine, "egress") },
    { name: "ingress_rules", rules: directionRules(mine, "ingress") },
  ];
  // the generation hashes the rules' text (with a placeholder for itself)
  const hashed = chains.map((c) => ({ name: c.name, hook: c.hook, rules: c.rules.map((r) => r.text) }));
  const generation = fnv64(JSON.stringify({ sets: sets.map((s) => s.name), counters, chains: hashed })).toString(16).padStart(16, "0");
  const first = chains[0]!.rules[0]!;
  first.text = first.text.replace("@GEN@", generation);
  first.comment = tableComment({ network, generation });
  return { network, name: tableName(network), generation, sets, counters, chains };
}

/** The comment (on the first forward rule) that marks the table with its generation; CHECK compares it. */
export function tableComment(t: Pick<CompiledTable, "network" | "generation">): string {
  return `${MARK} ${t.network} gen ${t.generation}`;
}

/**
 * One transaction that replaces the network's table with `t` (or removes it): declaring
 * the table first makes the delete safe when it does not exist yet. `counters`: the values
 * the named counters start from (read from the table being replaced).
 */
export function renderReplace(network: string, t: CompiledTable | undefined, counters: Readonly<Record<string, { packets: number; bytes: number }>> = {}): string {
  const T = `inet ${tableName(network)}`;
  const lines = [`table ${T}`, `delete table ${T}`];
  if (t) {
    lines.push(`table ${T} {`);
    for (const s of t.sets) lines.push(`  set ${s.name} { type ${s.type};${s.elements.length ? ` elements = { ${s.elements.join(", ")} };` : ""} }`);
    // counters of the table being replaced start from their values (a policy change keeps its stats)
    for (const c of t.counters) {
      const v = Object.hasOwn(counters, c) ? counters[c] : undefined;
      lines.push(v && (v.packets || v.bytes) ? `  counter ${c} { packets ${Math.trunc(v.packets)} bytes ${Math.trunc(v.bytes)} }` : `  counter ${c} { }`);
    }
    for (const c of t.chains) {
      lines.push(`  chain ${c.name} {`);
      if (c.hook) lines.push(`    type filter hook ${c.hook} priority filter; policy accept;`);
      for (const r of c.rules) lines.push(`    ${r.text}`);
      lines.push("  }");
    }
    lines.push("}");
  }
  return lines.join("\n") + "\n";
}

/** Set-element changes for one container joining ("add") or leaving ("delete"), as one transaction. */
export function renderElements(network: string, policies: readonly Policy[], ep: Endpoint, kind: "add" | "delete"): string {
  const mine = policies.filter((p) => p.network === network);
  if (!mine.length) return "";
  const lines: string[] = [];
  for (const [set, addrs] of endpointElements(mine, ep)) lines.push(`${kind} element inet ${tableName(network)} ${set} { ${addrs.join(", ")} }`);
  return lines.length ? lines.join("\n") + "\n" : "";
}
