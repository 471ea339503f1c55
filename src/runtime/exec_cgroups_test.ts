// Which cgroups an exec'd process joins (no root needed: /proc/<pid>/cgroup is injected).
import { expect, test } from "bun:test";
import { execCgroupDirs } from "./exec.ts";

const hybrid = { memory: "/sys/fs/cgroup/memory/isola-runtime/c1", unified: "/sys/fs/cgroup/unified/isola-runtime/c1" };
const at = (line: string) => () => `12:memory:/isola-runtime/c1\n0::${line}\n`;
const busy = () => "pids memory\n"; // controllers enabled for the children: the directory takes no processes
const leafOk = () => "";

test("the container's cgroups when its init is in them", () => {
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c1"), busy)).toEqual(hybrid);
  // the init moved, but the container's directory still takes processes: it stays the target
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c1/init.scope"), leafOk)).toEqual(hybrid);
});

test("on cgroup v2, the init's own leaf when it moved below the container's cgroup and the directory takes no processes (systemd's init.scope)", () => {
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c1/init.scope"), busy)).toEqual({ ...hybrid, unified: "/sys/fs/cgroup/unified/isola-runtime/c1/init.scope" });
  const v2 = { unified: "/sys/fs/cgroup/machine/isola-runtime/c1" };
  expect(execCgroupDirs(v2, 1, () => "0::/machine/isola-runtime/c1/init.scope\n", busy)).toEqual({ unified: "/sys/fs/cgroup/machine/isola-runtime/c1/init.scope" });
});

test("never outside the container's cgroup; an init that is gone leaves them as they are", () => {
  expect(execCgroupDirs(hybrid, 1, at("/elsewhere/x"), busy)).toEqual(hybrid);
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c10"), busy)).toEqual(hybrid);
  const gone = () => {
    throw new Error("ENOENT");
  };
  expect(execCgroupDirs(hybrid, 1, gone, busy)).toEqual(hybrid);
  expect(execCgroupDirs(hybrid, 1, at("/isola-runtime/c1/init.scope"), gone)).toEqual(hybrid);
  expect(execCgroupDirs({ memory: "/m" }, 1, at("/x"))).toEqual({ memory: "/m" });
});
