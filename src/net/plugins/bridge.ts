/**
 * isola-bridge: a Linux bridge with a veth per container, addresses from a delegated IPAM
 * plugin (isola-ipam in-process, any other by exec), NAT on request. Two `ip -batch`
 * runs per ADD (host side, container side), one `ip` run per DEL.
 */
import { stat } from "node:fs/promises";
import { macProblem } from "../attachment.ts";
import { CniError, configError, ErrorCode } from "../errors.ts";
import { netHost, type NetHost } from "../host.ts";
import type { InProcessPlugin, PluginCall, PluginInvoker } from "../plugin.ts";
import type { IpConfig, PluginConf, Result } from "../types.ts";
import { SUPPORTED_VERSIONS } from "../version.ts";
import { bridgeOps, containerOps, fnv64, hostOps, hostVethName, macFrom, subnetsOf, type BridgeConf } from "./bridge_plan.ts";
import * as nat from "./nat_ruleset.ts";
import { FILTER_TABLE, filterBase, internalLines, internalOps, listsInternal } from "./filter_ruleset.ts";
import { renderElemOps } from "../netlink/nft_encode.ts";

export const DEFAULT_BRIDGE = "isola0";

export function bridgeConf(c: PluginConf): BridgeConf {
  const bool = (k: string, dflt: boolean): boolean => {
    const v = c[k];
    if (v === undefined) return dflt;
    if (typeof v !== "boolean") throw configError(k, `expected true or false, found ${JSON.stringify(v)}`);
    return v;
  };
  const bridge = c.bridge === undefined ? DEFAULT_BRIDGE : c.bridge;
  if (typeof bridge !== "string" || !/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge))
    throw configError("bridge", `${JSON.stringify(bridge)} is not an interface name (expected 1-15 letters, digits, "_", "." or "-")`);
  const conf: BridgeConf = {
    bridge,
    isGateway: bool("isGateway", true),
    isDefaultGateway: bool("isDefaultGateway", true),
    ipMasq: bool("ipMasq", false),
    hairpinMode: bool("hairpinMode", true),
  };
  if (bool("internal", false)) {
    if (conf.ipMasq) throw configError("internal", "true conflicts with ipMasq: true (an internal network has no way out to masquerade)");
    conf.internal = true;
  }
  if (c.mtu !== undefined) {
    if (!Number.isInteger(c.mtu) || (c.mtu as number) < 68) throw configError("mtu", `${JSON.stringify(c.mtu)} is not an MTU (expected an integer 68-65535)`);
    conf.mtu = c.mtu as number;
  }
  return conf;
}

function bridgeMac(name: string): string {
  const h = fnv64(`bridge/${name}`);
  return macFrom(Array.from({ length: 5 }, (_, i) => Number((h >> BigInt(i * 8)) & 0xffn)));
}

function randomMac(): string {
  return macFrom(crypto.getRandomValues(new Uint8Array(5)));
}

/** A pair DEL has taken out of service: renamed to isz + 12 hex digits, deleted in the background. */
const TRASH_RE = /^isz[0-9a-f]{12}$/;

