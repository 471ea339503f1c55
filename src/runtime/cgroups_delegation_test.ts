import { describe, expect, test } from "bun:test";
import { delegatedCgroupDir } from "./cgroups.ts";

describe("delegated cgroup v2 subtree for callers without root", () => {
  const own = "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope";
  const writable = (ok: string[]) => (p: string) => ok.includes(p);
  const dir = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice";
  test("a pure v2 host and a writable parent of the own cgroup (where containers go): that directory", () => {
    expect(delegatedCgroupDir(`0::${own}\n`, writable([dir, `${dir}/cgroup.procs`]))).toBe(dir);
  });
  test("the own cgroup writable but not its parent (a login session's scope): none", () => {
    const session = "/user.slice/user-1000.slice/session-2.scope";
    expect(delegatedCgroupDir(`0::${session}\n`, writable([`/sys/fs/cgroup${session}`, `/sys/fs/cgroup${session}/cgroup.procs`]))).toBeUndefined();
    // the root of a cgroup namespace can be delegated (rootless podman in a pod): access decides
    expect(delegatedCgroupDir("0::/\n", writable(["/sys/fs/cgroup", "/sys/fs/cgroup/cgroup.procs"]))).toBe("/sys/fs/cgroup");
    expect(delegatedCgroupDir("0::/\n", writable([]))).toBeUndefined();
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
