/**
 * isola-portmap: publishes container ports in nftables (chained after isola-bridge or any
 * plugin whose result carries the container's addresses). One `nft -f` transaction per
 * ADD and per DEL; a port that is already published is refused by the kernel atomically.
 */
import { CniError, configError, ErrorCode } from "../errors.ts";
import { parseAddr } from "../ip.ts";
import { netHost, type NetHost } from "../host.ts";
import type { InProcessPlugin, PluginCall } from "../plugin.ts";
import type { PortMapping, Result } from "../types.ts";
import { SUPPORTED_VERSIONS } from "../version.ts";
import * as nat from "./nat_ruleset.ts";

const PROTOCOLS = new Set(["tcp", "udp", "sctp"]);

/** Validates runtimeConfig.portMappings and pairs them with the container's addresses. */
export function portRules(mappings: readonly PortMapping[], prev: Result | undefined): nat.PortRule[] {
  const containerIps = (prev?.ips ?? []).map((i) => i.address.replace(/\/\d+$/, ""));
  const v4 = containerIps.find((a) => !a.includes(":"));
  const v6 = containerIps.find((a) => a.includes(":"));
  const out: nat.PortRule[] = [];
  mappings.forEach((m, i) => {
    const f = `runtimeConfig.portMappings[${i}]`;
    for (const k of ["hostPort", "containerPort"] as const) {
      if (!Number.isInteger(m[k]) || m[k] < 1 || m[k] > 65535) throw configError(`${f}.${k}`, `${JSON.stringify(m[k])} is not a port (expected 1-65535)`);
    }
    const protocol = (m.protocol ?? "tcp").toLowerCase();
    if (!PROTOCOLS.has(protocol)) throw configError(`${f}.protocol`, `${JSON.stringify(m.protocol)} is not a protocol (expected tcp, udp or sctp)`);
    let hostFamily: 4 | 6 | undefined;
    if (m.hostIP && m.hostIP !== "0.0.0.0" && m.hostIP !== "::") {
      const a = parseAddr(m.hostIP);
      if (!a) throw configError(`${f}.hostIP`, `${JSON.stringify(m.hostIP)} is not an IP address`);
      hostFamily = a.family;
    }
    for (const c of [v4, v6]) {
      if (!c) continue;
      const fam = c.includes(":") ? 6 : 4;
      if (hostFamily && hostFamily !== fam) continue;
      if (m.hostIP === "0.0.0.0" && fam === 6) continue;
      if (m.hostIP === "::" && fam === 4) continue;
      const r: nat.PortRule = { protocol: protocol as nat.PortRule["protocol"], hostPort: m.hostPort, containerIP: c, containerPort: m.containerPort };
      if (hostFamily) r.hostIP = m.hostIP!;
      out.push(r);
    }
  });
  if (mappings.length && out.length === 0) throw configError("prevResult.ips", "no container address to publish ports to (isola-portmap must follow a plugin that assigns addresses)");
  return out;
}

function bridgeOf(prev: Result | undefined): string | undefined {
  return prev?.interfaces?.find((i) => !i.sandbox)?.name;
}

/** Removes every port element commented with `owner` (DEL without prevResult). */
async function unpublishOwned(host: NetHost, owner: string): Promise<void> {
  let listing: unknown;
  try {
    listing = JSON.parse(await host.nftList(["table", "inet", nat.NAT_TABLE], { json: true }));
  } catch {
    return; // no table: nothing was ever published here
  }
  const ops = nat.ownedElements(listing, owner);
  if (!ops.length) return;
  try {
    await host.nftElements(ops);
  } catch {
    for (const op of ops) await host.nftElements([op]).catch(() => undefined);
  }
}