function trashName(): string {
  return `isz${Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// Concurrent ADDs in this process create the bridge once.
const ensuring = new Map<string, Promise<void>>();

/**
 * Whether one link exists, asked of the kernel for that link alone. host.links() reads
 * /proc/net/dev, whose pages can miss a link while others are renamed or deleted (concurrent
 * DELs): its "yes" is to be trusted, its "no" checked here.
 */
async function linkPresent(host: NetHost, name: string): Promise<boolean> {
  return ((await host.ipJson(["link", "show", "dev", name]).catch(() => [])) as unknown[]).length > 0;
}

/** Applies an internal bridge's firewall: the table and its two elements, one transaction (idempotent). */
function seal(host: NetHost, bridge: string): Promise<void> {
  return host.nft([...filterBase(), ...internalLines(bridge)].join("\n") + "\n");
}

/**
 * An existing internal bridge's firewall, on every ADD: its two elements added again over
 * netlink (idempotent, no process), the whole table when it is gone (`nft flush ruleset`).
 */
async function ensureSealed(host: NetHost, bridge: string): Promise<void> {
  try {
    await host.nftElements(internalOps(bridge));
  } catch (e) {
    if (!/No such file or directory/.test((e as Error).message)) throw e;
    await seal(host, bridge);
  }
}

/**
 * A NAT bridge's masquerading, for a bridge that exists: its elements in `bridges` and
 * masq4/6 added again (idempotent set elements over netlink, no process, no rule), and the
 * whole table when that fails because it is gone (`nft flush ruleset`, a reboot of the
 * firewall), so every ADD puts NAT back, also in a long-lived process.
 */
async function ensureNat(host: NetHost, bridge: string, subnets: readonly string[]): Promise<void> {
  const ops = [...nat.bridgeOps(bridge), ...nat.masqOps(subnets)];
  try {
    await host.nftElements(ops);
  } catch (e) {
    if (!/No such file or directory/.test((e as Error).message)) throw e;
    await host.nft([...nat.natBase(), ...renderElemOps(ops)].join("\n") + "\n");
  }
}

async function ensureBridge(host: NetHost, conf: BridgeConf, ips: readonly IpConfig[]): Promise<void> {
  if ((await host.links()).has(conf.bridge)) {
    // also for a bridge that exists: it may predate its firewall, or the firewall was flushed
    if (conf.internal) await ensureSealed(host, conf.bridge);
    if (conf.ipMasq) await ensureNat(host, conf.bridge, subnetsOf(ips));
    return;
  }
  let p = ensuring.get(conf.bridge);
  if (!p) {
    p = (async () => {
      // fail-closed: an internal bridge's firewall is in place before the bridge exists
      if (conf.internal) await seal(host, conf.bridge);
      // -force: another process may have created it meanwhile; the lines are idempotent.
      const ops = bridgeOps(conf, ips, bridgeMac(conf.bridge));
      await host.apply(ops, { force: true }).catch(() => undefined);
      if (!(await linkPresent(host, conf.bridge))) await host.apply(ops.slice(0, 1)); // surfaces the real error
      if (conf.isGateway && conf.isDefaultGateway) {
        if (ips.some((i) => !i.address.includes(":")) && (await host.readSysctl("net.ipv4.ip_forward")) !== "1") await host.writeSysctl("net.ipv4.ip_forward", "1");
        if (ips.some((i) => i.address.includes(":")) && (await host.readSysctl("net.ipv6.conf.all.forwarding")) !== "1") await host.writeSysctl("net.ipv6.conf.all.forwarding", "1");
      }
      if (conf.ipMasq) await host.nft([...nat.natBase(), ...renderElemOps(nat.bridgeOps(conf.bridge)), ...nat.masqLines(subnetsOf(ips))].join("\n") + "\n");
    })().finally(() => ensuring.delete(conf.bridge));
    ensuring.set(conf.bridge, p);
  }
  await p;
}

function ipamCall(call: PluginCall, command: PluginCall["command"]): PluginCall {
  return { ...call, command };
}

async function netnsExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function makeBridgePlugin(hostOf: () => NetHost = netHost): InProcessPlugin {
  return {
    supportedVersions: SUPPORTED_VERSIONS,

    async add(call: PluginCall, inv: PluginInvoker): Promise<Result> {
      const host = hostOf();
      const conf = bridgeConf(call.config);
      const ipamType = call.config.ipam?.type;
      if (!ipamType) throw configError("ipam", "missing (expected {\"type\": \"isola-ipam\", ...})");
      const rcMac = call.config.runtimeConfig?.mac;
      const macBad = rcMac === undefined ? undefined : macProblem(rcMac);
      if (macBad) throw configError("runtimeConfig.mac", macBad);
      if (!call.netns || !(await netnsExists(call.netns))) throw new CniError(ErrorCode.invalidEnvironment, `CNI_NETNS: ${JSON.stringify(call.netns)} is not a network namespace path`);
      const ipamResult = (await inv.invoke(ipamType, ipamCall(call, "ADD"))) as Result;
      const ips = ipamResult.ips ?? [];
      const hostVeth = hostVethName(call.containerId, call.ifName);
      let vethMade = false;
      try {
        if (ips.length === 0) throw new CniError(ErrorCode.io, `IPAM plugin ${ipamType} returned no addresses`);
        await ensureBridge(host, conf, ips);
        const v = { hostVeth, hostMac: randomMac(), containerMac: rcMac ?? randomMac(), ifName: call.ifName, netns: call.netns };
        const stale = (await host.links()).has(hostVeth);
        await host.apply(hostOps(conf, v, stale)).catch((e: Error) => {
          throw new CniError(ErrorCode.io, `isola-bridge: creating ${hostVeth} on ${conf.bridge} with ${call.ifName} in ${call.netns}`, e.message);
        });
        vethMade = true;
        await host.apply(containerOps(conf, call.ifName, ips, ipamResult.routes ?? []), { netns: call.netns }).catch((e: Error) => {
          throw new CniError(ErrorCode.io, `isola-bridge: configuring ${call.ifName} in ${call.netns}`, e.message);
        });
        const result: Result = {
          cniVersion: call.config.cniVersion ?? "1.1.0",
          interfaces: [
            { name: conf.bridge, mac: bridgeMac(conf.bridge) },
            { name: hostVeth, mac: v.hostMac },
            { name: call.ifName, mac: v.containerMac, sandbox: call.netns },
          ],
          ips: ips.map((i) => ({ ...i, interface: 2 })),
        };
        if (conf.mtu) for (const i of result.interfaces!) i.mtu = conf.mtu;
        const routes = [...(ipamResult.routes ?? [])];
        if (conf.isGateway && conf.isDefaultGateway) {
          for (const i of ips) {
            const dst = i.address.includes(":") ? "::/0" : "0.0.0.0/0";
            if (i.gateway && !routes.some((r) => r.dst === dst)) routes.push({ dst, gw: i.gateway });
          }
        }
        if (routes.length) result.routes = routes;
        const dns = call.config.runtimeConfig?.dns ?? ipamResult.dns ?? call.config.dns;
        if (dns) result.dns = dns;
        return result;
      } catch (e) {
        if (vethMade) await host.apply([{ op: "link-del", dev: hostVeth }]).catch(() => undefined);
        await inv.invoke(ipamType, ipamCall(call, "DEL")).catch(() => undefined);
        throw e;
      }
    },

    async del(call: PluginCall, inv: PluginInvoker): Promise<void> {
      const host = hostOf();
      bridgeConf(call.config);
      const ipamType = call.config.ipam?.type;
      if (ipamType) await inv.invoke(ipamType, ipamCall(call, "DEL"));
      const hostVeth = hostVethName(call.containerId, call.ifName);
      const present = () => linkPresent(host, hostVeth);
      if ((await host.links()).has(hostVeth) || (await present())) {
        // Down and renamed now (the pair stops carrying traffic and the name is free for a
        // new ADD); the kernel's unregister of the pair completes in the background.
        const trash = trashName();
        try {
          await host.apply([{ op: "link-down", dev: hostVeth }, { op: "link-rename", dev: hostVeth, name: trash }]);
        } catch (e) {
          if (await present()) throw e; // else a concurrent DEL won
          return;
        }
        // The container's end keeps its name until the kernel is done: free it now, so
        // the same namespace can be attached again at once.
        if (call.netns && (await netnsExists(call.netns)))
          await host.apply([{ op: "link-down", dev: call.ifName }, { op: "link-rename", dev: call.ifName, name: trashName() }], { netns: call.netns }).catch(() => undefined);
        host.deleteLinkLater(trash);
      }
    },

    async check(call: PluginCall, inv: PluginInvoker): Promise<void> {
      const host = hostOf();
      const conf = bridgeConf(call.config);
      const prev = call.config.prevResult;
      if (!prev) throw new CniError(ErrorCode.invalidNetworkConfig, "prevResult: missing (CHECK needs the ADD result)");
      const ipamType = call.config.ipam?.type;
      if (ipamType) await inv.invoke(ipamType, ipamCall(call, "CHECK"));
      const hostVeth = hostVethName(call.containerId, call.ifName);
      const links = (await host.ipJson(["link", "show", "dev", hostVeth]).catch(() => [])) as { master?: string; operstate?: string }[];
      if (links[0]?.master !== conf.bridge) throw new CniError(ErrorCode.io, `isola-bridge: ${hostVeth} is missing or not on bridge ${conf.bridge}`);
      if (conf.ipMasq) {
        let listing: unknown;
        try {
          listing = JSON.parse(await host.nftList(["table", "inet", nat.NAT_TABLE], { json: true }));
        } catch {
          listing = undefined;
        }
        const problems = nat.natProblems(listing, conf.bridge, subnetsOf(prev.ips ?? []));
        if (problems.length) throw new CniError(ErrorCode.io, `isola-bridge: NAT of bridge ${conf.bridge} is not in place (its containers' traffic leaves unmasqueraded; the next ADD puts it back)`, problems.join("; "));
      }
      const addrs = (await host.ipJson(["address", "show", "dev", call.ifName], { netns: call.netns }).catch(() => [])) as { addr_info?: { local: string; prefixlen: number }[] }[];
      const have = new Set((addrs[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
      for (const ip of prev.ips ?? []) {
        if (!have.has(ip.address)) throw new CniError(ErrorCode.io, `isola-bridge: ${call.ifName} in ${call.netns} lacks address ${ip.address}`);
      }
      if (conf.internal && !listsInternal(await host.nftList(["set", "inet", FILTER_TABLE, "internal"]).catch(() => ""), conf.bridge))
        throw new CniError(ErrorCode.io, `isola-bridge: internal bridge ${conf.bridge} is not in set inet ${FILTER_TABLE} internal (the host would forward its traffic)`);
    },

    /**
     * GC (CNI 1.1): IPAM releases what is not valid; veths on our bridge that belong to no
     * valid attachment go, and so do pairs a DEL renamed (isz…) but never deleted (a crash
     * before the background delete), on any bridge or none.
     */
    async gc(call: PluginCall, inv: PluginInvoker): Promise<void> {
      const host = hostOf();
      const conf = bridgeConf(call.config);
      const ipamType = call.config.ipam?.type;
      if (ipamType) await inv.invoke(ipamType, call);
      const valid = (call.config["cni.dev/valid-attachments"] ?? []) as { containerID: string; ifname: string }[];
      const keep = new Set(valid.map((v) => hostVethName(v.containerID, v.ifname)));
      const links = await host.links();
      const trash = [...links].filter((n) => TRASH_RE.test(n));
      // force: a DEL still running elsewhere may delete its own pair first
      if (trash.length) await host.apply(trash.map((dev) => ({ op: "link-del" as const, dev })), { force: true });
      if (!links.has(conf.bridge)) return;
      const ports = (await host.ipJson(["link", "show", "master", conf.bridge])) as { ifname: string }[];
      const gone = ports.map((p) => p.ifname).filter((n) => n.startsWith("isv") && !keep.has(n));
      if (gone.length) await host.apply(gone.map((dev) => ({ op: "link-del" as const, dev })));
    },

    async status(): Promise<void> {},
  };
}

export const isolaBridge = makeBridgePlugin();
