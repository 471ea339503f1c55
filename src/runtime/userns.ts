// Where this process runs, as runc's userns.RunningInUserNS() tells it (only node:fs: the
// CLI asks it for every command, to pick the state directory).
import * as fs from "node:fs";

/**
 * Whether this process runs in a user namespace other than the initial one (its uid_map is
 * not the identity of every id): root there (rootless podman runs the runtime so) has no
 * privilege over the host's cgroups or /run, as runc's userns.RunningInUserNS() tells it.
 */
export function inUserNamespace(uidMap: () => string = () => fs.readFileSync("/proc/self/uid_map", "utf8")): boolean {
  let text: string;
  try {
    text = uidMap();
  } catch {
    return false;
  }
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "");
  return !(lines.length === 1 && lines[0]!.trim().split(/\s+/).join(" ") === "0 0 4294967295");
}

let rootlessOverride: boolean | undefined;

/** runc's global --rootless true|false (auto: undefined): whether cgroups are handled as for a caller without root. */
export function setRootlessCgroups(value: boolean | undefined): void {
  rootlessOverride = value;
}

/**
 * Whether cgroups are tried and left out where the kernel refuses them: asked for, or decided
 * as runc does (`userns`: inUserNamespace(), when the caller has it already).
 */
export function rootlessCgroups(userns: boolean = inUserNamespace()): boolean {
  if (rootlessOverride !== undefined) return rootlessOverride;
  return (process.geteuid?.() ?? 0) !== 0 || userns;
}
