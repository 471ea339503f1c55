/**
 * rtnetlink message encoding for LinkOps (links, veth pairs, bridge ports, addresses,
 * routes) and decoding of replies. Pure: golden-tested byte for byte.
 */
import { parseAddr, parseCidr } from "../ip.ts";
import type { LinkOp } from "../linkops.ts";

export const RTM = { NEWLINK: 16, DELLINK: 17, GETLINK: 18, NEWADDR: 20, NEWROUTE: 24 } as const;
export const NLM_F = { REQUEST: 1, ACK: 4, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const;
export const NLMSG_ERROR = 2;
const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, MASTER: 10, LINKINFO: 18, NET_NS_FD: 28 } as const;
const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_MODE = 4;
const IFA = { ADDRESS: 1, LOCAL: 2, FLAGS: 8 } as const;
const IFA_F_NODAD = 0x02;
const RTA = { DST: 1, OIF: 4, GATEWAY: 5 } as const;
const IFF_UP = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/** Little-endian byte builder. */
class Bytes {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  len = 0;
  private grow(n: number) {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf);
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  u8(v: number) {
    this.grow(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
    return this;
  }
  u16(v: number) {
    this.grow(2);
    this.view.setUint16(this.len, v, true);
    this.len += 2;
    return this;
  }
  u32(v: number) {
    this.grow(4);
    this.view.setUint32(this.len, v >>> 0, true);
    this.len += 4;
    return this;
  }
  i32(v: number) {
    this.grow(4);
    this.view.setInt32(this.len, v, true);
    this.len += 4;
    return this;
  }
  raw(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  pad() {
    while (this.len % 4) this.u8(0);
    return this;
  }
  patch16(at: number, v: number) {
    this.view.setUint16(at, v, true);
  }
  patch32(at: number, v: number) {
    this.view.setUint32(at, v, true);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
  /** rtattr around what `fill` writes */
  attr(type: number, fill: (b: Bytes) => void) {
    const at = this.len;
    this.u16(0).u16(type);
    fill(this);
    this.patch16(at, this.len - at);
    this.pad();
    return this;
  }
}

const enc = new TextEncoder();
const str = (s: string) => (b: Bytes) => b.raw(enc.encode(s)).u8(0);
const u32 = (v: number) => (b: Bytes) => b.u32(v);
const mac = (m: string) => (b: Bytes) => b.raw(Uint8Array.from(m.split(":").map((x) => parseInt(x, 16))));

function addrBytes(text: string): { family: number; bytes: Uint8Array } {
  const a = parseAddr(text);
  if (!a) throw new Error(`not an IP address: ${text}`);
  const n = a.family === 4 ? 4 : 16;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((a.value >> BigInt(8 * (n - 1 - i))) & 0xffn);
  return { family: a.family === 4 ? AF_INET : AF_INET6, bytes: out };
}

function header(b: Bytes, type: number, flags: number, seq: number) {
  b.u32(0).u16(type).u16(flags | NLM_F.REQUEST | NLM_F.ACK).u32(seq).u32(0);
}

function ifinfo(b: Bytes, index: number, flags: number, change: number) {
  b.u8(0).u8(0).u16(0).i32(index).u32(flags).u32(change);
}

function finish(b: Bytes): Uint8Array {
  b.patch32(0, b.len);
  return b.bytes();
}

/** Where an op needs an interface index or a namespace fd, the caller resolves it first. */
export interface Resolve {
  index(dev: string): number;
  netnsFd(path: string): number;
}

/** Encodes one op as one rtnetlink request with NLM_F_ACK. */
export function encodeOp(o: LinkOp, seq: number, r: Resolve): Uint8Array {
  const b = new Bytes();
  switch (o.op) {
    case "bridge-add":
      header(b, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, seq);
      ifinfo(b, 0, 0, 0);
      b.attr(IFLA.IFNAME, str(o.name)).attr(IFLA.ADDRESS, mac(o.mac));
      if (o.mtu) b.attr(IFLA.MTU, u32(o.mtu));
      b.attr(IFLA.LINKINFO, (x) => x.attr(IFLA_INFO.KIND, str("bridge")));
      return finish(b);
    case "veth-add":
      header(b, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, seq);
      ifinfo(b, 0, IFF_UP, IFF_UP);
      b.attr(IFLA.IFNAME, str(o.name)).attr(IFLA.ADDRESS, mac(o.mac));
      if (o.mtu) b.attr(IFLA.MTU, u32(o.mtu));
      b.attr(IFLA.MASTER, u32(r.index(o.master)));
      b.attr(IFLA.LINKINFO, (li) =>
        li.attr(IFLA_INFO.KIND, str("veth")).attr(IFLA_INFO.DATA, (d) =>
          d.attr(VETH_INFO_PEER, (p) => {
            ifinfo(p, 0, 0, 0);
            p.attr(IFLA.IFNAME, str(o.peer)).attr(IFLA.ADDRESS, mac(o.peerMac));
            if (o.mtu) p.attr(IFLA.MTU, u32(o.mtu));
            p.attr(IFLA.NET_NS_FD, u32(r.netnsFd(o.peerNetns)));
          }),
        ),
      );
      return finish(b);
    case "hairpin":
      header(b, RTM.NEWLINK, 0, seq);
      ifinfo(b, r.index(o.dev), 0, 0);
      b.attr(IFLA.LINKINFO, (li) => li.attr(IFLA_INFO.SLAVE_KIND, str("bridge")).attr(IFLA_INFO.SLAVE_DATA, (d) => d.attr(IFLA_BRPORT_MODE, (x) => x.u8(1))));
      return finish(b);
    case "link-up":
      header(b, RTM.NEWLINK, 0, seq);
      ifinfo(b, r.index(o.dev), IFF_UP, IFF_UP);
      return finish(b);
    case "link-down":
      header(b, RTM.NEWLINK, 0, seq);
      ifinfo(b, r.index(o.dev), 0, IFF_UP);
      return finish(b);
    case "link-rename":
      header(b, RTM.NEWLINK, 0, seq);
      ifinfo(b, r.index(o.dev), 0, 0);
      b.attr(IFLA.IFNAME, str(o.name));
      return finish(b);
    case "link-del":
      header(b, RTM.DELLINK, 0, seq);
      ifinfo(b, 0, 0, 0);
      b.attr(IFLA.IFNAME, str(o.dev));
      return finish(b);
    case "addr-add": {
      const c = parseCidr(o.cidr)!;
      const a = addrBytes(o.cidr.slice(0, o.cidr.indexOf("/")));
      header(b, RTM.NEWADDR, NLM_F.CREATE | (o.replace ? NLM_F.REPLACE : NLM_F.EXCL), seq);
      b.u8(a.family).u8(c.prefix.bits).u8(0).u8(0).u32(r.index(o.dev));
      b.attr(IFA.LOCAL, (x) => x.raw(a.bytes)).attr(IFA.ADDRESS, (x) => x.raw(a.bytes));
      if (a.family === AF_INET6) b.attr(IFA.FLAGS, u32(IFA_F_NODAD));
      return finish(b);
    }
    case "route-add": {
      const c = parseCidr(o.dst)!;
      const gw = addrBytes(o.gw);
      const dst = addrBytes(o.dst.slice(0, o.dst.indexOf("/")));
      header(b, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, seq);
      // family, dst_len, src_len, tos, table main, protocol boot, scope universe, type unicast, flags
      b.u8(gw.family).u8(c.prefix.bits).u8(0).u8(0).u8(254).u8(3).u8(0).u8(1).u32(0);
      if (c.prefix.bits > 0) b.attr(RTA.DST, (x) => x.raw(dst.bytes));
      b.attr(RTA.GATEWAY, (x) => x.raw(gw.bytes)).attr(RTA.OIF, u32(r.index(o.dev)));
      return finish(b);
    }
  }
}

/** RTM_GETLINK for one interface by name. */
export function encodeGetLink(name: string, seq: number): Uint8Array {
  const b = new Bytes();
  b.u32(0).u16(RTM.GETLINK).u16(NLM_F.REQUEST).u32(seq).u32(0);
  ifinfo(b, 0, 0, 0);
  b.attr(IFLA.IFNAME, str(name));
  return finish(b);
}

export interface Reply {
  type: number;
  seq: number;
  /** NLMSG_ERROR: 0 for an ACK, else a negative errno */
  error?: number;
  /** RTM_NEWLINK reply: the interface index */
  index?: number;
}

/** Splits a datagram of netlink messages into replies. */
export function decodeReplies(buf: Uint8Array): Reply[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Reply[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = v.getUint32(off, true);
    if (len < 16) break;
    const type = v.getUint16(off + 4, true);
    const seq = v.getUint32(off + 8, true);
    const r: Reply = { type, seq };
    if (type === NLMSG_ERROR) r.error = v.getInt32(off + 16, true);
    if (type === RTM.NEWLINK) r.index = v.getInt32(off + 16 + 4, true);
    out.push(r);
    off += (len + 3) & ~3;
  }
  return out;
}
