/**
 * `isola policy ...`: create, apply, ls, inspect, rm network policies from YAML or JSON
 * files; test a flow; show per-policy counters; check and sync a network's table. Thin:
 * parses arguments and calls the policy engine.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UsageError, type FlagValues } from "../../cli/args.ts";
import { parseInterspersed } from "../cli.ts";
import { runGroup, type Subcommand } from "../subcommands.ts";
import { configError } from "../errors.ts";
import { NetworkStore, type Network } from "../networks.ts";
import { PolicyEngine } from "./engine.ts";
import { describeVerdict } from "./evaluate.ts";
import { parsePolicy, policyDocument, type Policy, type Protocol } from "./model.ts";
import { DEFAULT_POLICY_DIR, FilePolicyStore } from "./store.ts";

export interface PolicyGlobals {
  root: string;
}

interface Ctx {
  engine: PolicyEngine;
  networks: NetworkStore;
  out: (s: string) => void;
}

type Sub = Subcommand<Ctx>;

const json = (v: unknown) => JSON.stringify(v, null, 2);
const str = (v: unknown) => (typeof v === "string" ? v : undefined);

/** Decodes a policy file (YAML, JSON, several YAML documents or a JSON list) and validates each policy. */
export function decodePolicies(text: string, source: string): Policy[] {
  let raw: unknown;
  try {
    raw = source.endsWith(".json") ? JSON.parse(text) : Bun.YAML.parse(text);
  } catch (e) {
    throw configError(source, `not valid ${source.endsWith(".json") ? "JSON" : "YAML or JSON"}: ${(e as Error).message}`);
  }
  const docs = (Array.isArray(raw) ? raw : [raw]).filter((d) => d !== null && d !== undefined);
  if (!docs.length) throw configError(source, "no policy in the file");
  return docs.map((d, i) => parsePolicy(d, docs.length > 1 ? `${source}[${i}]` : source));
}

async function readPolicies(files: string[]): Promise<Policy[]> {
  const out: Policy[] = [];
  for (const f of files) {
    const text = f === "-" ? await Bun.stdin.text() : await readFile(f, "utf8").catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`${f}: cannot read (${e.code ?? e.message})`);
    });
    out.push(...decodePolicies(text, f === "-" ? "stdin" : f));
  }
  return out;
}

/** "80/tcp", "53/udp", "8080" (tcp). */
export function parsePortProto(text: string): { port: number; protocol: Protocol } {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const port = m ? Number(m[1]) : 0;
  if (!m || port < 1 || port > 65535) throw new UsageError(`PORT/PROTO: ${JSON.stringify(text)} is not a port (expected 1-65535, optionally /tcp, /udp or /sctp)`);
  return { port, protocol: (m[2] ?? "tcp").toLowerCase() as Protocol };
}

async function networkOf(ctx: Ctx, f: FlagValues): Promise<string> {
  const n = str(f.network);
  if (n) return (await ctx.networks.require(n)).name;
  const nets = await ctx.networks.list();
  if (nets.length === 1) return nets[0]!.name;
  throw new UsageError(`--network: missing (expected one of ${nets.map((x) => x.name).join(", ") || "no networks yet"})`);
}

async function networksWithPolicies(ctx: Ctx, f: FlagValues): Promise<string[]> {
  const n = str(f.network);
  if (n) return [n];
  return [...new Set((await ctx.engine.store.policies()).map((p) => p.network))].sort();
}

/**
 * Why policies of network `name` would not be enforced by this isola (undefined: they
 * would): the network must exist and its chain must register containers, through the
 * isola-policy plugin, in the store `isola policy` uses (`storeDir`).
 */
export function enforcementProblem(net: Network | undefined, name: string, storeDir: string): string | undefined {
  if (!net) return `no network named "${name}" (see isola network ls)`;
  const plugin = net.list.plugins.find((p) => p.type === "isola-policy");
  if (!plugin) return `network "${name}" does not enforce policies: its plugin chain has no isola-policy plugin (recreate it with isola network create ${name} --policy)`;
  const dataDir = typeof plugin.dataDir === "string" ? resolve(plugin.dataDir) : DEFAULT_POLICY_DIR;
  if (dataDir !== storeDir)
    return `network "${name}" registers its containers in ${dataDir} (isola-policy dataDir), but this isola keeps policies in ${storeDir}: use the --root the network was created with, or recreate it with isola network create ${name} --policy`;
  return undefined;
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd());
}

