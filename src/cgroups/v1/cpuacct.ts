// cgroup v1 cpuacct controller: usage accounting only (no limits).
import type { Controller } from "../controller.ts";
import { parseKeyValues, parseNumber } from "../convert.ts";

/** cpuacct.stat counts USER_HZ ticks; Linux fixes USER_HZ at 100. */
const NS_PER_TICK = 1e9 / 100;

function list(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const v = text.trim().split(/\s+/).filter((x) => x !== "").map(Number);
  return v.length > 0 ? v : undefined;
}

export const cpuacct: Controller = {
  name: "cpuacct",
  needs: () => false,
  writes: () => [],
  stats(read, out) {
    const u = out.cpu.usage;
    const total = parseNumber(read("cpuacct.usage") ?? "0");
    const percpu = list(read("cpuacct.usage_percpu"));
    const kernelPer = list(read("cpuacct.usage_percpu_sys"));
    const userPer = list(read("cpuacct.usage_percpu_user"));
    const st = parseKeyValues(read("cpuacct.stat") ?? "");
    out.cpu.usage = {
      ...(total ? { total } : {}),
      ...(percpu ? { percpu } : {}),
      ...(kernelPer ? { percpu_kernel: kernelPer } : {}),
      ...(userPer ? { percpu_user: userPer } : {}),
      kernel: (st.system ?? 0) * NS_PER_TICK || u.kernel,
      user: (st.user ?? 0) * NS_PER_TICK || u.user,
    };
  },
};
