/**
 * From `isola network create` options to a conflist: subnet choice among free ranges,
 * overlap and gateway checks, the plugin chain per driver. Pure.
 */
import { configError } from "./errors.ts";
import { cidrExpectation, familyWidth, formatAddr, formatPrefix, parseAddr, parseCidr, prefixContains, prefixesOverlap, prefixLast, type Prefix } from "./ip.ts";
import { fnv64 } from "./plugins/bridge_plan.ts";

export type Driver = "bridge" | "macvlan";

export interface NetworkOptions {
  name: string;
  driver?: Driver;
  subnets?: string[];
  gateways?: string[];
  ipv6?: boolean;
  mtu?: number;
  /** masquerade traffic leaving the network (NAT) */
  nat?: boolean;
  /** no default route, no NAT: containers reach only each other and the gateway */
  internal?: boolean;
  bridge?: string;
  /** macvlan: the host interface */
  parent?: string;
  labels?: Record<string, string>;
  /** more chained plugins (e.g. a policy plugin; they get `labels` if they declare the capability) */
  plugins?: Record<string, unknown>[];
  ipamDir?: string;
  /** enforce network policies: isola-policy in the chain, keeping its containers in `policyDir` */
  policy?: boolean;
  /** the policy store of the isola that creates the network (`<root>/policy`): dataDir of isola-policy */
  policyDir?: string;
}

/** What isola keeps about a network beside its plugin chain (key "isola" in the conflist). */
export interface NetworkMeta {
  driver: Driver;
  subnets: string[];
  gateways: string[];
  internal: boolean;
  nat: boolean;
  labels: Record<string, string>;
  created: string;
}

export interface ExistingNetwork {
  name: string;
  subnets: string[];
}

export const DEFAULT_NETWORK = "isola";
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** The bridge of a network: isola0 for the default one, else a stable name from the network name. */
export function bridgeNameFor(name: string): string {
  return name === DEFAULT_NETWORK ? "isola0" : `isbr${fnv64(`net/${name}`).toString(16).padStart(16, "0").slice(0, 8)}`;
}

/** Free IPv4 /16s in 10.88-10.254 (as podman's 10.88.0.0/16), then 172.16-31. */
function* v4Pool(): Generator<string> {
  for (let b = 88; b < 255; b++) yield `10.${b}.0.0/16`;
  for (let b = 16; b < 32; b++) yield `172.${b}.0.0/16`;
}

function v6For(name: string, taken: Prefix[]): string {
  for (let i = 0; i < 64; i++) {
    const h = fnv64(`v6/${name}/${i}`);
    const g = [Number((h >> 32n) & 0xffn), Number((h >> 16n) & 0xffffn), Number(h & 0xffffn)];
    const p = `fd${g[0]!.toString(16).padStart(2, "0")}:${g[1]!.toString(16)}:${g[2]!.toString(16)}::/64`;
    const pre = parseCidr(p)!.prefix;
    if (!taken.some((t) => prefixesOverlap(t, pre))) return p;
  }
  throw configError("--subnet", "no free IPv6 /64 found (give one with --subnet)");
}

