/**
 * The nftables table `inet isola_nat` shared by isola's plugins: port publishing (DNAT
 * from maps keyed by protocol and port, so publishing a port adds a map element and never
 * a rule), hairpin and loopback access, and masquerading of networks that ask for NAT.
 * Pure: builds `nft -f` scripts; every change is one transaction.
 */
import { familyWidth, parseAddr, parseCidr, type Family } from "../ip.ts";
import { renderElemOps, type ElemKind, type ElemOp, type Field } from "../netlink/nft_encode.ts";
import { hostVethName } from "./bridge_plan.ts";

export const NAT_TABLE = "isola_nat";

/** One published port, resolved to a container address. */
export interface PortRule {
  protocol: "tcp" | "udp" | "sctp";
  hostPort: number;
  /** undefined: every local address of the host */
  hostIP?: string;
  containerIP: string;
  containerPort: number;
}

const T = `inet ${NAT_TABLE}`;
/** conntrack mark bit for connections that entered from an isola bridge */
const HAIRPIN_MARK = "0x2000";

/**
 * Declares the table, maps, sets and chains (idempotent `add`), then replaces the rules
 * of the base chains (flush + add inside the same transaction, so it never duplicates).
 */
export function natBase(): string[] {
  const lines = [
    `add table ${T}`,
    `add map ${T} ports4 { type inet_proto . inet_service : ipv4_addr . inet_service; flags timeout; }`,
    `add map ${T} hostports4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; flags timeout; }`,
    `add map ${T} ports6 { type inet_proto . inet_service : ipv6_addr . inet_service; flags timeout; }`,
    `add map ${T} hostports6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; flags timeout; }`,
    `add set ${T} bridges { type ifname; }`,
    `add set ${T} masq4 { type ipv4_addr; flags interval; }`,
    `add set ${T} masq6 { type ipv6_addr; flags interval; }`,
    `add chain ${T} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain ${T} output { type nat hook output priority -100; policy accept; }`,
    `add chain ${T} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add chain ${T} publish`,
    `flush chain ${T} prerouting`,
    `flush chain ${T} output`,
    `flush chain ${T} postrouting`,
    `flush chain ${T} publish`,
    `add rule ${T} prerouting fib daddr type local jump publish`,
    `add rule ${T} output fib daddr type local jump publish`,
    // remember "came in from a container" for hairpin (iifname is unknown in postrouting)
    `add rule ${T} publish iifname @bridges ct mark set ct mark or ${HAIRPIN_MARK}`,
    `add rule ${T} publish meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @hostports4`,
    `add rule ${T} publish meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4`,
    `add rule ${T} publish meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @hostports6`,
    `add rule ${T} publish meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @ports6`,
    // loopback access (127.0.0.1:hostPort) needs a source the container can answer
    `add rule ${T} postrouting ct status dnat ip saddr 127.0.0.0/8 masquerade`,
    // hairpin: a container reaching a published port of its own network
    `add rule ${T} postrouting ct status dnat ct mark and ${HAIRPIN_MARK} == ${HAIRPIN_MARK} oifname @bridges masquerade`,
    `add rule ${T} postrouting ip saddr @masq4 ip daddr != @masq4 masquerade`,
    `add rule ${T} postrouting ip6 saddr @masq6 ip6 daddr != @masq6 masquerade`,
  ];
  return lines;
}

function familyOf(ip: string): Family {
  return parseAddr(ip)?.family ?? 4;
}

function elem(r: PortRule, kind: ElemKind): ElemOp {
  const fam = familyOf(r.containerIP);
  const key: Field[] = [{ proto: r.protocol }, { port: r.hostPort }];
  const op: ElemOp = r.hostIP
    ? { kind, table: NAT_TABLE, set: `hostports${fam}`, key: [{ ip: r.hostIP }, ...key] }
    : { kind, table: NAT_TABLE, set: `ports${fam}`, key };
  if (kind !== "delete") op.data = [{ ip: r.containerIP }, { port: r.containerPort }];
  return op;
}

/** A published port's element lifetime: practically forever (2^40 ms, about 35 years). */
export const PUBLISHED_MS = 2 ** 40;

/**
 * The comment on an attachment's port elements, so DEL finds them without prevResult: the
 * attachment's host veth name (a hash of containerId/ifName; safe in `nft -f` text).
 */
export function ownerTag(containerId: string, ifName: string): string {
  return hostVethName(containerId, ifName);
}

/** `create` fails when the host port is already published: that is the conflict check. */
export function publishOps(rules: readonly PortRule[], owner?: string): ElemOp[] {
  return rules.map((r) => ({ ...elem(r, "create"), timeoutMs: PUBLISHED_MS, ...(owner ? { comment: owner } : {}) }));
}

const PORT_MAPS = ["ports4", "ports6", "hostports4", "hostports6"];

/**
 * From `nft -j list table inet isola_nat`: "expire" ops for every port element whose
 * comment is `owner` (each with its exact data, so only those elements go).
 */
