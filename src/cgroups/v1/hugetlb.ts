// cgroup v1 hugetlb controller: hugetlb.<size>.limit_in_bytes per page size.
import { R, type Controller } from "../controller.ts";
import { CgroupError, type CgroupWrite, type LinuxHugepageLimit } from "../resources.ts";
import { parseNumber } from "../convert.ts";
import type { Stats, Reader } from "../stats.ts";

/** Page sizes a hugetlb cgroup offers, from its file names ("hugetlb.2MB.limit_in_bytes" → "2MB"). */
export function hugepageSizes(files: string[]): string[] {
  const sizes = new Set<string>();
  for (const f of files) {
    const m = /^hugetlb\.(\d+[KMG]B)\./.exec(f);
    if (m?.[1]) sizes.add(m[1]);
  }
  return [...sizes].sort();
}

/** Stats of one page size; `v2` selects the v2 file names. */
export function hugetlbStats(read: Reader, sizes: string[], out: Stats, v2: boolean): void {
  for (const s of sizes) {
    const n = (f: string) => parseNumber(read(`hugetlb.${s}.${f}`) ?? "0");
    const usage = v2 ? n("current") : n("usage_in_bytes");
    const max = v2 ? 0 : n("max_usage_in_bytes");
    const failcnt = v2 ? parseNumber(/max (\d+)/.exec(read(`hugetlb.${s}.events`) ?? "")?.[1] ?? "0") : n("failcnt");
    out.hugetlb[s] = { ...(usage ? { usage } : {}), ...(max ? { max } : {}), failcnt };
  }
}

export const hugetlb: Controller & { sizes?: string[] } = {
  name: "hugetlb",
  needs: (r) => (r.hugepageLimits ?? []).length > 0,
  writes: (r, ctx) => hugetlbWrites(r.hugepageLimits ?? [], ctx.current, "limit_in_bytes"),
  stats: () => {
    // needs the directory listing: the driver calls hugetlbStats with the sizes.
  },
};

/** Writes of hugepage limits to hugetlb.<size>.<suffix>; a size the host lacks is an error naming it. */
export function hugetlbWrites(limits: LinuxHugepageLimit[], current: Reader, suffix: string): CgroupWrite[] {
  return limits.map((h, i) => {
    const file = `hugetlb.${h.pageSize}.${suffix}`;
    const field = `${R}.hugepageLimits[${i}].pageSize`;
    if (current(file) === undefined) throw new CgroupError(`${field}: ${JSON.stringify(h.pageSize)} is not a huge page size of this host (${file} is missing)`, field);
    return { file, value: String(h.limit), field: `${R}.hugepageLimits[${i}].limit` };
  });
}
