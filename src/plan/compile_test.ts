import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { defaultSpec } from "../oci/defaults.ts";
import type { Spec } from "../oci/types.ts";
import { CLONE, compilePlan, PlanError, type CompileOptions } from "./compile.ts";
import { encodePlan } from "./encode.ts";
import { MS, parseMountOptions } from "./mountopts.ts";
import { renderPlan } from "./render.ts";

const opts = (over: Partial<CompileOptions> = {}): CompileOptions => ({
  id: "c1",
  bundle: "/b",
  rootfs: "/b/rootfs",
  execFifo: "/run/isola/c1/exec.fifo",
  console: { socket: "/run/console.sock" },
  host: { sourceKinds: { "/host/data": "dir", "/host/file": "file" }, cgroupLayout: "hybrid", cgroupV1Hierarchies: ["cpu,cpuacct", "memory", "name=systemd"] },
  ...over,
});

function golden(name: string, text: string) {
  const file = new URL(`./testdata/${name}.plan.txt`, import.meta.url);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, "utf8"));
}

describe("compilePlan", () => {
  test("golden: runc's default spec", () => {
    golden("default", renderPlan(compilePlan(defaultSpec(), opts())));
  });

  test("golden: user namespace, joined namespaces, binds, devices, hooks, seccomp, --no-pivot", () => {
    const s = defaultSpec();
    s.process!.user = { uid: 1000, gid: 1000, additionalGids: [10], umask: 0o077 };
    s.process!.cwd = "/home/app";
    s.process!.oomScoreAdj = 100;
    s.linux!.namespaces = [{ type: "user" }, { type: "mount" }, { type: "pid" }, { type: "network", path: "/var/run/netns/n1" }, { type: "time" }, { type: "cgroup" }];
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.timeOffsets = { monotonic: { secs: 10 } };
    s.linux!.devices = [{ type: "c", path: "/dev/fuse", major: 10, minor: 229 }];
    s.linux!.rootfsPropagation = "rshared";
    s.mounts!.push(
      { destination: "/data", type: "bind", source: "/host/data", options: ["rbind", "ro", "rprivate"] },
      { destination: "/etc/f", source: "/host/file", options: ["bind"] },
    );
    s.hooks = { createContainer: [{ path: "/hook", args: ["hook", "x"], env: ["A=1"], timeout: 3 }], startContainer: [{ path: "/s" }] };
    const plan = compilePlan(s, opts({ noPivot: true, noNewKeyring: true, preserveFds: 2, cgroupDirs: { memory: "/sys/fs/cgroup/memory/x", cpu: "/sys/fs/cgroup/cpu,cpuacct/x", cpuacct: "/sys/fs/cgroup/cpu,cpuacct/x", unified: "/sys/fs/cgroup/unified/x" }, seccomp: { flags: 0, program: new Uint8Array(16) } }));
    expect(plan.cloneFlags).toBe(0); // a namespace joined by path: stage 1 joins it, then unshares the user namespace
    expect(plan.syncs).toEqual(["createRuntime"]);
    golden("userns", renderPlan(plan));
  });

  test("cgroups: stage 0 moves itself through v1 tasks files and clones stage 1 into the v2 directory", () => {
    const hybrid = compilePlan(defaultSpec(), opts({ cgroupDirs: { memory: "/cg/memory/c1", cpu: "/cg/cpu,cpuacct/c1", cpuacct: "/cg/cpu,cpuacct/c1", unified: "/cg/unified/c1" } }));
    const pre = hybrid.sections.PRE.filter((s) => s.step === "JOIN_CGROUP" || s.step === "CLONE_INTO_CGROUP");
    // co-mounted controllers share a directory: joined once; all before the clone, the namespace is made by stage 1
    expect(pre.map((s) => [s.step, s.args[0]])).toEqual([
      ["JOIN_CGROUP", "/cg/memory/c1/tasks"],
      ["JOIN_CGROUP", "/cg/cpu,cpuacct/c1/tasks"],
      ["CLONE_INTO_CGROUP", "/cg/unified/c1"],
    ]);
    expect(Number(hybrid.sections.STAGE1.find((s) => s.step === "UNSHARE")!.args[0]) & CLONE.NEWCGROUP).toBe(CLONE.NEWCGROUP);

    const v2 = compilePlan(defaultSpec(), opts({ cgroupDirs: { unified: "/sys/fs/cgroup/c1" }, host: { ...opts().host, cgroupLayout: "v2", cgroupV1Hierarchies: [] } }));
    expect(v2.sections.PRE.filter((s) => s.step === "JOIN_CGROUP" || s.step === "CLONE_INTO_CGROUP").map((s) => [s.step, s.args[0]])).toEqual([["CLONE_INTO_CGROUP", "/sys/fs/cgroup/c1"]]);

    // no cgroups (rootless without a delegated subtree): nothing to join
    expect(compilePlan(defaultSpec(), opts()).sections.PRE.some((s) => s.step === "JOIN_CGROUP" || s.step === "CLONE_INTO_CGROUP")).toBe(false);
  });

  test("the encoding starts with its length and the magic", () => {
    const bytes = encodePlan(compilePlan(defaultSpec(), opts()));
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(0, true)).toBe(bytes.length - 4);
    expect(dv.getUint32(4, true)).toBe(0x504f5349);
  });

  test("errors name the field", () => {
    const s: Spec = defaultSpec();
    s.mounts!.push({ destination: "/x", type: "bind", source: "/nope", options: ["bind"] });
    expect(() => compilePlan(s, opts())).toThrow(new PlanError("mounts[7].source", "/nope does not exist (expected a file or directory to bind)"));
    const t = defaultSpec();
    t.linux!.namespaces = t.linux!.namespaces!.filter((n) => n.type !== "mount");
    expect(() => compilePlan(t, opts())).toThrow(/linux.namespaces: a new mount namespace is required/);
  });

  test("recursive mount options (runc's rro, rnosuid, rnoatime, ...) become one mount_setattr after the mount and its propagation", () => {
    const s = defaultSpec();
    s.mounts!.push({ destination: "/y", type: "bind", source: "/host/data", options: ["rbind", "rslave", "rro", "rnosuid", "rnoatime", "rrw", "rro", "rnosymfollow"] });
    const steps = compilePlan(s, opts()).sections.INIT.filter((st) => st.origin === "mounts[7]");
    expect(steps.map((st) => st.step)).toEqual(["MOUNT_IN_ROOT", "REMOUNT_IN_ROOT", "SETATTR_IN_ROOT"]);
    // set: rdonly | nosuid | noatime | nosymfollow; clear: the atime mask
    expect(steps[2]!.args.slice(2)).toEqual([0x1 | 0x2 | 0x10 | 0x200000, 0x70]);
    const t = defaultSpec();
    t.mounts!.push({ destination: "/z", type: "tmpfs", source: "tmpfs", options: ["rnoexec", "rexec", "rdev"] });
    const last = compilePlan(t, opts()).sections.INIT.filter((st) => st.origin === "mounts[7]").at(-1)!;
    expect(last.step).toBe("SETATTR_IN_ROOT");
    expect(last.args.slice(2)).toEqual([0, 0x8 | 0x4]);
  });

  test("ambient capabilities are raised only when permitted and inheritable", () => {
    const s = defaultSpec();
    s.process!.capabilities!.inheritable = ["CAP_KILL"];
    const caps = compilePlan(s, opts()).sections.INIT.find((x) => x.step === "CAPS")!;
    expect(caps.args[3]).toBe(1n << 5n);
  });

  test("a non-root user without capabilities in the config gets none", () => {
    const s = defaultSpec();
    delete s.process!.capabilities;
    s.process!.user = { uid: 5, gid: 5 };
    const caps = compilePlan(s, opts()).sections.INIT.find((x) => x.step === "CAPS")!;
    expect(caps.args).toEqual([0n, 0n, 0n, 0n]);
  });
});

