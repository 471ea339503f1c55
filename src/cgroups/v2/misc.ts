// cgroup v2 misc controller (e.g. SEV ASIDs): limits come through `unified` ("misc.max");
// usage is reported under the isola-specific `misc` stats key.
import type { Reader, Stats } from "../stats.ts";

export function miscStats(read: Reader, out: Stats): void {
  const cur = read("misc.current");
  if (cur === undefined) return;
  const max = new Map<string, number>();
  for (const line of (read("misc.max") ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k) max.set(k, v === "max" || v === undefined ? Number.MAX_SAFE_INTEGER : Number(v));
  }
  const misc: Record<string, { usage: number; max: number }> = {};
  for (const line of cur.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k) misc[k] = { usage: Number(v ?? 0), max: max.get(k) ?? Number.MAX_SAFE_INTEGER };
  }
  if (Object.keys(misc).length > 0) out.misc = misc;
}
