// cgroup v1 net_cls controller: the class id tagged on the container's packets.
import { R, w, type Controller } from "../controller.ts";

export const netCls: Controller = {
  name: "net_cls",
  needs: (r) => r.network?.classID !== undefined,
  writes: (r) => w("net_cls.classid", r.network?.classID, `${R}.network.classID`),
  stats: () => {},
};
