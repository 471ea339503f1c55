// cgroup v2 memory controller: memory.max, memory.low, memory.swap.max; stats from memory.stat.
import { CgroupError, type CgroupWrite } from "../resources.ts";
import { R, w, type Controller } from "../controller.ts";
import { maxOr, parseKeyValues, parseNumber, swapToV2 } from "../convert.ts";
import { memoryEntry, parsePsi } from "../stats.ts";

const F = `${R}.memory`;
const BIG = Number.MAX_SAFE_INTEGER;

export const memory: Controller = {
  name: "memory",
  needs: (r) => {
    const m = r.memory;
    return m !== undefined && [m.limit, m.reservation, m.swap].some((v) => v !== undefined && v !== 0);
  },
  writes(r, ctx) {
    const m = r.memory;
    if (!m) return [];
    const limit = m.limit ?? 0;
    const swap = swapToV2(m.swap ?? 0, limit);
    if (ctx.updating && m.checkBeforeUpdate && limit > 0) {
      const usage = parseNumber(ctx.current("memory.current") ?? "0");
      if (usage > limit) throw new CgroupError(`${F}.limit: ${limit} is below the current usage of ${usage} bytes (checkBeforeUpdate is set)`, `${F}.limit`);
    }
    const out: CgroupWrite[] = [];
    // swappiness, kernel, kernelTCP and disableOOMKiller have no v2 file; ignored as runc and crun do.
    if (swap !== 0) {
      if (ctx.current("memory.swap.max") === undefined && swap > 0) {
        throw new CgroupError(`${F}.swap: ${m.swap} cannot be applied: memory.swap.max is missing (no swap accounting in this kernel)`, `${F}.swap`);
      }
      if (ctx.current("memory.swap.max") !== undefined) out.push(...w("memory.swap.max", maxOr(swap), `${F}.swap`));
    }
    if (limit !== 0) out.push(...w("memory.max", maxOr(limit), `${F}.limit`));
    if (m.reservation !== undefined && m.reservation !== 0) out.push(...w("memory.low", maxOr(m.reservation), `${F}.reservation`));
    return out;
  },
  stats(read, out) {
    const n = (f: string) => parseNumber(read(f) ?? "0", BIG);
    const raw = parseKeyValues(read("memory.stat") ?? "");
    if (raw.file) out.memory.cache = raw.file;
    const events = parseKeyValues(read("memory.events") ?? "");
    const usage = n("memory.current");
    const limit = n("memory.max");
    out.memory.usage = memoryEntry(usage, n("memory.peak"), limit, events.max ?? 0);
    // runc reports v2 swap as memory+swap, to keep v1's meaning.
    if (read("memory.swap.current") !== undefined) {
      const swapLimit = n("memory.swap.max");
      out.memory.swap = memoryEntry(usage + n("memory.swap.current"), n("memory.swap.peak"), swapLimit >= BIG || limit >= BIG ? BIG : swapLimit + limit, 0);
    }
    if (Object.keys(raw).length > 0) out.memory.raw = raw;
    const psi = parsePsi(read("memory.pressure"));
    if (psi) out.memory.psi = psi;
  },
};
