/**
 * isola: the engine's command line for people. A dispatch table maps each subcommand to
 * the module that implements it, loaded only when used (start-up stays cheap). Add a
 * subcommand by adding one row.
 */
import { parseFlags, UsageError, type FlagSpec } from "./args.ts";

const VERSION = "0.1.0";

export interface Globals {
  /** engine state (networks, IPAM, CNI cache): /var/lib/isola */
  root: string;
}

interface Subcommand {
  summary: string;
  load(): Promise<{ main(argv: string[], g: Globals): Promise<number> }>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  network: { summary: "create, list, inspect and remove networks; attach, detach and check network namespaces", load: () => import("../net/cli.ts") },
  policy: { summary: "network policies: create, apply, list, inspect, remove, test flows, show counters", load: () => import("../net/policy/cli.ts") },
};

const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  root: { type: "string" },
  version: { type: "bool", alias: "v" },
  help: { type: "bool", alias: "h" },
};

function usage(): string {
  const w = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  return [
    "usage: isola [--root DIR] COMMAND [ARGS...]",
    "",
    "commands:",
    ...Object.entries(SUBCOMMANDS).map(([k, s]) => `  ${k.padEnd(w)}  ${s.summary}`),
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, GLOBAL_FLAGS);
  } catch (e) {
    process.stderr.write(`isola: ${(e as Error).message}\n${usage()}\n`);
    return 2;
  }
  const f = parsed.flags;
  if (f.version === true) {
    process.stdout.write(`isola version ${VERSION}\n`);
    return 0;
  }
  const [name, ...rest] = parsed.rest;
  if (!name || f.help === true || name === "help") {
    process.stdout.write(usage() + "\n");
    return name || f.help === true ? 0 : 2;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    process.stderr.write(`isola: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  const g: Globals = { root: typeof f.root === "string" ? f.root : (process.env.ISOLA_ROOT ?? "/var/lib/isola") };
  try {
    return await (await sub.load()).main(rest, g);
  } catch (e) {
    process.stderr.write(`isola ${name}: ${e instanceof UsageError ? e.message : (e as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  // no top-level await: the bytecode-compiled binary is a CommonJS bundle
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
