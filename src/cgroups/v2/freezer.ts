// cgroup v2 freezer: cgroup.freeze, and "frozen 1" in cgroup.events once every task stopped.
export const FREEZE_FILE = "cgroup.freeze";

/** True when cgroup.events reports the cgroup frozen. */
export function isFrozenV2(events: string | undefined): boolean {
  return /^frozen 1$/m.test(events ?? "");
}
