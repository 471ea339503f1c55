// cgroup v1 cpuset controller: cpus and mems; a new v1 cpuset is empty and must inherit its parent's.
import { R, w, type Controller } from "../controller.ts";
import { parseCpuList, parseNumber } from "../convert.ts";
import type { Reader, Stats } from "../stats.ts";

const F = `${R}.cpu`;

/** The writes that make a freshly created v1 cpuset usable: copy the parent's cpus and mems. */
export function inheritWrites(parent: Reader, self: Reader): { file: string; value: string; field: string }[] {
  const out = [];
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    if ((self(f) ?? "").trim() === "") {
      out.push({ file: f, value: (parent(f) ?? "").trim(), field: `cgroup ${f} (inherited from the parent cgroup)` });
    }
  }
  return out;
}

export function cpusetStats(read: Reader, out: Stats, v2: boolean): void {
  const list = (f: string) => {
    const t = read(f);
    const v = t === undefined ? [] : parseCpuList(t);
    return v.length > 0 ? v : undefined;
  };
  const n = (f: string) => parseNumber(read(f) ?? "0");
  const cpus = list(v2 ? "cpuset.cpus.effective" : "cpuset.cpus");
  const mems = list(v2 ? "cpuset.mems.effective" : "cpuset.mems");
  out.cpuset = {
    ...(cpus ? { cpus } : {}),
    cpu_exclusive: n("cpuset.cpu_exclusive"),
    ...(mems ? { mems } : {}),
    mem_hardwall: n("cpuset.mem_hardwall"),
    mem_exclusive: n("cpuset.mem_exclusive"),
    memory_migrate: n("cpuset.memory_migrate"),
    memory_spread_page: n("cpuset.memory_spread_page"),
    memory_spread_slab: n("cpuset.memory_spread_slab"),
    memory_pressure: n("cpuset.memory_pressure"),
    memory_pressure_enabled: n("cpuset.memory_pressure_enabled"),
    sched_load_balance: n("cpuset.sched_load_balance"),
    sched_relax_domain_level: n("cpuset.sched_relax_domain_level"),
  };
}

export const cpuset: Controller = {
  name: "cpuset",
  needs: (r) => !!(r.cpu?.cpus || r.cpu?.mems),
  writes(r) {
    const c = r.cpu;
    if (!c) return [];
    return [...w("cpuset.cpus", c.cpus || undefined, `${F}.cpus`), ...w("cpuset.mems", c.mems || undefined, `${F}.mems`)];
  },
  stats: (read, out) => cpusetStats(read, out, false),
};
