/** The shape of an isola-runtime verb: each is a small table entry, the CLI does the parsing. */
import type { FlagSpec, FlagValues } from "./args.ts";

export interface Globals {
  root: string;
  log?: string;
  logFormat: "text" | "json";
  debug: boolean;
}

export interface Command {
  usage: string;
  flags: Record<string, FlagSpec>;
  /** positional arguments: [min, max] */
  args: [number, number];
  run(args: string[], flags: FlagValues, g: Globals): Promise<number | void> | number | void;
}
