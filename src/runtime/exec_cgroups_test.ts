// Which cgroups an exec'd process joins (no root needed: /proc/<pid>/cgroup is injected).
import { expect, test } from "bun:test";
import { execCgroupDirs, subCgroupDirs } from "./exec.ts";

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

test("--cgroup: sub-cgroups of the container's, for every hierarchy or the named ones", () => {
  const all = () => true;
  expect(subCgroupDirs(hybrid, "hybrid", ["sub"], all)).toEqual({ memory: `${hybrid.memory}/sub`, unified: `${hybrid.unified}/sub` });
  expect(subCgroupDirs(hybrid, "hybrid", ["memory:a/b", "unified:c"], all)).toEqual({ memory: `${hybrid.memory}/a/b`, unified: `${hybrid.unified}/c` });
  expect(subCgroupDirs(hybrid, "hybrid", ["memory:/x"], all)).toEqual({ ...hybrid, memory: `${hybrid.memory}/x` });
  const v2 = { unified: "/sys/fs/cgroup/isola-runtime/c1" };
  expect(subCgroupDirs(v2, "v2", ["leaf"], all)).toEqual({ unified: "/sys/fs/cgroup/isola-runtime/c1/leaf" });
});

test("--cgroup: bad arguments are refused naming them", () => {
  const all = () => true;
  expect(() => subCgroupDirs(hybrid, "hybrid", ["../x"], all)).toThrow('--cgroup "../x": expected [<controller>:]<path> naming a sub-cgroup below the container\'s');
  expect(() => subCgroupDirs(hybrid, "hybrid", ["memory:"], all)).toThrow("expected [<controller>:]<path>");
  expect(() => subCgroupDirs(hybrid, "hybrid", ["cpu:x"], all)).toThrow('--cgroup "cpu:x": the container has no cpu cgroup (it has: memory, unified)');
  expect(() => subCgroupDirs(hybrid, "hybrid", ["memory:a", "memory:b"], all)).toThrow('--cgroup "memory:b": a second path for memory');
  expect(() => subCgroupDirs({ unified: "/u" }, "v2", ["memory:a"], all)).toThrow("cgroup v2 has one hierarchy for every controller");
  expect(() => subCgroupDirs(hybrid, "hybrid", ["nope"], (d) => d.startsWith(hybrid.unified))).toThrow(`--cgroup: ${hybrid.memory}/nope does not exist`);
  expect(() => subCgroupDirs(hybrid, "hybrid", ["a", "b"], all)).toThrow('--cgroup "b": a path for every controller was given already');
});

test("--cgroup: a controller's path wins over the path for all, in any order; co-mounted controllers go together", () => {
  const all = () => true;
  const want = { memory: `${hybrid.memory}/x`, unified: `${hybrid.unified}/y` };
  expect(subCgroupDirs(hybrid, "hybrid", ["memory:x", "y"], all)).toEqual(want);
  expect(subCgroupDirs(hybrid, "hybrid", ["y", "memory:x"], all)).toEqual(want);
  const comounted = { cpu: "/sys/fs/cgroup/cpu,cpuacct/c1", cpuacct: "/sys/fs/cgroup/cpu,cpuacct/c1", memory: "/sys/fs/cgroup/memory/c1" };
  expect(subCgroupDirs(comounted, "v1", ["cpu:x"], all)).toEqual({ cpu: "/sys/fs/cgroup/cpu,cpuacct/c1/x", cpuacct: "/sys/fs/cgroup/cpu,cpuacct/c1/x", memory: "/sys/fs/cgroup/memory/c1" });
  expect(() => subCgroupDirs(comounted, "v1", ["cpu:x", "cpuacct:z"], all)).toThrow("--cgroup: cpuacct shares its hierarchy with another controller given another path (x and z)");
});
