// What podman and containerd configs need from the plan: tmpcopyup tmpfs mounts, and a v1
// "cgroup" mount without a cgroup namespace that shows the container's own cgroups.
import { describe, expect, test } from "bun:test";
import { defaultSpec } from "../oci/defaults.ts";
import { compilePlan, type CompileOptions } from "./compile.ts";
import { MS, parseMountOptions } from "./mountopts.ts";

const opts = (over: Partial<CompileOptions> = {}): CompileOptions => ({
  id: "c1",
  bundle: "/b",
  rootfs: "/b/rootfs",
  execFifo: "/run/isola/c1/exec.fifo",
  console: { socket: "/run/console.sock" },
  host: { sourceKinds: {}, cgroupLayout: "hybrid", cgroupV1Hierarchies: ["cpu,cpuacct", "memory", "name=systemd"] },
  ...over,
});

const init = (spec = defaultSpec(), over: Partial<CompileOptions> = {}) => compilePlan(spec, opts(over)).sections.INIT;

describe("tmpcopyup", () => {
  test("is parsed as copy-up, not as fs data", () => {
    const p = parseMountOptions(["rw", "nosuid", "tmpcopyup"], "tmpfs");
    expect(p.copyUp).toBe(true);
    expect(p.data).toBe("");
    expect(p.recAttrSet).toBe(0);
  });

  test("a tmpfs with it mounts through MOUNT_COPYUP_IN_ROOT; other types ignore it (as runc)", () => {
    const s = defaultSpec();
    s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["rw", "nosuid", "nodev", "tmpcopyup"] });
    s.mounts!.push({ destination: "/q", type: "mqueue", source: "mqueue", options: ["tmpcopyup"] });
    const steps = init(s);
    const tmp = steps.find((x) => x.args[2] === "/tmp")!;
    expect(tmp.step).toBe("MOUNT_COPYUP_IN_ROOT");
    expect(tmp.args).toEqual(["/b/rootfs", "tmpfs", "/tmp", "tmpfs", MS.NOSUID | MS.NODEV, "", 1]);
    expect(steps.find((x) => x.args[2] === "/q")!.step).toBe("MOUNT_IN_ROOT");
  });
});

describe("cgroup mount on v1/hybrid without a cgroup namespace", () => {
  const cgroupSpec = () => {
    const s = defaultSpec();
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "cgroup");
    return s;
  };
  const dirs = {
    cpu: "/sys/fs/cgroup/cpu,cpuacct/p/c1",
    cpuacct: "/sys/fs/cgroup/cpu,cpuacct/p/c1",
    memory: "/sys/fs/cgroup/memory/p/c1",
    "name=systemd": "/sys/fs/cgroup/systemd/p/c1",
    unified: "/sys/fs/cgroup/unified/p/c1",
  };
  const cgroupSteps = (s = cgroupSpec(), over: Partial<CompileOptions> = {}) =>
    init(s, over).filter((x) => x.origin === `mounts[${s.mounts!.findIndex((m) => m.type === "cgroup")}]`);

  test("binds the container's own cgroup of each hierarchy, read-only as asked", () => {
    const steps = cgroupSteps(cgroupSpec(), { cgroupDirs: dirs });
    const binds = steps.filter((x) => x.step === "MOUNT_IN_ROOT" && x.args[4] === (MS.BIND | MS.REC)).map((x) => [x.args[1], x.args[2]]);
    expect(binds).toEqual([
      [dirs.cpu, "/sys/fs/cgroup/cpu,cpuacct"],
      [dirs.memory, "/sys/fs/cgroup/memory"],
      [dirs["name=systemd"], "/sys/fs/cgroup/systemd"],
      [dirs.unified, "/sys/fs/cgroup/unified"],
    ]);
    expect(steps.some((x) => x.step === "MOUNT_IN_ROOT" && (x.args[3] === "cgroup" || x.args[3] === "cgroup2"))).toBe(false);
    const remounts = steps.filter((x) => x.step === "REMOUNT_IN_ROOT" && x.args[1] !== "/sys/fs/cgroup");
    expect(remounts.length).toBe(4);
    for (const r of remounts) expect(Number(r.args[2]) & MS.RDONLY).toBe(MS.RDONLY);
  });

  test("with the detached mount API the own cgroups are attached read-only already (no remount by path)", () => {
    const base = opts();
    const steps = cgroupSteps(cgroupSpec(), { cgroupDirs: dirs, host: { ...base.host, detachedMounts: true } });
    const attached = steps.filter((x) => x.step === "ATTACH_TREE_IN_ROOT");
    expect(attached.map((x) => [x.args[2], x.args[3]])).toEqual([
      [dirs.cpu, "/sys/fs/cgroup/cpu,cpuacct"],
      [dirs.memory, "/sys/fs/cgroup/memory"],
      [dirs["name=systemd"], "/sys/fs/cgroup/systemd"],
      [dirs.unified, "/sys/fs/cgroup/unified"],
    ]);
    for (const a of attached) expect(Number(a.args[6]) & 0x1).toBe(0x1); // MOUNT_ATTR_RDONLY set before attaching
    expect(steps.filter((x) => x.step === "REMOUNT_IN_ROOT" && x.args[1] !== "/sys/fs/cgroup")).toEqual([]);
  });

  test("with a cgroup namespace (or no cgroup dirs) the hierarchies are mounted as before", () => {
    for (const steps of [cgroupSteps(defaultSpec(), { cgroupDirs: dirs }), cgroupSteps(cgroupSpec())])
      expect(steps.filter((x) => x.step === "MOUNT_IN_ROOT" && x.args[3] === "cgroup").length).toBe(3);
  });
});
