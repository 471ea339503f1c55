// Whether a container's cgroups are frozen, read straight from the paths in its record: what
// `state` and `list` need, without opening the cgroup manager (which reads the mount table).
import { tryRead as read } from "./io.ts";
import type { CgroupRecord } from "./manager.ts";
import { FREEZER_STATE, isFrozenV1 } from "./v1/freezer.ts";
import { isFrozenV2 } from "./v2/freezer.ts";

/** v1 freezer.state says FROZEN, or (no v1 freezer) the v2 cgroup.events says "frozen 1". */
export function recordIsFrozen(record: CgroupRecord): boolean {
  const v1 = record.paths.freezer;
  if (v1 !== undefined) return isFrozenV1(read(`${v1}/${FREEZER_STATE}`));
  const v2 = record.paths.unified;
  return v2 !== undefined && isFrozenV2(read(`${v2}/cgroup.events`));
}
