import { describe, expect, test } from "bun:test";
import { delegatedCgroupDir } from "./cgroups.ts";

describe("delegated cgroup v2 subtree for callers without root", () => {
  const own = "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope";
  const writable = (ok: string[]) => (p: string) => ok.includes(p);
  const dir = `/sys/fs/cgroup${own}`;
  test("a pure v2 host and a writable own cgroup: that directory", () => {
    expect(delegatedCgroupDir(`0::${own}\n`, writable([dir, `${dir}/cgroup.procs`]))).toBe(dir);
  });
  test("not writable, or its cgroup.procs not writable: none", () => {
    expect(delegatedCgroupDir(`0::${own}\n`, writable([]))).toBeUndefined();
    expect(delegatedCgroupDir(`0::${own}\n`, writable([dir]))).toBeUndefined();
  });
  test("v1 or hybrid hosts: none", () => {
    expect(delegatedCgroupDir(`12:memory:/x\n0::${own}\n`, () => true)).toBeUndefined();
    expect(delegatedCgroupDir("3:cpu,cpuacct:/x\n", () => true)).toBeUndefined();
  });
});
