// Which cgroups an exec'd process joins (no root needed: /proc/<pid>/cgroup is injected).
import { expect, test } from "bun:test";
import { execCgroupDirs } from "./exec.ts";

const hybrid = { memory: "/sys/fs/cgroup/memory/isola-runtime/c1", unified: "/sys/fs/cgroup/unified/isola-runtime/c1" };
const at = (line: string) => () => `12:memory:/isola-runtime/c1\n0::${line}\n`;

test("the container's cgroups when its init is in them", () => {
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c1"))).toEqual(hybrid);
});

test("on cgroup v2, the init's own leaf when it moved below the container's cgroup (systemd's init.scope)", () => {
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c1/init.scope"))).toEqual({ ...hybrid, unified: "/sys/fs/cgroup/unified/isola-runtime/c1/init.scope" });
  const v2 = { unified: "/sys/fs/cgroup/machine/isola-runtime/c1" };
  expect(execCgroupDirs(v2, 1, () => "0::/machine/isola-runtime/c1/init.scope\n")).toEqual({ unified: "/sys/fs/cgroup/machine/isola-runtime/c1/init.scope" });
});

test("never outside the container's cgroup; an init that is gone leaves them as they are", () => {
  expect(execCgroupDirs(hybrid, 1, at("/elsewhere/x"))).toEqual(hybrid);
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c10"))).toEqual(hybrid);
  expect(execCgroupDirs(hybrid, 1, () => {
    throw new Error("ENOENT");
  })).toEqual(hybrid);
  expect(execCgroupDirs({ memory: "/m" }, 1, at("/x"))).toEqual({ memory: "/m" });
});