export function ownedElements(listing: unknown, owner: string): ElemOp[] {
  const out: ElemOp[] = [];
  const items = (listing as { nftables?: unknown[] } | undefined)?.nftables ?? [];
  const field = (v: unknown): Field | undefined => {
    if (typeof v === "number") return { port: v };
    if (v === "tcp" || v === "udp" || v === "sctp") return { proto: v };
    return typeof v === "string" && parseAddr(v) ? { ip: v } : undefined;
  };
  const fields = (c: unknown): Field[] | undefined => {
    const list = (c as { concat?: unknown[] } | undefined)?.concat;
    if (!Array.isArray(list)) return undefined;
    const fs = list.map(field);
    return fs.every((f) => f !== undefined) ? (fs as Field[]) : undefined;
  };
  for (const item of items) {
    const map = (item as { map?: { table?: string; name?: string; elem?: unknown[] } }).map;
    if (!map || map.table !== NAT_TABLE || !PORT_MAPS.includes(map.name ?? "")) continue;
    for (const pair of map.elem ?? []) {
      if (!Array.isArray(pair) || pair.length !== 2) continue;
      const e = (pair[0] as { elem?: { val?: unknown; comment?: unknown } }).elem;
      if (e?.comment !== owner) continue;
      const key = fields(e.val);
      const data = fields(pair[1]);
      if (key && data) out.push({ kind: "expire", table: NAT_TABLE, set: map.name!, key, data });
    }
  }
  return out;
}

/**
 * Removes our own elements only: updating the exact element fails if the key now maps
 * elsewhere (someone else's), which aborts the transaction instead of removing theirs.
 * "expire" costs ~0.2 ms where a delete commit costs ~10 ms (see ElemKind).
 */
export function unpublishOps(rules: readonly PortRule[]): ElemOp[] {
  return rules.map((r) => elem(r, "expire"));
}

export function bridgeOps(bridge: string): ElemOp[] {
  return [{ kind: "add", table: NAT_TABLE, set: "bridges", key: [{ ifname: bridge }] }];
}

/** A NAT network's subnets in masq4/masq6 (interval sets: each prefix is a start and an end). */
export function masqOps(subnets: readonly string[]): ElemOp[] {
  return subnets.map((s) => ({ kind: "add", table: NAT_TABLE, set: `masq${s.includes(":") ? 6 : 4}`, key: [{ cidr: s }] }));
}

export function masqLines(subnets: readonly string[]): string[] {
  return renderElemOps(masqOps(subnets));
}

/**
 * What keeps a NAT bridge's traffic masqueraded, checked in `nft -j list table inet isola_nat`
 * (CHECK): the bridge in `bridges`, each subnet in masq4/6 and the postrouting rule that
 * masquerades that set. One line per thing missing.
 */
export function natProblems(listing: unknown, bridge: string, subnets: readonly string[]): string[] {
  const items = (listing as { nftables?: Record<string, unknown>[] } | undefined)?.nftables ?? [];
  const sets = new Map<string, unknown[]>();
  const postrouting: string[] = [];
  for (const item of items) {
    const set = item.set as { table?: string; name?: string; elem?: unknown[] } | undefined;
    if (set?.table === NAT_TABLE && set.name) sets.set(set.name, set.elem ?? []);
    const rule = item.rule as { table?: string; chain?: string; expr?: unknown[] } | undefined;
    if (rule?.table === NAT_TABLE && rule.chain === "postrouting") postrouting.push(JSON.stringify(rule.expr ?? []));
  }
  if (!items.some((i) => (i.table as { name?: string } | undefined)?.name === NAT_TABLE)) return [`table inet ${NAT_TABLE} is missing`];
  const out: string[] = [];
  if (!(sets.get("bridges") ?? []).includes(bridge)) out.push(`bridge ${bridge} is not in set inet ${NAT_TABLE} bridges`);
  for (const s of subnets) {
    const fam = s.includes(":") ? 6 : 4;
    const c = parseCidr(s)!;
    const listed = (sets.get(`masq${fam}`) ?? []).some((e) => {
      const p = (e as { prefix?: { addr?: string; len?: number } }).prefix;
      const a = p?.addr !== undefined ? parseAddr(p.addr) : typeof e === "string" ? parseAddr(e) : undefined;
      return a !== undefined && a.value === c.prefix.network && (p?.len ?? familyWidth(a.family)) === c.prefix.bits;
    });
    if (!listed) out.push(`subnet ${s} is not in set inet ${NAT_TABLE} masq${fam}`);
    if (!postrouting.some((r) => r.includes(`"@masq${fam}"`) && r.includes('"masquerade"'))) out.push(`chain inet ${NAT_TABLE} postrouting has no rule masquerading @masq${fam}`);
  }
  return [...new Set(out)];
}

/** How `nft list map` shows a published port (for CHECK): key, timeout details and comment, value. */
export function listedElement(r: PortRule): RegExp {
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const key = r.hostIP ? `${r.hostIP} . ${r.protocol} . ${r.hostPort}` : `${r.protocol} . ${r.hostPort}`;
  return new RegExp(`(^|[{,]\\s*)${esc(key)}( (timeout|expires|comment) [^:,]*)? : ${esc(`${r.containerIP} . ${r.containerPort}`)}($|[,\\s}])`, "m");
}
