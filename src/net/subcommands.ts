/** The `isola network` / `isola policy` style of command group: a table of subcommands, one dispatcher. */
import { UsageError, type FlagSpec, type FlagValues } from "../cli/args.ts";
import { asCniError } from "./errors.ts";

export interface Subcommand<Ctx> {
  usage: string;
  flags: Record<string, FlagSpec>;
  /** positional arguments: [min, max] */
  args: [number, number];
  run(args: string[], f: FlagValues, ctx: Ctx): Promise<number>;
}

export interface CommandGroup<Ctx> {
  /** "network", "policy" */
  name: string;
  subs: Record<string, Subcommand<Ctx>>;
  parse(argv: string[], flags: Record<string, FlagSpec>): { flags: FlagValues; rest: string[] };
  context(): Ctx;
  /** runs after a subcommand succeeded (e.g. wait for background kernel clean-up) */
  finish?(ctx: Ctx): Promise<void>;
}

export function groupUsage<Ctx>(g: CommandGroup<Ctx>): string {
  return [`usage: isola ${g.name} COMMAND`, ...Object.values(g.subs).map((s) => `  ${s.usage}`)].join("\n");
}

/** Runs one subcommand; usage errors exit 2, failures 1, each printed with the command's name. */
export async function runGroup<Ctx>(g: CommandGroup<Ctx>, argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(groupUsage(g) + "\n");
    return name ? 0 : 2;
  }
  const sub = g.subs[name];
  if (!sub) {
    process.stderr.write(`isola ${g.name}: unknown command "${name}"\n${groupUsage(g)}\n`);
    return 2;
  }
  try {
    const p = g.parse(rest, sub.flags);
    if (p.rest.length < sub.args[0] || p.rest.length > sub.args[1]) throw new UsageError(`usage: isola ${g.name} ${sub.usage}`);
    const ctx = g.context();
    const code = await sub.run(p.rest, p.flags, ctx);
    await g.finish?.(ctx);
    return code;
  } catch (e) {
    const msg = e instanceof UsageError ? e.message : asCniError(e).message;
    process.stderr.write(`isola ${g.name} ${name}: ${msg}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
