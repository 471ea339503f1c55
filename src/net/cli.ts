/**
 * `isola network ...`: create, ls, inspect, rm named networks; attach, detach, check any
 * network namespace. Thin: parses arguments and calls the net library.
 */
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { parseFlags, UsageError, type FlagSpec, type FlagValues } from "../cli/args.ts";
import { containerIdProblem, ifNameProblem, macProblem } from "./attachment.ts";
import { listCache } from "./cache.ts";
import { netHost } from "./host.ts";
import { parseAddr, parseCidr, prefixContains } from "./ip.ts";
import { internalRemoveLines } from "./plugins/filter_ruleset.ts";
import type { Driver, NetworkOptions } from "./network_plan.ts";
import { hostRoutes, NetworkStore, type Network } from "./networks.ts";
import { fnv64 } from "./plugins/bridge_plan.ts";
import { DEFAULT_PLUGIN_DIRS, CniRuntime, type AttachOptions } from "./runtime.ts";
import { PolicyEngine } from "./policy/engine.ts";
import { labelKeyProblem, labelValueProblem } from "./policy/model.ts";
import { FilePolicyStore } from "./policy/store.ts";
import type { PortMapping, Result } from "./types.ts";
import { runGroup, type Subcommand } from "./subcommands.ts";

export interface NetGlobals {
  root: string;
}

type Sub = Subcommand<Ctx>;

interface Ctx {
  store: NetworkStore;
  runtime: CniRuntime;
  root: string;
  out: (s: string) => void;
}

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const strs = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
const json = (v: unknown) => JSON.stringify(v, null, 2);

function pluginDirs(): string[] {
  const env = process.env.ISOLA_CNI_PATH;
  if (env) return env.split(":").filter(Boolean);
  const exeDir = process.execPath.slice(0, process.execPath.lastIndexOf("/"));
  const repoBin = new URL("../../bin/cni", import.meta.url).pathname;
  return [...new Set([`${exeDir}/cni`, repoBin, ...DEFAULT_PLUGIN_DIRS])];
}

