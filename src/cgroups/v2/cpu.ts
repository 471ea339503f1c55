// cgroup v2 cpu controller: cpu.weight (from shares), cpu.max, cpu.max.burst, cpu.idle.
import { CgroupError } from "../resources.ts";
import { R, w, type Controller } from "../controller.ts";
import { cpuMax, parseKeyValues, sharesToWeight } from "../convert.ts";
import { parsePsi, putNonZero } from "../stats.ts";

const F = `${R}.cpu`;

export const cpu: Controller = {
  name: "cpu",
  needs: (r) => {
    const c = r.cpu;
    return c !== undefined && [c.shares, c.quota, c.period, c.burst, c.idle, c.realtimePeriod, c.realtimeRuntime].some((v) => v !== undefined);
  },
  writes(r, ctx) {
    const c = r.cpu;
    if (!c) return [];
    if ((c.realtimeRuntime ?? 0) !== 0 || (c.realtimePeriod ?? 0) !== 0) {
      const field = c.realtimeRuntime ? "realtimeRuntime" : "realtimePeriod";
      throw new CgroupError(`${F}.${field}: ${c[field]} cannot be applied: cgroup v2 has no realtime CPU bandwidth control`, `${F}.${field}`);
    }
    let max = cpuMax(c.quota, c.period);
    if (max !== undefined && (c.quota ?? 0) === 0 && ctx.updating) {
      // Only the period changes: keep the current quota.
      const cur = (ctx.current("cpu.max") ?? "max").trim().split(/\s+/)[0] ?? "max";
      max = `${cur} ${c.period}`;
    }
    return [
      ...(c.shares ? w("cpu.weight", sharesToWeight(c.shares), `${F}.shares`) : []),
      ...w("cpu.max", max, (c.quota ?? 0) !== 0 ? `${F}.quota` : `${F}.period`),
      ...w("cpu.max.burst", c.burst, `${F}.burst`),
      ...w("cpu.idle", c.idle, `${F}.idle`),
    ];
  },
  stats(read, out) {
    const s = parseKeyValues(read("cpu.stat") ?? "");
    out.cpu.usage = {
      ...((s.usage_usec ?? 0) ? { total: (s.usage_usec ?? 0) * 1000 } : {}),
      kernel: (s.system_usec ?? 0) * 1000,
      user: (s.user_usec ?? 0) * 1000,
    };
    putNonZero(out.cpu.throttling, "periods", s.nr_periods ?? 0);
    putNonZero(out.cpu.throttling, "throttledPeriods", s.nr_throttled ?? 0);
    putNonZero(out.cpu.throttling, "throttledTime", (s.throttled_usec ?? 0) * 1000);
    const psi = parsePsi(read("cpu.pressure"));
    if (psi) out.cpu.psi = psi;
  },
};
