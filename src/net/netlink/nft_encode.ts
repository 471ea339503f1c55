/**
 * nf_tables set-element changes as one netlink batch (what `nft add/create/delete element`
 * sends), so publishing a port does not pay for an `nft` process. Pure, golden-tested.
 */
import { familyWidth, parseAddr, parseCidr, prefixLast } from "../ip.ts";

/**
 * "expire": make an existing element (with exactly this data) expire now: the kernel stops
 * matching it within a jiffy and collects it later. Hosts without timeout updates (Linux
 * < 6.10, or the `nft` text path) turn it into add-exact + delete.
 */
export type ElemKind = "add" | "create" | "delete" | "expire";

/**
 * One field of a concatenated key or value. `cidr` is a prefix in an interval set (`flags
 * interval`), alone in its key: it goes to the kernel as two elements, the start and the end.
 */
export type Field = { proto: "tcp" | "udp" | "sctp" } | { port: number } | { ip: string } | { ifname: string } | { cidr: string };

export interface ElemOp {
  kind: ElemKind;
  table: string;
  set: string;
  key: Field[];
  data?: Field[];
  /** ms, for maps with `flags timeout`: the element's lifetime (netlink only; `nft` text omits it) */
  timeoutMs?: number;
  /** the element's comment (nft's `comment "..."`): who it belongs to; add/create only */
  comment?: string;
}

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFPROTO_INET = 1;
const NLA_F_NESTED = 0x8000;
const NFT_SET_ELEM_INTERVAL_END = 1;
const F = { REQUEST: 1, ACK: 4, EXCL: 0x200, CREATE: 0x400 } as const;
const PROTO = { tcp: 6, udp: 17, sctp: 132 } as const;
/** libnftnl's element user data: TLVs of u8 type, u8 length, value; type 0 is the comment */
const NFTNL_UDATA_SET_ELEM_COMMENT = 0;
const COMMENT_RE = /^[A-Za-z0-9_.:/-]{1,127}$/;

/** Each field in nft's register layout: big-endian, padded to 4 bytes. */
export function fieldBytes(f: Field): number[] {
  if ("proto" in f) return [PROTO[f.proto], 0, 0, 0];
  if ("port" in f) return [(f.port >> 8) & 255, f.port & 255, 0, 0];
  if ("ifname" in f) {
    const b = new Array<number>(16).fill(0);
    for (let i = 0; i < f.ifname.length && i < 15; i++) b[i] = f.ifname.charCodeAt(i);
    return b;
  }
  if ("cidr" in f) return intervalBounds(f.cidr).start;
  const a = parseAddr(f.ip);
  if (!a) throw new Error(`not an IP address: ${f.ip}`);
  return addrBytes(a.family, a.value);
}

function addrBytes(family: 4 | 6, value: bigint): number[] {
  const n = family === 4 ? 4 : 16;
  return Array.from({ length: n }, (_, i) => Number((value >> BigInt(8 * (n - 1 - i))) & 0xffn));
}

/**
 * A prefix as the kernel's interval sets hold it (as nft sends it): its first address, and
 * the address after its last marked as an interval end, none when the prefix reaches the
 * end of the address space.
 */
export function intervalBounds(cidr: string): { start: number[]; end: number[] | undefined } {
  const c = parseCidr(cidr);
  if (!c) throw new Error(`not a CIDR: ${cidr}`);
  const p = c.prefix;
  const next = prefixLast(p) + 1n;
  return { start: addrBytes(p.family, p.network), end: next >> BigInt(familyWidth(p.family)) ? undefined : addrBytes(p.family, next) };
}

class W {
  b: number[] = [];
  u8(v: number) {
    this.b.push(v & 255);
  }
  u16(v: number) {
    this.b.push(v & 255, (v >> 8) & 255);
  }
  be64(v: number) {
    const big = BigInt(v);
    for (let i = 7; i >= 0; i--) this.b.push(Number((big >> BigInt(i * 8)) & 0xffn));
  }
  be32(v: number) {
    this.b.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  }
  be16(v: number) {
    this.b.push((v >> 8) & 255, v & 255);
  }
  u32(v: number) {
    this.b.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  }
  set32(at: number, v: number) {
    this.b[at] = v & 255;
    this.b[at + 1] = (v >>> 8) & 255;
    this.b[at + 2] = (v >>> 16) & 255;
    this.b[at + 3] = (v >>> 24) & 255;
  }
  pad() {
    while (this.b.length % 4) this.b.push(0);
  }
  attr(type: number, fill: () => void) {
    const at = this.b.length;
    this.u16(0);
    this.u16(type);
    fill();
    const len = this.b.length - at;
    this.b[at] = len & 255;
    this.b[at + 1] = (len >> 8) & 255;
    this.pad();
  }
  str(s: string) {
    for (let i = 0; i < s.length; i++) this.b.push(s.charCodeAt(i));
    this.b.push(0);
  }
}

function msg(w: W, type: number, flags: number, seq: number, family: number, resId: number, body: () => void) {
  const at = w.b.length;
  w.u32(0);
  w.u16(type);
  w.u16(flags);
  w.u32(seq);
  w.u32(0);
  w.u8(family);
  w.u8(0);
  w.be16(resId);
  body();
  w.set32(at, w.b.length - at);
}

