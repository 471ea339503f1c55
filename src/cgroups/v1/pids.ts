// cgroup v1 pids controller: pids.max (0 or -1: no limit, as runc).
import { R, w, type Controller } from "../controller.ts";
import { parseNumber } from "../convert.ts";
import { putNonZero } from "../stats.ts";

/** The pids.max value for an OCI pids.limit: ≤ 0 means no limit. Same file on v1 and v2. */
export function pidsMax(limit: number): string {
  return limit > 0 ? String(limit) : "max";
}

export const pids: Controller = {
  name: "pids",
  needs: (r) => r.pids !== undefined,
  writes: (r) => (r.pids ? w("pids.max", pidsMax(r.pids.limit), `${R}.pids.limit`) : []),
  stats(read, out) {
    putNonZero(out.pids, "current", parseNumber(read("pids.current") ?? "0"));
    putNonZero(out.pids, "limit", parseNumber(read("pids.max") ?? "0"));
  },
};
