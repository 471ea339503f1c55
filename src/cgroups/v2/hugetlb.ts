// cgroup v2 hugetlb controller: hugetlb.<size>.max per page size.
import type { Controller } from "../controller.ts";
import { hugetlbWrites } from "../v1/hugetlb.ts";

export const hugetlb: Controller = {
  name: "hugetlb",
  needs: (r) => (r.hugepageLimits ?? []).length > 0,
  writes: (r, ctx) => hugetlbWrites(r.hugepageLimits ?? [], ctx.current, "max"),
  stats: () => {
    // needs the directory listing: the driver calls hugetlbStats with the sizes.
  },
};
