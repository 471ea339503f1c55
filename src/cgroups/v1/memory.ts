// cgroup v1 memory controller: memory.limit_in_bytes, memsw, soft limit, swappiness, OOM killer.
import { CgroupError, type CgroupWrite } from "../resources.ts";
import { R, w, type Controller } from "../controller.ts";
import { parseKeyValues, parseNumber } from "../convert.ts";
import { memoryEntry } from "../stats.ts";

const LIMIT = "memory.limit_in_bytes";
const MEMSW = "memory.memsw.limit_in_bytes";
const F = `${R}.memory`;

export const memory: Controller = {
  name: "memory",
  needs: (r) => r.memory !== undefined && Object.keys(r.memory).length > 0,
  writes(r, ctx) {
    const m = r.memory;
    if (!m) return [];
    const out: CgroupWrite[] = [];
    const limit = m.limit ?? 0;
    let swap = m.swap ?? 0;
    const hasMemsw = ctx.current(MEMSW) !== undefined;
    if (limit === -1 && swap === 0) swap = -1; // "unlimited memory" means unlimited swap too
    if (swap > 0 && !hasMemsw) {
      throw new CgroupError(`${F}.swap: ${swap} cannot be applied: this kernel has no swap accounting (${MEMSW} is missing; boot with swapaccount=1)`, `${F}.swap`);
    }
    if (ctx.updating && m.checkBeforeUpdate && limit > 0) {
      const usage = parseNumber(ctx.current("memory.usage_in_bytes") ?? "0");
      if (usage > limit) {
        throw new CgroupError(`${F}.limit: ${limit} is below the current usage of ${usage} bytes (checkBeforeUpdate is set)`, `${F}.limit`);
      }
    }
    const lim = w(LIMIT, limit === 0 ? undefined : limit, `${F}.limit`);
    const sw = hasMemsw ? w(MEMSW, swap === 0 ? undefined : swap, `${F}.swap`) : [];
    // The kernel keeps memsw ≥ limit at every step: raise memsw first when it grows.
    const current = parseNumber(ctx.current(MEMSW) ?? "0");
    if (swap === -1 || (swap > 0 && current < swap)) out.push(...sw, ...lim);
    else out.push(...lim, ...sw);
    if (m.reservation !== undefined && m.reservation !== 0) out.push(...w("memory.soft_limit_in_bytes", m.reservation, `${F}.reservation`));
    if (m.kernelTCP !== undefined && m.kernelTCP !== 0) out.push(...w("memory.kmem.tcp.limit_in_bytes", m.kernelTCP, `${F}.kernelTCP`));
    // memory.kernel is ignored, as runc does: kernel memory limits are deprecated (kernel ≥ 5.16 rejects them).
    out.push(...w("memory.swappiness", m.swappiness, `${F}.swappiness`));
    if (m.disableOOMKiller !== undefined) out.push(...w("memory.oom_control", m.disableOOMKiller ? 1 : 0, `${F}.disableOOMKiller`));
    return out;
  },
  stats(read, out) {
    const n = (f: string) => parseNumber(read(f) ?? "0");
    const entry = (prefix: string) =>
      memoryEntry(n(`${prefix}usage_in_bytes`), n(`${prefix}max_usage_in_bytes`), n(`${prefix}limit_in_bytes`), n(`${prefix}failcnt`));
    const raw = parseKeyValues(read("memory.stat") ?? "");
    out.memory.cache = raw.total_cache ?? raw.cache ?? 0;
    if (!out.memory.cache) delete out.memory.cache;
    out.memory.usage = entry("memory.");
    if (read(MEMSW) !== undefined) out.memory.swap = entry("memory.memsw.");
    out.memory.kernel = entry("memory.kmem.");
    out.memory.kernelTCP = entry("memory.kmem.tcp.");
    if (Object.keys(raw).length > 0) out.memory.raw = raw;
  },
};
