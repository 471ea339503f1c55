// cgroup v1 net_prio controller: per-interface priorities, one "name prio" line per write.
import { R, type Controller } from "../controller.ts";

export const netPrio: Controller = {
  name: "net_prio",
  needs: (r) => (r.network?.priorities ?? []).length > 0,
  writes: (r) =>
    (r.network?.priorities ?? []).map((p, i) => ({ file: "net_prio.ifpriomap", value: `${p.name} ${p.priority}`, field: `${R}.network.priorities[${i}]` })),
  stats: () => {},
};
