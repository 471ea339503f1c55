/**
 * Command-line parsing with the semantics of runc's (Go flag package): "-x" and
 * "--x" are the same, values as "--x v" or "--x=v", flags stop at the first
 * positional argument or "--". Pure.
 */

export type FlagType = "bool" | "string" | "int" | "strings";

export interface FlagSpec {
  type: FlagType;
  alias?: string;
}

export type FlagValues = Record<string, string | boolean | number | string[] | undefined>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface Parsed {
  flags: FlagValues;
  rest: string[];
}

export function parseFlags(argv: readonly string[], specs: Record<string, FlagSpec>): Parsed {
  const byName = new Map<string, [string, FlagSpec]>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, [name, spec]);
    if (spec.alias) byName.set(spec.alias, [name, spec]);
  }
  const flags: FlagValues = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const found = byName.get(name);
    if (!found) throw new UsageError(`flag provided but not defined: -${name}`);
    const [key, spec] = found;
    if (spec.type === "bool") {
      if (inline === undefined) flags[key] = true;
      else if (inline === "true" || inline === "1") flags[key] = true;
      else if (inline === "false" || inline === "0") flags[key] = false;
      else throw new UsageError(`invalid boolean value "${inline}" for -${name}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (spec.type === "int") {
      if (!/^-?\d+$/.test(value)) throw new UsageError(`invalid value "${value}" for flag -${name}: expected an integer`);
      flags[key] = Number(value);
    } else if (spec.type === "strings") {
      const prev = flags[key];
      flags[key] = [...(Array.isArray(prev) ? prev : []), value];
    } else {
      flags[key] = value;
    }
  }
  return { flags, rest: argv.slice(i) };
}
