// `linux.resources.unified`: any cgroup v2 file, written last so it can refine the rest.
import type { CgroupWrite, LinuxResources } from "../resources.ts";

/** The writes for `unified`, in key order. */
export function unifiedWrites(r: LinuxResources): CgroupWrite[] {
  return Object.entries(r.unified ?? {}).map(([file, value]) => ({ file, value, field: `linux.resources.unified["${file}"]` }));
}

/** The controllers that `unified` keys need enabled ("memory.high" → "memory"; "cgroup.*" none). */
export function unifiedControllers(r: LinuxResources): string[] {
  const out = new Set<string>();
  for (const k of Object.keys(r.unified ?? {})) {
    const c = k.split(".")[0] ?? "";
    if (c !== "cgroup" && c !== "") out.add(c);
  }
  return [...out];
}
