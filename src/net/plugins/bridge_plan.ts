/**
 * What isola-bridge asks of the kernel, as iproute2 batch lines: one batch in the host's
 * namespace and one in the container's. Pure, golden-tested.
 */
import { formatPrefix, parseCidr } from "../ip.ts";
import type { IpConfig, Route } from "../types.ts";

export interface BridgeConf {
  bridge: string;
  mtu?: number;
  isGateway: boolean;
  isDefaultGateway: boolean;
  ipMasq: boolean;
  hairpinMode: boolean;
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

/** Creates the bridge with its gateway addresses (idempotent lines, run with -force). */
export function bridgeLines(conf: BridgeConf, gateways: readonly IpConfig[], bridgeMac: string): string[] {
  const mtu = conf.mtu ? ` mtu ${conf.mtu}` : "";
  const lines = [`link add ${conf.bridge} address ${bridgeMac}${mtu} type bridge`];
  if (conf.isGateway) {
    for (const ip of gateways) {
      if (!ip.gateway) continue;
      const bits = ip.address.slice(ip.address.indexOf("/"));
      lines.push(`address replace ${ip.gateway}${bits} dev ${conf.bridge}${ip.gateway.includes(":") ? " nodad" : ""}`);
    }
  }
  lines.push(`link set ${conf.bridge} up`);
  return lines;
}

/** Host side: the veth pair, its container end moved straight into the container's namespace. */
export function hostLines(conf: BridgeConf, v: VethPlan, stale: boolean): string[] {
  const mtu = conf.mtu ? ` mtu ${conf.mtu}` : "";
  const lines: string[] = [];
  if (stale) lines.push(`link del ${v.hostVeth}`);
  lines.push(`link add ${v.hostVeth} address ${v.hostMac}${mtu} master ${conf.bridge} up type veth peer name ${v.ifName} address ${v.containerMac}${mtu} netns ${v.netns}`);
  if (conf.hairpinMode) lines.push(`link set ${v.hostVeth} type bridge_slave hairpin on`);
  return lines;
}

/** Container side: addresses, link up, default route via the gateway, IPAM routes. */
export function containerLines(conf: BridgeConf, ifName: string, ips: readonly IpConfig[], routes: readonly Route[]): string[] {
  const lines = [`link set ${ifName} up`];
  for (const ip of ips) lines.push(`address add ${ip.address} dev ${ifName}${ip.address.includes(":") ? " nodad" : ""}`);
  const gw4 = ips.find((i) => i.gateway && !i.gateway.includes(":"))?.gateway;
  const gw6 = ips.find((i) => i.gateway?.includes(":"))?.gateway;
  if (conf.isGateway && conf.isDefaultGateway) {
    if (gw4) lines.push(`route add 0.0.0.0/0 via ${gw4} dev ${ifName}`);
    if (gw6) lines.push(`route add ::/0 via ${gw6} dev ${ifName}`);
  }
  for (const r of routes) {
    const six = r.dst.includes(":");
    const defaultRoute = r.dst === "0.0.0.0/0" || r.dst === "::/0";
    if (defaultRoute && conf.isGateway && conf.isDefaultGateway) continue;
    const gw = r.gw ?? (six ? gw6 : gw4);
    if (!gw || !parseCidr(r.dst)) continue;
    lines.push(`route add ${r.dst} via ${gw} dev ${ifName}`);
  }
  return lines;
}

/** Subnets of the assigned addresses, for NAT ("10.88.0.0/16"). */
export function subnetsOf(ips: readonly IpConfig[]): string[] {
  return ips.map((i) => formatPrefix(parseCidr(i.address)!.prefix));
}