/**
 * One transaction: batch begin, one message per element op (each with ACK), batch end.
 * Returns the bytes and the sequence numbers that will be answered.
 */
export function encodeElemBatch(ops: readonly ElemOp[], seq0: number): { bytes: Uint8Array; seqs: number[] } {
  const w = new W();
  let seq = seq0;
  msg(w, NFNL_MSG_BATCH_BEGIN, F.REQUEST, seq++, 0, NFNL_SUBSYS_NFTABLES, () => {});
  const seqs: number[] = [];
  for (const o of ops) {
    const type = (NFNL_SUBSYS_NFTABLES << 8) | (o.kind === "delete" ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM);
    const flags = F.REQUEST | F.ACK | (o.kind === "delete" ? 0 : F.CREATE) | (o.kind === "create" ? F.EXCL : 0);
    const timeout = o.kind === "expire" ? 1 : o.timeoutMs;
    seqs.push(seq);
    msg(w, type, flags, seq++, NFPROTO_INET, 0, () => {
      w.attr(1, () => w.str(o.table)); // NFTA_SET_ELEM_LIST_TABLE
      w.attr(2, () => w.str(o.set)); // NFTA_SET_ELEM_LIST_SET
      // an interval (a cidr key) is two elements: its start, and its end flagged as such
      const cidr = o.key.length === 1 && "cidr" in o.key[0]! ? intervalBounds(o.key[0].cidr) : undefined;
      const elems: { key: number[]; flags: number }[] = cidr
        ? [{ key: cidr.start, flags: 0 }, ...(cidr.end ? [{ key: cidr.end, flags: NFT_SET_ELEM_INTERVAL_END }] : [])]
        : [{ key: o.key.flatMap(fieldBytes), flags: 0 }];
      if (!cidr && o.key.some((f) => "cidr" in f)) throw new Error(`${o.set}: a cidr must be the whole key`);
      w.attr(3 | NLA_F_NESTED, () => // NFTA_SET_ELEM_LIST_ELEMENTS
        elems.forEach((el) => w.attr(1 | NLA_F_NESTED, () => { // NFTA_LIST_ELEM
          w.attr(1 | NLA_F_NESTED, () => w.attr(1, () => w.b.push(...el.key))); // KEY / DATA_VALUE
          if (el.flags) w.attr(3, () => w.be32(el.flags)); // NFTA_SET_ELEM_FLAGS
          if (o.data && o.kind !== "delete") w.attr(2 | NLA_F_NESTED, () => w.attr(1, () => o.data!.forEach((f) => w.b.push(...fieldBytes(f))))); // DATA / DATA_VALUE
          if (timeout !== undefined && o.kind !== "delete") {
            w.attr(4, () => w.be64(timeout)); // NFTA_SET_ELEM_TIMEOUT
            w.attr(5, () => w.be64(timeout)); // NFTA_SET_ELEM_EXPIRATION
          }
          const c = commentOf(o);
          if (c !== undefined)
            w.attr(6, () => { // NFTA_SET_ELEM_USERDATA
              w.u8(NFTNL_UDATA_SET_ELEM_COMMENT);
              w.u8(c.length + 1);
              w.str(c);
            });
        })),
      );
    });
  }
  msg(w, NFNL_MSG_BATCH_END, F.REQUEST, seq++, 0, NFNL_SUBSYS_NFTABLES, () => {});
  return { bytes: Uint8Array.from(w.b), seqs };
}

/** The comment an op carries (new elements only), checked: it is written into `nft -f` text too. */
function commentOf(o: ElemOp): string | undefined {
  if (o.comment === undefined || (o.kind !== "add" && o.kind !== "create")) return undefined;
  if (!COMMENT_RE.test(o.comment)) throw new Error(`element comment ${JSON.stringify(o.comment)}: expected 1-127 letters, digits, "_", ".", ":", "/" or "-"`);
  return o.comment;
}

/** Without timeout updates: "expire" becomes add-exact (ownership check) + delete. */
export function withoutExpire(ops: readonly ElemOp[]): ElemOp[] {
  return ops.flatMap((o) => {
    if (o.kind !== "expire") return [o];
    const { data: _data, timeoutMs: _t, comment: _c, ...key } = o;
    return [{ ...o, kind: "add" as const }, { ...key, kind: "delete" as const }];
  });
}

/** The same ops as `nft -f` lines (the fallback, and readable goldens); timeouts are netlink-only. */
export function renderElemOps(ops: readonly ElemOp[]): string[] {
  const show = (fs: Field[]) =>
    fs.map((f) => ("proto" in f ? f.proto : "port" in f ? String(f.port) : "ip" in f ? f.ip : "cidr" in f ? f.cidr : `"${f.ifname}"`)).join(" . ");
  return withoutExpire(ops).map((o) => {
    const c = commentOf(o);
    const key = c === undefined ? show(o.key) : `${show(o.key)} comment "${c}"`;
    const elem = o.data && o.kind !== "delete" ? `${key} : ${show(o.data)}` : key;
    return `${o.kind} element inet ${o.table} ${o.set} { ${elem} }`;
  });
}