/** `--label k=v` flags, checked as policies check labels (Kubernetes label syntax). */
export function labelsOf(values: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  const at = new Map<string, number>();
  values.forEach((kv, i) => {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${flag}[${i}]: ${JSON.stringify(kv)} is not a label (expected key=value)`);
    const [k, v] = [kv.slice(0, eq), kv.slice(eq + 1)];
    const badKey = labelKeyProblem(k);
    if (badKey) throw new UsageError(`--${flag}[${i}]: ${badKey}`);
    const badValue = labelValueProblem(v);
    if (badValue) throw new UsageError(`--${flag}[${i}]: label ${JSON.stringify(k)}: ${badValue}`);
    if (at.has(k)) throw new UsageError(`--${flag}[${i}]: label ${JSON.stringify(k)} is given twice (also --${flag}[${at.get(k)}])`);
    at.set(k, i);
    out[k] = v;
  });
  return out;
}

/** "[hostIP:]hostPort:containerPort[/proto]", IPv6 host addresses in brackets. */
export function parsePort(text: string, i: number): PortMapping {
  const bad = () => new UsageError(`--port[${i}]: ${JSON.stringify(text)} is not a port mapping (expected [hostIP:]hostPort:containerPort[/tcp|udp|sctp])`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]:|(\d+\.\d+\.\d+\.\d+):)?(\d+):(\d+)(?:\/(tcp|udp|sctp))?$/.exec(text);
  if (!m) throw bad();
  const hostPort = Number(m[3]);
  const containerPort = Number(m[4]);
  if (hostPort < 1 || hostPort > 65535 || containerPort < 1 || containerPort > 65535) throw bad();
  const pm: PortMapping = { hostPort, containerPort, protocol: m[5] ?? "tcp" };
  const hostIP = m[1] ?? m[2];
  if (hostIP) {
    if (!parseAddr(hostIP)) throw bad();
    pm.hostIP = hostIP;
  }
  return pm;
}

function attachOptions(netns: string, f: FlagValues, net: Network): AttachOptions {
  const containerId = str(f["container-id"]) ?? `ns${fnv64(netns).toString(16).padStart(16, "0")}`;
  const ifName = str(f.ifname) ?? "eth0";
  const idProblem = containerIdProblem(containerId);
  if (idProblem) throw new UsageError(`--container-id: ${idProblem}`);
  const ifProblem = ifNameProblem(ifName);
  if (ifProblem) throw new UsageError(`--ifname: ${ifProblem}`);
  const att: AttachOptions = { containerId, ifName, netns };
  const caps: NonNullable<AttachOptions["capabilityArgs"]> = {};
  const ips = strs(f.ip);
  ips.forEach((ip, i) => {
    const a = parseAddr(ip);
    if (!a) throw new UsageError(`--ip[${i}]: ${JSON.stringify(ip)} is not an IP address`);
    const subnets = net.meta?.subnets ?? [];
    if (subnets.length && !subnets.some((s) => prefixContains(parseCidr(s)!.prefix, a)))
      throw new UsageError(`--ip[${i}]: ${ip} is outside the subnets of network "${net.name}" (${subnets.join(", ")})`);
  });
  if (ips.length) caps.ips = ips;
  const ports = strs(f.port).map(parsePort);
  if (ports.length) caps.portMappings = ports;
  const labels = labelsOf(strs(f.label), "label");
  if (Object.keys(labels).length) caps.labels = labels;
  const mac = str(f.mac);
  if (mac !== undefined) {
    const problem = macProblem(mac);
    if (problem) throw new UsageError(`--mac: ${problem}`);
    caps.mac = mac;
  }
  if (Object.keys(caps).length) att.capabilityArgs = caps;
  return att;
}

function describeResult(r: Result): string {
  const lines: string[] = [];
  (r.interfaces ?? []).forEach((itf, idx) => {
    if (!itf.sandbox) return;
    const addrs = (r.ips ?? []).filter((i) => i.interface === idx || (i.interface === undefined && idx === 0));
    const parts = [itf.name, ...addrs.map((a) => a.address + (a.gateway ? ` via ${a.gateway}` : "")), itf.mac ? `mac ${itf.mac}` : ""].filter(Boolean);
    lines.push(parts.join("  "));
  });
  if (lines.length === 0) for (const i of r.ips ?? []) lines.push(i.address);
  return lines.join("\n");
}

const attachFlags: Record<string, FlagSpec> = {
  network: { type: "string", alias: "n" },
  "container-id": { type: "string" },
  ifname: { type: "string" },
  ip: { type: "strings" },
  port: { type: "strings", alias: "p" },
  label: { type: "strings", alias: "l" },
  mac: { type: "string" },
  json: { type: "bool" },
};

async function needNetwork(ctx: Ctx, f: FlagValues): Promise<Network> {
  const name = str(f.network);
  if (!name) throw new UsageError("--network: missing (expected the name of a network, see isola network ls)");
  return ctx.store.require(name);
}

const SUBS: Record<string, Sub> = {
  create: {
    usage: "create NAME [--driver bridge|macvlan] [--subnet CIDR]... [--gateway IP]... [--ipv6] [--mtu N] [--nat] [--internal] [--bridge IF] [--parent IF] [--label k=v]... [--policy] [--plugin JSON]...",
    flags: {
      driver: { type: "string", alias: "d" },
      subnet: { type: "strings" },
      gateway: { type: "strings" },
      ipv6: { type: "bool" },
      mtu: { type: "int" },
      nat: { type: "bool" },
      internal: { type: "bool" },
      bridge: { type: "string" },
      parent: { type: "string" },
      label: { type: "strings" },
      plugin: { type: "strings" },
      policy: { type: "bool" },
      json: { type: "bool" },
    },
    args: [1, 1],
    async run([name], f, ctx) {
      const opts: NetworkOptions = { name: name!, ipamDir: `${ctx.root}/ipam`, policyDir: resolve(ctx.root, "policy") };
      if (f.policy === true) opts.policy = true;
      const d = str(f.driver);
      if (d) opts.driver = d as Driver;
      if (strs(f.subnet).length) opts.subnets = strs(f.subnet);
      if (strs(f.gateway).length) opts.gateways = strs(f.gateway);
      if (f.ipv6 === true) opts.ipv6 = true;
      if (typeof f.mtu === "number") opts.mtu = f.mtu;
      if (f.nat === true) opts.nat = true;
      if (f.internal === true) opts.internal = true;
      const br = str(f.bridge);
      if (br) opts.bridge = br;
      const parent = str(f.parent);
      if (parent) opts.parent = parent;
      opts.labels = labelsOf(strs(f.label), "label");
      const plugins = strs(f.plugin).map((p, i) => {
        try {
          return JSON.parse(p) as Record<string, unknown>;
        } catch {
          throw new UsageError(`--plugin[${i}]: not valid JSON (expected a plugin configuration such as {"type":"firewall"})`);
        }
      });
      if (plugins.length) opts.plugins = plugins;
      const net = await ctx.store.create(opts, await hostRoutes());
      ctx.out(f.json ? json(JSON.parse(net.list.bytes)) : net.name);
      return 0;
    },
  },
  ls: {
    usage: "ls [--json]",
    flags: { json: { type: "bool" }, quiet: { type: "bool", alias: "q" } },
    args: [0, 0],
    async run(_a, f, ctx) {
      const nets = await ctx.store.list();
      if (f.json) {
        ctx.out(json(nets.map((n) => ({ name: n.name, ...n.meta, plugins: n.list.plugins.map((p) => p.type) }))));
      } else if (f.quiet) {
        for (const n of nets) ctx.out(n.name);
      } else {
        const rows = [["NAME", "DRIVER", "SUBNETS", "FLAGS"], ...nets.map((n) => [n.name, n.meta?.driver ?? n.list.plugins[0]!.type, (n.meta?.subnets ?? []).join(","), [n.meta?.internal ? "internal" : "", n.meta?.nat ? "nat" : ""].filter(Boolean).join(",")])];
        const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const r of rows) ctx.out(r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd());
      }
      return 0;
    },
  },
  inspect: {
    usage: "inspect NAME [--json]",
    flags: { json: { type: "bool" } },
    args: [1, 1],
    async run([name], _f, ctx) {
      const net = await ctx.store.require(name!);
      const attachments = (await listCache(ctx.runtime.cacheDir, net.name)).map(({ rec }) => ({ containerId: rec.containerId, ifName: rec.ifName, netns: rec.netns, result: rec.result }));
      ctx.out(json({ ...JSON.parse(net.list.bytes), attachments }));
      return 0;
    },
  },
  rm: {
    usage: "rm NAME... [--force]: refuses a network with attachments or policies unless --force (which detaches them and removes the policies)",
    flags: { force: { type: "bool", alias: "f" } },
    args: [1, Infinity],
    async run(names, f, ctx) {
      for (const name of names) {
        const net = await ctx.store.require(name);
        const cached = await listCache(ctx.runtime.cacheDir, net.name);
        if (cached.length && !f.force) throw new UsageError(`network "${name}" has ${cached.length} attachment(s) (${cached.map((c) => c.rec.containerId).join(", ")}); detach them or use --force`);
        const policies = new PolicyEngine({ store: new FilePolicyStore(resolve(ctx.root, "policy")) });
        const mine = (await policies.store.policies(net.name)).map((p) => p.name);
        if (mine.length && !f.force) throw new UsageError(`network "${name}" has ${mine.length === 1 ? "a policy" : `${mine.length} policies`} (${mine.join(", ")}); remove them (isola policy rm ${mine.join(" ")}) or use --force`);
        await ctx.runtime.gc(net.list, []);
        if (mine.length || net.list.plugins.some((p) => p.type === "isola-policy")) await policies.forgetNetwork(net.name);
        const host = netHost();
        const bridgePlugin = net.list.plugins.find((p) => p.type === "isola-bridge");
        const bridge = bridgePlugin?.bridge;
        if (typeof bridge === "string" && (await host.links()).has(bridge)) await host.apply([{ op: "link-del", dev: bridge }]);
        if (typeof bridge === "string" && bridgePlugin?.internal === true)
          for (const line of internalRemoveLines(bridge)) await host.nft(line + "\n").catch(() => undefined);
        if (net.meta?.nat)
          for (const s of net.meta.subnets) await host.nft(`delete element inet isola_nat masq${s.includes(":") ? 6 : 4} { ${s} }\n`).catch(() => undefined);
        if (typeof bridge === "string") await host.nft(`delete element inet isola_nat bridges { "${bridge}" }\n`).catch(() => undefined);
        await rm(`${ctx.root}/ipam/${net.name}`, { recursive: true, force: true });
        await ctx.store.remove(name);
        ctx.out(name);
      }
      return 0;
    },
  },
  attach: {
    usage: "attach NETNS-PATH --network N [--container-id ID] [--ifname eth0] [--ip A]... [--port [hostIP:]8080:80/tcp]... [--label k=v]... [--mac M] [--json]",
    flags: attachFlags,
    args: [1, 1],
    async run([netns], f, ctx) {
      const net = await needNetwork(ctx, f);
      const res = await ctx.runtime.add(net.list, attachOptions(netns!, f, net));
      ctx.out(f.json ? json(res) : describeResult(res));
      return 0;
    },
  },
  detach: {
    usage: "detach NETNS-PATH --network N [--container-id ID] [--ifname eth0]",
    flags: attachFlags,
    args: [1, 1],
    async run([netns], f, ctx) {
      const net = await needNetwork(ctx, f);
      await ctx.runtime.del(net.list, attachOptions(netns!, f, net));
      return 0;
    },
  },
  check: {
    usage: "check NETNS-PATH --network N [--container-id ID] [--ifname eth0] [--json]",
    flags: attachFlags,
    args: [1, 1],
    async run([netns], f, ctx) {
      const net = await needNetwork(ctx, f);
      const att = attachOptions(netns!, f, net);
      await ctx.runtime.check(net.list, att);
      if (f.json) ctx.out(json({ ok: true, result: (await ctx.runtime.cachedResult(net.list, att)) ?? null }));
      else ctx.out("ok");
      return 0;
    },
  },
};

/** Flags may come before or after positional arguments ("attach NS --network N"); "--" ends flags. */
export function parseInterspersed(argv: readonly string[], specs: Record<string, FlagSpec>): { flags: FlagValues; rest: string[] } {
  const flags: FlagValues = {};
  const rest: string[] = [];
  let rem = argv.slice();
  while (rem.length) {
    const p = parseFlags(rem, specs);
    for (const [k, v] of Object.entries(p.flags)) {
      const prev = flags[k];
      flags[k] = Array.isArray(prev) && Array.isArray(v) ? [...prev, ...v] : v;
    }
    const consumed = rem.length - p.rest.length;
    if (consumed > 0 && rem[consumed - 1] === "--") {
      rest.push(...p.rest);
      break;
    }
    if (!p.rest.length) break;
    rest.push(p.rest[0]!);
    rem = p.rest.slice(1);
  }
  return { flags, rest };
}

export async function main(argv: string[], g: NetGlobals): Promise<number> {
  return runGroup<Ctx>(
    {
      name: "network",
      subs: SUBS,
      parse: parseInterspersed,
      context: () => ({
        root: g.root,
        store: new NetworkStore(`${g.root}/networks`),
        runtime: new CniRuntime({ pluginDirs: pluginDirs(), cacheDir: `${g.root}/cni-cache` }),
        out: (s) => process.stdout.write(s + "\n"),
      }),
      finish: (ctx) => ctx.runtime.settle(),
    },
    argv,
  );
}