const SUBS: Record<string, Sub> = {
  create: {
    usage: "create FILE... (YAML or JSON, - for stdin): refuses a policy that exists",
    flags: {},
    args: [1, Infinity],
    async run(files, _f, ctx) {
      const ps = await readPolicies(files);
      await ctx.engine.apply(ps, { create: true });
      for (const p of ps) ctx.out(p.name);
      return 0;
    },
  },
  apply: {
    usage: "apply FILE... (YAML or JSON, - for stdin): creates or replaces",
    flags: {},
    args: [1, Infinity],
    async run(files, _f, ctx) {
      const ps = await readPolicies(files);
      await ctx.engine.apply(ps);
      for (const p of ps) ctx.out(p.name);
      return 0;
    },
  },
  ls: {
    usage: "ls [--network N] [--json]",
    flags: { network: { type: "string", alias: "n" }, json: { type: "bool" }, quiet: { type: "bool", alias: "q" } },
    args: [0, 0],
    async run(_a, f, ctx) {
      const ps = await ctx.engine.store.policies(str(f.network));
      if (f.json) ctx.out(json(ps.map(policyDocument)));
      else if (f.quiet) for (const p of ps) ctx.out(p.name);
      else {
        const sel = (p: Policy) => JSON.stringify(policyDocument(p).spec && (policyDocument(p).spec as { podSelector: unknown }).podSelector);
        const types = (p: Policy) => [p.ingress ? "Ingress" : "", p.egress ? "Egress" : ""].filter(Boolean).join(",");
        for (const l of table([["NAME", "NETWORK", "TYPES", "SELECTOR"], ...ps.map((p) => [p.name, p.network, types(p), sel(p)])])) ctx.out(l);
      }
      return 0;
    },
  },
  inspect: {
    usage: "inspect NAME...",
    flags: {},
    args: [1, Infinity],
    async run(names, _f, ctx) {
      const out = [];
      for (const [i, n] of names.entries()) {
        const p = await ctx.engine.store.getPolicy(n);
        if (!p) throw configError(names.length > 1 ? `name[${i}]` : "name", `no policy named "${n}" (see isola policy ls)`);
        out.push(policyDocument(p));
      }
      ctx.out(json(names.length === 1 ? out[0] : out));
      return 0;
    },
  },
  rm: {
    usage: "rm NAME...",
    flags: {},
    args: [1, Infinity],
    async run(names, _f, ctx) {
      await ctx.engine.remove(names);
      for (const n of names) ctx.out(n);
      return 0;
    },
  },
  test: {
    usage: "test FROM TO PORT[/PROTO] [--network N] [--json]: FROM and TO are container ids or addresses; exit 0 allowed, 3 denied",
    flags: { network: { type: "string", alias: "n" }, json: { type: "bool" } },
    args: [3, 3],
    async run([from, to, pp], f, ctx) {
      const { port, protocol } = parsePortProto(pp!);
      const v = await ctx.engine.test(await networkOf(ctx, f), from!, to!, port, protocol);
      ctx.out(f.json ? json(v) : describeVerdict(v));
      return v.allowed ? 0 : 3;
    },
  },
  stats: {
    usage: "stats [--network N] [--json]: packets allowed and denied per policy (kernel counters)",
    flags: { network: { type: "string", alias: "n" }, json: { type: "bool" } },
    args: [0, 0],
    async run(_a, f, ctx) {
      const all = [];
      for (const n of await networksWithPolicies(ctx, f)) for (const s of await ctx.engine.stats(n)) all.push({ network: n, ...s });
      if (f.json) ctx.out(json(all));
      else
        for (const l of table([["POLICY", "NETWORK", "ALLOWED PKTS", "ALLOWED BYTES", "DENIED PKTS", "DENIED BYTES"], ...all.map((s) => [s.policy, s.network, String(s.allowed.packets), String(s.allowed.bytes), String(s.denied.packets), String(s.denied.bytes)])]))
          ctx.out(l);
      return 0;
    },
  },
  check: {
    usage: "check [--network N]: compares the kernel's tables with the policies (exit 1 on a difference)",
    flags: { network: { type: "string", alias: "n" } },
    args: [0, 0],
    async run(_a, f, ctx) {
      let bad = 0;
      for (const n of await networksWithPolicies(ctx, f)) {
        const diff = await ctx.engine.check(n);
        for (const d of diff) ctx.out(`${n}: ${d}`);
        bad += diff.length;
      }
      if (!bad) ctx.out("ok");
      return bad ? 1 : 0;
    },
  },
  sync: {
    usage: "sync [--network N]: rebuilds the tables from the policies and registered containers",
    flags: { network: { type: "string", alias: "n" } },
    args: [0, 0],
    async run(_a, f, ctx) {
      for (const n of await networksWithPolicies(ctx, f)) await ctx.engine.sync(n);
      return 0;
    },
  },
};

export async function main(argv: string[], g: PolicyGlobals): Promise<number> {
  return runGroup<Ctx>(
    {
      name: "policy",
      subs: SUBS,
      parse: parseInterspersed,
      context: () => {
        const networks = new NetworkStore(`${g.root}/networks`);
        const dir = resolve(g.root, "policy");
        return {
          networks,
          engine: new PolicyEngine({ store: new FilePolicyStore(dir), networkProblem: async (n) => enforcementProblem(await networks.get(n), n, dir) }),
          out: (s) => process.stdout.write(s + "\n"),
        };
      },
    },
    argv,
  );
}
