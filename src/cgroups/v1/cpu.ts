// cgroup v1 cpu controller: shares, CFS quota/period/burst, realtime, idle; throttling stats.
import type { CgroupWrite } from "../resources.ts";
import { R, w, type Controller } from "../controller.ts";
import { parseKeyValues } from "../convert.ts";
import { putNonZero } from "../stats.ts";

const F = `${R}.cpu`;
const nz = (v: number | undefined) => (v === undefined || v === 0 ? undefined : v);

export const cpu: Controller = {
  name: "cpu",
  needs: (r) => {
    const c = r.cpu;
    return c !== undefined && [c.shares, c.quota, c.period, c.burst, c.realtimePeriod, c.realtimeRuntime, c.idle].some((v) => v !== undefined);
  },
  writes(r) {
    const c = r.cpu;
    if (!c) return [];
    const out: CgroupWrite[] = [
      ...w("cpu.shares", nz(c.shares), `${F}.shares`),
      // period before quota: a quota is only meaningful against its period.
      ...w("cpu.cfs_period_us", nz(c.period), `${F}.period`),
      ...w("cpu.cfs_quota_us", nz(c.quota), `${F}.quota`),
      ...w("cpu.cfs_burst_us", c.burst, `${F}.burst`),
      ...w("cpu.rt_period_us", nz(c.realtimePeriod), `${F}.realtimePeriod`),
      ...w("cpu.rt_runtime_us", nz(c.realtimeRuntime), `${F}.realtimeRuntime`),
      ...w("cpu.idle", c.idle, `${F}.idle`),
    ];
    return out;
  },
  stats(read, out) {
    const s = parseKeyValues(read("cpu.stat") ?? "");
    putNonZero(out.cpu.throttling, "periods", s.nr_periods ?? 0);
    putNonZero(out.cpu.throttling, "throttledPeriods", s.nr_throttled ?? 0);
    putNonZero(out.cpu.throttling, "throttledTime", s.throttled_time ?? 0);
  },
};
