// The shape every controller module has, v1 and v2: pure `writes` from resources and pure
// `stats` from a file reader. The drivers do the I/O.
import type { CgroupWrite, LinuxResources } from "./resources.ts";
import type { Reader, Stats } from "./stats.ts";

export interface ApplyContext {
  /** Current content of a file of this cgroup (undefined when missing). */
  current: Reader;
  /** True for `update` of a running container, false at create. */
  updating: boolean;
}

export interface Controller {
  /** The kernel's controller name (a v1 subsystem, or a v2 controller for cgroup.subtree_control). */
  readonly name: string;
  /** Whether these resources ask anything of this controller. */
  needs(r: LinuxResources): boolean;
  /** The file writes, in order, that apply `r` (pure). */
  writes(r: LinuxResources, ctx: ApplyContext): CgroupWrite[];
  /** Adds this controller's numbers to `out` (pure given the reader). */
  stats(read: Reader, out: Stats): void;
}

export const R = "linux.resources";

/** A write of a numeric/string value, or nothing when undefined. */
export function w(file: string, value: string | number | undefined, field: string): CgroupWrite[] {
  return value === undefined ? [] : [{ file, value: String(value), field }];
}