describe("parseMountOptions", () => {
  test("flags, clears, propagation and data as runc parses them", () => {
    const p = parseMountOptions(["rbind", "ro", "nosuid", "rw", "noexec", "rslave", "size=1m", "mode=755"], undefined);
    expect(p.bind).toBe(true);
    expect(p.flags).toBe(MS.BIND | MS.REC | MS.NOSUID | MS.NOEXEC);
    expect(p.remountFlags).toBe(MS.NOSUID | MS.NOEXEC);
    expect(p.propagation).toEqual([MS.SLAVE | MS.REC]);
    expect(p.data).toBe("size=1m,mode=755");
  });
});

describe("binds on a kernel with the detached mount API", () => {
  test("one ATTACH_TREE_IN_ROOT: cloned, flagged, attached, propagated through its fd; no remount by path", () => {
    const s = defaultSpec();
    s.mounts!.push({ destination: "/d", type: "bind", source: "/host/data", options: ["rbind", "ro", "nosuid", "noatime", "rslave", "rnodev"] });
    const o = opts();
    o.host = { ...o.host, detachedMounts: true };
    const steps = compilePlan(s, o).sections.INIT.filter((st) => st.origin === "mounts[7]");
    expect(steps.map((st) => st.step)).toEqual(["ATTACH_TREE_IN_ROOT"]);
    // root, slot (none), source, dest, recursive, create (dir), set: rdonly|nosuid|noatime, clear: the atime mask, recursive: nodev, propagation: rslave
    expect(steps[0]!.args).toEqual(["/b/rootfs", -1, "/host/data", "/d", 1, 1, 0x1 | 0x2 | 0x10, 0x70, 0x4, 0, (1 << 19) | (1 << 14)]);
    // without the API: mount, then remount and propagation by path
    const old = compilePlan(s, opts()).sections.INIT.filter((st) => st.origin === "mounts[7]").map((st) => st.step);
    expect(old).toEqual(["MOUNT_IN_ROOT", "REMOUNT_IN_ROOT", "REMOUNT_IN_ROOT", "SETATTR_IN_ROOT"]);
  });

  test("options that clear a flag clear it on the bind (rw of a read-only source), strictatime wins over noatime as in mount(2)", () => {
    const s = defaultSpec();
    s.mounts!.push({ destination: "/d", type: "bind", source: "/host/data", options: ["rbind", "rw", "suid", "noatime", "strictatime"] });
    const o = opts();
    o.host = { ...o.host, detachedMounts: true };
    const st = compilePlan(s, o).sections.INIT.find((x) => x.origin === "mounts[7]")!;
    // set: strictatime; clear: rdonly | nosuid | the atime mask
    expect(st.args.slice(6, 8)).toEqual([0x20, 0x1 | 0x2 | 0x70]);
  });

  test("a tmpfs is one FS_IN_ROOT: made, filled (tmpcopyup), flagged, attached, propagated; superblock flags become options", () => {
    const s = defaultSpec();
    s.mounts!.push({ destination: "/t", type: "tmpfs", source: "tmpfs", options: ["ro", "nosuid", "size=1m", "sync", "tmpcopyup", "shared"] });
    const o = opts();
    o.host = { ...o.host, detachedMounts: true };
    const steps = compilePlan(s, o).sections.INIT.filter((st) => st.origin === "mounts[7]");
    expect(steps.map((st) => st.step)).toEqual(["FS_IN_ROOT"]);
    expect(steps[0]!.args).toEqual(["/b/rootfs", "tmpfs", "/t", "tmpfs", 1, 0x1 | 0x2, 0, 1, "size=1m,sync", 0, 0, 1 << 20]);
  });
});