export function planNetwork(o: NetworkOptions, existing: readonly ExistingNetwork[], hostRoutes: readonly Prefix[], now: string): Record<string, unknown> {
  if (!NAME_RE.test(o.name)) throw configError("name", `${JSON.stringify(o.name)} is not a network name (expected 1-63 letters, digits, "_", "." or "-", starting with a letter or digit)`);
  if (existing.some((n) => n.name === o.name)) throw configError("name", `network "${o.name}" already exists`);
  const driver = o.driver ?? "bridge";
  if (driver !== "bridge" && driver !== "macvlan") throw configError("--driver", `${JSON.stringify(driver)} is not a driver (expected bridge or macvlan)`);
  // flags the driver would accept and ignore
  if (driver === "macvlan") {
    if (o.nat) throw configError("--nat", "the macvlan driver cannot masquerade (its containers' traffic leaves through the parent interface, not through the host's routing); use --driver bridge");
    if (o.internal) throw configError("--internal", "the macvlan driver cannot keep its containers in (they share the parent interface's segment, the host's firewall never sees their traffic); use --driver bridge");
    if (o.bridge !== undefined) throw configError("--bridge", "only the bridge driver has a bridge (macvlan attaches to --parent)");
  } else if (o.parent !== undefined) throw configError("--parent", "only the macvlan driver has a parent interface (the bridge driver makes its own bridge)");
  if (o.nat && o.internal) throw configError("--nat", "conflicts with --internal (an internal network has no way out to masquerade)");
  const taken = existing.flatMap((n) => n.subnets.map((s) => ({ net: n.name, p: parseCidr(s)!.prefix })));
  const subnets: Prefix[] = [];
  (o.subnets ?? []).forEach((s, i) => {
    const c = parseCidr(s);
    if (!c) throw configError(`--subnet[${i}]`, `${JSON.stringify(s)} is not a CIDR (${cidrExpectation(s)})`);
    if (familyWidth(c.prefix.family) - c.prefix.bits < 2)
      throw configError(`--subnet[${i}]`, `${s} is too small (expected room for the gateway and a container: /${familyWidth(c.prefix.family) - 2} or larger)`);
    const clash = taken.find((t) => prefixesOverlap(t.p, c.prefix));
    if (clash) throw configError(`--subnet[${i}]`, `${s} overlaps network "${clash.net}" (${formatPrefix(clash.p)})`);
    const mine = subnets.find((p) => prefixesOverlap(p, c.prefix));
    if (mine) throw configError(`--subnet[${i}]`, `${s} overlaps ${formatPrefix(mine)} given before`);
    subnets.push(c.prefix);
  });
  if (!subnets.some((p) => p.family === 4) && !(o.subnets?.length && o.subnets.every((s) => s.includes(":")))) {
    const busy = [...taken.map((t) => t.p), ...hostRoutes.filter((r) => r.bits > 0)];
    let pick: string | undefined;
    for (const cand of v4Pool()) {
      const p = parseCidr(cand)!.prefix;
      if (!busy.some((b) => prefixesOverlap(b, p))) {
        pick = cand;
        break;
      }
    }
    if (!pick) throw configError("--subnet", "no free private IPv4 range left (give one with --subnet)");
    subnets.unshift(parseCidr(pick)!.prefix);
  }
  if (o.ipv6 && !subnets.some((p) => p.family === 6)) subnets.push(parseCidr(v6For(o.name, taken.map((t) => t.p)))!.prefix);
  const gateways: string[] = [];
  const gatewayOf = new Map<Prefix, number>();
  (o.gateways ?? []).forEach((g, i) => {
    const a = parseAddr(g);
    if (!a) throw configError(`--gateway[${i}]`, `${JSON.stringify(g)} is not an IP address`);
    const sub = subnets.find((p) => prefixContains(p, a));
    if (!sub) throw configError(`--gateway[${i}]`, `${g} is outside the subnets ${subnets.map(formatPrefix).join(", ")}`);
    if (a.value === sub.network) throw configError(`--gateway[${i}]`, `${g} is the network address of ${formatPrefix(sub)} (expected an address a host can have)`);
    if (sub.family === 4 && a.value === prefixLast(sub)) throw configError(`--gateway[${i}]`, `${g} is the broadcast address of ${formatPrefix(sub)} (expected an address a host can have)`);
    const other = gatewayOf.get(sub);
    if (other !== undefined) throw configError(`--gateway[${i}]`, `${g} is a second gateway for ${formatPrefix(sub)} (--gateway[${other}] is one)`);
    gatewayOf.set(sub, i);
  });
  const ranges = subnets.map((p) => {
    const r: Record<string, string> = { subnet: formatPrefix(p) };
    const gw = (o.gateways ?? []).find((g) => prefixContains(p, parseAddr(g)!));
    r.gateway = gw ?? formatAddr({ family: p.family, value: p.network + 1n });
    gateways.push(r.gateway);
    return [r];
  });
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535)) throw configError("--mtu", `${o.mtu} is not an MTU (expected 68-65535)`);
  const internal = o.internal ?? false;
  const nat = o.nat ?? false;
  const ipam: Record<string, unknown> = { type: "isola-ipam", ranges };
  if (o.ipamDir) ipam.dataDir = o.ipamDir;
  const plugins: Record<string, unknown>[] = [];
  if (driver === "bridge") {
    const bridge = o.bridge ?? bridgeNameFor(o.name);
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) throw configError("--bridge", `${JSON.stringify(bridge)} is not an interface name (expected 1-15 letters, digits, "_", "." or "-")`);
    const p: Record<string, unknown> = { type: "isola-bridge", bridge, isGateway: true, isDefaultGateway: !internal, ipMasq: nat, hairpinMode: true, capabilities: { ips: true, mac: true }, ipam };
    if (internal) p.internal = true; // the host's firewall keeps it in, whatever routes a container adds
    if (o.mtu) p.mtu = o.mtu;
    plugins.push(p);
    if (!internal) plugins.push({ type: "isola-portmap", capabilities: { portMappings: true } });
  } else {
    if (!o.parent) throw configError("--parent", "missing (macvlan needs the host interface to attach to)");
    const p: Record<string, unknown> = { type: "macvlan", master: o.parent, mode: "bridge", ipam };
    if (o.mtu) p.mtu = o.mtu;
    plugins.push(p);
  }
  if (o.policy) {
    if (driver !== "bridge") throw configError("--policy", `the ${driver} driver cannot enforce policies (traffic between its containers never passes the host's netfilter); use --driver bridge`);
    if (!o.policyDir) throw configError("--policy", "no policy store directory to give isola-policy");
    plugins.push({ type: "isola-policy", capabilities: { labels: true }, dataDir: o.policyDir });
  }
  (o.plugins ?? []).forEach((p, i) => {
    if (typeof p !== "object" || p === null || typeof p.type !== "string") throw configError(`--plugin[${i}]`, "expected a JSON plugin configuration with a \"type\"");
    if (p.type === "isola-policy" && o.policy) throw configError(`--plugin[${i}]`, "isola-policy is in the chain already (--policy)");
    // without a dataDir the plugin would keep its containers where `isola policy` does not look
    plugins.push(p.type === "isola-policy" && p.dataDir === undefined && o.policyDir ? { ...p, dataDir: o.policyDir } : p);
  });
  const meta: NetworkMeta = { driver, subnets: subnets.map(formatPrefix), gateways, internal, nat, labels: o.labels ?? {}, created: now };
  return { cniVersion: "1.1.0", name: o.name, plugins, isola: meta };
}
