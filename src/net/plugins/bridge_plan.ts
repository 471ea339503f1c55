/**
 * What isola-bridge asks of the kernel, as LinkOps: one batch in the host's namespace and
 * one in the container's. Pure, golden-tested.
 */
import { formatPrefix, parseCidr } from "../ip.ts";
import type { LinkOp } from "../linkops.ts";
import type { IpConfig, Route } from "../types.ts";

export interface BridgeConf {
  bridge: string;
  mtu?: number;
  isGateway: boolean;
  isDefaultGateway: boolean;
  ipMasq: boolean;
  hairpinMode: boolean;
  /** the host forwards nothing between this bridge and other interfaces (filter_ruleset.ts) */
  internal?: boolean;
}

export interface VethPlan {
  hostVeth: string;
  hostMac: string;
  containerMac: string;
  ifName: string;
  netns: string;
}

/** FNV-1a 64: stable short names from ids, no crypto needed. */
export function fnv64(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/** The host-side veth name of an attachment: deterministic, so DEL needs no lookup. */
export function hostVethName(containerId: string, ifName: string): string {
  return `isv${fnv64(`${containerId}/${ifName}`).toString(16).padStart(16, "0").slice(0, 12)}`;
}

/** A locally administered unicast MAC from 5 bytes. */
export function macFrom(bytes: ArrayLike<number>): string {
  const b = [0x02, ...Array.from({ length: 5 }, (_, i) => bytes[i] ?? 0)];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Creates the bridge with its gateway addresses (idempotent after the first op; run with force). */
export function bridgeOps(conf: BridgeConf, gateways: readonly IpConfig[], bridgeMac: string): LinkOp[] {
  const ops: LinkOp[] = [{ op: "bridge-add", name: conf.bridge, mac: bridgeMac, ...(conf.mtu ? { mtu: conf.mtu } : {}) }];
  if (conf.isGateway) {
    for (const ip of gateways) {
      if (!ip.gateway) continue;
      const bits = ip.address.slice(ip.address.indexOf("/"));
      ops.push({ op: "addr-add", dev: conf.bridge, cidr: `${ip.gateway}${bits}`, replace: true });
    }
  }
  ops.push({ op: "link-up", dev: conf.bridge });
  return ops;
}

/** Host side: the veth pair, its container end created straight in the container's namespace. */
export function hostOps(conf: BridgeConf, v: VethPlan, stale: boolean): LinkOp[] {
  const ops: LinkOp[] = [];
  if (stale) ops.push({ op: "link-del", dev: v.hostVeth });
  ops.push({ op: "veth-add", name: v.hostVeth, mac: v.hostMac, master: conf.bridge, peer: v.ifName, peerMac: v.containerMac, peerNetns: v.netns, ...(conf.mtu ? { mtu: conf.mtu } : {}) });
  if (conf.hairpinMode) ops.push({ op: "hairpin", dev: v.hostVeth });
  return ops;
}

/** Container side: link up, addresses, default route via the gateway, IPAM routes. */
export function containerOps(conf: BridgeConf, ifName: string, ips: readonly IpConfig[], routes: readonly Route[]): LinkOp[] {
  const ops: LinkOp[] = [{ op: "link-up", dev: ifName }];
  for (const ip of ips) ops.push({ op: "addr-add", dev: ifName, cidr: ip.address });
  const gw4 = ips.find((i) => i.gateway && !i.gateway.includes(":"))?.gateway;
  const gw6 = ips.find((i) => i.gateway?.includes(":"))?.gateway;
  if (conf.isGateway && conf.isDefaultGateway) {
    if (gw4) ops.push({ op: "route-add", dev: ifName, dst: "0.0.0.0/0", gw: gw4 });
    if (gw6) ops.push({ op: "route-add", dev: ifName, dst: "::/0", gw: gw6 });
  }
  for (const r of routes) {
    const six = r.dst.includes(":");
    const defaultRoute = r.dst === "0.0.0.0/0" || r.dst === "::/0";
    if (defaultRoute && conf.isGateway && conf.isDefaultGateway) continue;
    const gw = r.gw ?? (six ? gw6 : gw4);
    if (!gw || !parseCidr(r.dst)) continue;
    ops.push({ op: "route-add", dev: ifName, dst: r.dst, gw });
  }
  return ops;
}

/** Subnets of the assigned addresses, for NAT ("10.88.0.0/16"). */
export function subnetsOf(ips: readonly IpConfig[]): string[] {
  return ips.map((i) => formatPrefix(parseCidr(i.address)!.prefix));
}