export function makePortmapPlugin(hostOf: () => NetHost = netHost): InProcessPlugin {
  return {
    supportedVersions: SUPPORTED_VERSIONS,

    async add(call: PluginCall): Promise<Result> {
      const prev = call.config.prevResult;
      if (!prev) throw configError("prevResult", "missing (isola-portmap is a chained plugin)");
      const mappings = call.config.runtimeConfig?.portMappings ?? [];
      const rules = portRules(mappings, prev);
      if (rules.length === 0) return prev;
      const host = hostOf();
      const br = bridgeOf(prev);
      const extra = br ? nat.bridgeOps(br) : [];
      const ops = [...extra, ...nat.publishOps(rules, nat.ownerTag(call.containerId, call.ifName))];
      // Steady state: only set elements, over netlink. The first time in a namespace (the
      // table is missing), the base ruleset and the elements go in one `nft -f`.
      const attempt = async (withBase: boolean) => {
        try {
          if (withBase) await host.nft(nat.natBase().join("\n") + "\n");
          await host.nftElements(ops);
          return true;
        } catch (e) {
          const msg = (e as Error).message;
          if (!withBase && /No such file or directory/.test(msg)) return false;
          const line = (e as { line?: number }).line;
          const r = line !== undefined ? rules[line - 1 - extra.length] : undefined;
          if (r && /File exists/.test(msg)) {
            const i = mappings.findIndex((m) => m.hostPort === r.hostPort && (m.protocol ?? "tcp").toLowerCase() === r.protocol);
            throw new CniError(ErrorCode.invalidNetworkConfig, `runtimeConfig.portMappings[${i}]: host port ${r.hostPort}/${r.protocol}${r.hostIP ? ` on ${r.hostIP}` : ""} is already published`);
          }
          throw new CniError(ErrorCode.io, "isola-portmap: nft transaction failed", msg);
        }
      };
      // A key this host expired a moment ago stays until the next jiffy: retry briefly.
      for (let tries = 0; ; tries++) {
        try {
          if (!(await attempt(false))) await attempt(true);
          break;
        } catch (e) {
          if (tries >= 3 || !(e instanceof CniError) || e.code !== ErrorCode.invalidNetworkConfig) throw e;
          await Bun.sleep(5);
        }
      }
      // loopback access to published ports (127.0.0.1:hostPort) routes into the bridge
      if (br && rules.some((r) => !r.containerIP.includes(":"))) {
        const key = `net.ipv4.conf.${br}.route_localnet`;
        if ((await host.readSysctl(key)) === "0") await host.writeSysctl(key, "1");
      }
      return prev;
    },

    async del(call: PluginCall): Promise<void> {
      const mappings = call.config.runtimeConfig?.portMappings ?? [];
      const prev = call.config.prevResult;
      const host = hostOf();
      // Without prevResult (an ADD that failed before anything was cached, a lost cache
      // entry, a runtime that keeps none) the container's address is unknown: find this
      // attachment's elements by their comment.
      if (!prev) return unpublishOwned(host, nat.ownerTag(call.containerId, call.ifName));
      if (!mappings.length) return;
      let rules: nat.PortRule[];
      try {
        rules = portRules(mappings, prev);
      } catch {
        return; // nothing valid was ever published
      }
      if (!rules.length) return;
      try {
        await host.nftElements(nat.unpublishOps(rules));
      } catch {
        // Some key now belongs to someone else (or is gone): remove ours one by one.
        for (const r of rules) await host.nftElements(nat.unpublishOps([r])).catch(() => undefined);
      }
    },

    async check(call: PluginCall): Promise<void> {
      const mappings = call.config.runtimeConfig?.portMappings ?? [];
      const rules = portRules(mappings, call.config.prevResult);
      if (!rules.length) return;
      const text = await hostOf().nftList(["table", "inet", nat.NAT_TABLE]);
      for (const r of rules)
        if (!nat.listedElement(r).test(text)) throw new CniError(ErrorCode.io, `isola-portmap: ${r.hostIP ? `${r.hostIP}:` : ""}${r.hostPort}/${r.protocol} → ${r.containerIP}:${r.containerPort} is not published`);
    },

    async status(): Promise<void> {},
  };
}

export const isolaPortmap = makePortmapPlugin();
