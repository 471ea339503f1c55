// cgroup v2 cpuset controller: cpuset.cpus and cpuset.mems.
import { R, w, type Controller } from "../controller.ts";
import { cpusetStats } from "../v1/cpuset.ts";

export const cpuset: Controller = {
  name: "cpuset",
  needs: (r) => !!(r.cpu?.cpus || r.cpu?.mems),
  writes: (r) => [...w("cpuset.cpus", r.cpu?.cpus || undefined, `${R}.cpu.cpus`), ...w("cpuset.mems", r.cpu?.mems || undefined, `${R}.cpu.mems`)],
  stats: (read, out) => cpusetStats(read, out, true),
};
