import { describe, expect, test } from "bun:test";
import { expandSlice, isSystemdPath, parseProcCgroup, resolveCgroupPath, systemdPathOf } from "./paths.ts";

// /proc/self/cgroup as on the development machine (hybrid, memory nested by the sandbox).
const HOST = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

describe("parseProcCgroup", () => {
  test("reads v1, named and unified lines", () => {
    expect(parseProcCgroup(HOST)).toEqual({ "name=systemd": "/", pids: "/", memory: "/process_api/abc", cpuacct: "/", cpu: "/", unified: "/" });
    expect(parseProcCgroup("2:cpu,cpuacct:/a/b\n")).toEqual({ cpu: "/a/b", cpuacct: "/a/b" });
    expect(parseProcCgroup("0::/user.slice/x.scope\n")).toEqual({ unified: "/user.slice/x.scope" });
  });
});

describe("resolveCgroupPath (runc semantics)", () => {
  const caller = parseProcCgroup(HOST);
  const at = (mount: string, key: string, cgroupsPath: string | undefined) =>
    resolveCgroupPath({ mount, callerPath: caller[key] ?? "/", cgroupsPath, id: "c1" });
  test("empty → isola-runtime/<id> under the caller's cgroup", () => {
    expect(at("/sys/fs/cgroup/memory", "memory", undefined)).toBe("/sys/fs/cgroup/memory/process_api/abc/isola-runtime/c1");
    expect(at("/sys/fs/cgroup/cpu", "cpu", "")).toBe("/sys/fs/cgroup/cpu/isola-runtime/c1");
  });
  test("relative nests under the caller, absolute is used as is", () => {
    expect(at("/sys/fs/cgroup/memory", "memory", "a/b")).toBe("/sys/fs/cgroup/memory/process_api/abc/a/b");
    expect(at("/sys/fs/cgroup/memory", "memory", "/a/b")).toBe("/sys/fs/cgroup/memory/a/b");
    expect(at("/sys/fs/cgroup/unified", "unified", "/a/b/")).toBe("/sys/fs/cgroup/unified/a/b");
  });
  test("cgroup2 only: relative paths go beside the caller's cgroup, under its parent (runc's v2 driver)", () => {
    const v2 = (callerPath: string, cgroupsPath: string | undefined) =>
      resolveCgroupPath({ mount: "/sys/fs/cgroup", callerPath, cgroupsPath, id: "c1", besideCaller: true });
    expect(v2("/user.slice/user-0.slice/session-1.scope", undefined)).toBe("/sys/fs/cgroup/user.slice/user-0.slice/isola-runtime/c1");
    expect(v2("/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope", "a/b")).toBe("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/a/b");
    expect(v2("/", "a")).toBe("/sys/fs/cgroup/a");
    expect(v2("/top", "a")).toBe("/sys/fs/cgroup/a");
    expect(v2("/user.slice/x.scope", "/abs/c")).toBe("/sys/fs/cgroup/abs/c");
  });
  test("systemd slice:prefix:name maps to the slice tree", () => {
    expect(isSystemdPath("system.slice:docker:abc")).toBe(true);
    expect(isSystemdPath("/a/b")).toBe(false);
    expect(at("/sys/fs/cgroup", "unified", "machine-web.slice:isola:c1")).toBe("/sys/fs/cgroup/machine.slice/machine-web.slice/isola-c1.scope");
    expect(systemdPathOf("::c1")).toBe("/system.slice/c1.scope");
    expect(systemdPathOf("::c1", true)).toBe("/user.slice/c1.scope");
    expect(systemdPathOf("a.slice::sub.slice")).toBe("/a.slice/sub.slice");
    expect(expandSlice("-.slice")).toBe("");
    expect(() => systemdPathOf("x:p:n")).toThrow('slice "x" must end in ".slice"');
  });
  test("refuses .. and the root", () => {
    expect(() => at("/m", "cpu", "a/../../etc")).toThrow('linux.cgroupsPath: "a/../../etc" must not contain ".."');
    expect(() => at("/m", "cpu", "/")).toThrow("names the hierarchy root");
  });
});
