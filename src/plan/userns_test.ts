// Plans for user namespaces: who writes the maps, setgroups, idmapped mounts, loopback.
import { describe, expect, test } from "bun:test";
import { defaultSpec } from "../oci/defaults.ts";
import type { IdMapping, Spec } from "../oci/types.ts";
import { compilePlan, PlanError, type CallerFacts, type CompileOptions, type PlanStep } from "./compile.ts";

const opts = (caller?: CallerFacts): CompileOptions => ({
  id: "c1",
  bundle: "/b",
  rootfs: "/b/rootfs",
  execFifo: "/run/isola/c1/exec.fifo",
  host: { sourceKinds: { "/host/data": "dir" }, cgroupLayout: "v2", cgroupV1Hierarchies: [], ...(caller ? { caller } : {}) },
});

function userSpec(uids: IdMapping[], gids = uids): Spec {
  const s = defaultSpec();
  s.process!.terminal = false;
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = uids;
  s.linux!.gidMappings = gids;
  return s;
}
const brief = (steps: PlanStep[]) => steps.map((s) => [s.step, ...s.args.map((a) => (a instanceof Uint8Array ? "<bytes>" : String(a)))].join(" "));
const user = { uid: 1001, gid: 1002 };
const helpers = { newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap" };

describe("id maps of a new user namespace", () => {
  test("root writes both maps directly and keeps setgroups", () => {
    const p = compilePlan(userSpec([{ containerID: 0, hostID: 100000, size: 65536 }]), opts());
    expect(brief(p.sections.PARENT)).toEqual(["WRITE_CHILD_FILE uid_map 0 100000 65536\n", "WRITE_CHILD_FILE gid_map 0 100000 65536\n"]);
    expect(p.sections.INIT.some((s) => s.step === "SETGROUPS")).toBe(true);
  });

  test("a caller without root maps its own ids directly, denying setgroups before gid_map", () => {
    const s = userSpec([{ containerID: 0, hostID: 1001, size: 1 }], [{ containerID: 0, hostID: 1002, size: 1 }]);
    const p = compilePlan(s, opts({ ...user, ...helpers }));
    expect(brief(p.sections.PARENT)).toEqual([
      "WRITE_CHILD_FILE uid_map 0 1001 1\n",
      "WRITE_CHILD_FILE setgroups deny",
      "WRITE_CHILD_FILE gid_map 0 1002 1\n",
    ]);
    // setgroups is denied: no SETGROUPS (it would fail), and none of the caller's groups can be set
    expect(p.sections.INIT.some((st) => st.step === "SETGROUPS")).toBe(false);
    s.process!.user.additionalGids = [0];
    expect(() => compilePlan(s, opts({ ...user, ...helpers }))).toThrow(/^process.user.additionalGids: can't be set/);
  });

  test("subordinate ranges go through newuidmap/newgidmap with the child's pid", () => {
    const maps = [{ containerID: 0, hostID: 1001, size: 1 }, { containerID: 1, hostID: 300000, size: 65536 }];
    const p = compilePlan(userSpec(maps, [{ containerID: 0, hostID: 1002, size: 1 }, { containerID: 1, hostID: 300000, size: 65536 }]), opts({ ...user, ...helpers }));
    expect(brief(p.sections.PARENT)).toEqual([
      "RUN_CHILD_HELPER /usr/bin/newuidmap {pid} 0 1001 1 1 300000 65536",
      "RUN_CHILD_HELPER /usr/bin/newgidmap {pid} 0 1002 1 1 300000 65536",
    ]);
    expect(p.sections.INIT.some((st) => st.step === "SETGROUPS")).toBe(true);
  });

  test("without the helpers, more than the caller's own id is refused naming the mapping", () => {
    const s = userSpec([{ containerID: 0, hostID: 300000, size: 10 }]);
    expect(() => compilePlan(s, opts(user))).toThrow(new PlanError("linux.uidMappings", `mapping more than your own uid 1001 without root needs newuidmap (Debian package uidmap); or map only your own id: [{"containerID":0,"hostID":1001,"size":1}]`));
  });

  test("joining a user namespace writes no maps and clones without CLONE_NEWUSER", () => {
    const s = defaultSpec();
    s.process!.terminal = false;
    s.linux!.namespaces!.push({ type: "user", path: "/proc/42/ns/user" });
    const p = compilePlan(s, opts());
    expect(p.sections.PARENT).toEqual([]);
    expect(brief(p.sections.STAGE1)).toContain(`SETNS /proc/42/ns/user ${0x10000000}`);
    expect(p.cloneFlags & 0x10000000).toBe(0);
  });

  test("a joined user namespace with other namespaces joined by path: runc's three passes in stage 1", () => {
    const s = defaultSpec();
    s.process!.terminal = false;
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: "/run/netns/pod" } : n));
    s.linux!.namespaces!.push({ type: "user", path: "/proc/42/ns/user" });
    const stage1 = brief(compilePlan(s, opts()).sections.STAGE1);
    expect(stage1.slice(0, 5)).toEqual([
      `SETNS_LENIENT /run/netns/pod ${0x40000000}`, // what our privileges allow now (a host-owned netns)
      `SETNS /proc/42/ns/user ${0x10000000}`,
      "SETNS_PENDING", // what needed the user namespace
      "SETGID 0",
      "SETUID 0",
    ]);
    expect(stage1[5]).toMatch(/^UNSHARE /);
    // sysfs: mounted when the joined user namespace owns the netns, else the host's bound
    const plan = compilePlan(s, opts());
    expect(plan.sections.INIT.find((x) => x.origin === "mounts[5]")).toMatchObject({ step: "MOUNT_OR_BIND_IN_ROOT", args: [expect.anything(), "sysfs", "/sys", "sysfs", expect.anything(), "", expect.anything(), "/sys"] });
  });
});

describe("idmapped mounts", () => {
  const withMount = (m: NonNullable<Spec["mounts"]>[number], s = userSpec([{ containerID: 0, hostID: 100000, size: 65536 }])) => {
    s.mounts!.push(m);
    return s;
  };

  test("stage 0 makes the userns and the idmapped tree before joining anything; the init moves it", () => {
    const s = withMount({ destination: "/data", type: "bind", source: "/host/data", options: ["rbind", "ro"], uidMappings: [{ containerID: 1000, hostID: 100000, size: 1 }], gidMappings: [{ containerID: 1000, hostID: 100000, size: 1 }] });
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: "/proc/1/ns/net" } : n));
    const p = compilePlan(s, opts());
    expect(brief(p.sections.PRE).slice(0, 3)).toEqual([
      "USERNS_FD 0 1000 100000 1\n 1000 100000 1\n",
      "OPEN_TREE 1 /host/data 1",
      "IDMAP_TREE 1 0 0",
    ]);
    const init = brief(p.sections.INIT);
    expect(init).toContain("MOVE_MOUNT_IN_ROOT /b/rootfs 1 /data 1");
    expect(init.some((l) => l.startsWith("MOUNT_IN_ROOT /b/rootfs /host/data"))).toBe(false);
    // ro still applies, as a bind remount after the move
    expect(init[init.indexOf("MOVE_MOUNT_IN_ROOT /b/rootfs 1 /data 1") + 1]).toMatch(/^REMOUNT_IN_ROOT \/b\/rootfs \/data/);
  });

  test("ridmap without mappings uses the container's maps, recursively", () => {
    const p = compilePlan(withMount({ destination: "/data", type: "bind", source: "/host/data", options: ["rbind", "ridmap"] }), opts());
    expect(brief(p.sections.PRE).slice(0, 3)).toEqual(["USERNS_FD 0 0 100000 65536\n 0 100000 65536\n", "OPEN_TREE 1 /host/data 1", "IDMAP_TREE 1 0 1"]);
  });

  test.each([
    ["idmap without mappings or a user namespace", (() => { const s = defaultSpec(); s.process!.terminal = false; return withMount({ destination: "/d", type: "bind", source: "/host/data", options: ["bind", "idmap"] }, s); })(), opts(), /^mounts\[7\]\.options: "idmap" without mount mappings/],
    ["only uid mappings", withMount({ destination: "/d", type: "bind", source: "/host/data", options: ["bind"], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }), opts(), /^mounts\[7\]\.gidMappings: an idmapped mount needs both/],
    ["not a bind mount", withMount({ destination: "/d", type: "tmpfs", source: "tmpfs", options: ["idmap"] }), opts(), /^mounts\[7\]\.options: idmapped mounts are supported for bind mounts only/],
    ["a caller without root", withMount({ destination: "/d", type: "bind", source: "/host/data", options: ["bind", "idmap"] }, userSpec([{ containerID: 0, hostID: 1001, size: 1 }], [{ containerID: 0, hostID: 1002, size: 1 }])), opts({ ...user, ...helpers }), /^mounts\[7\]\.uidMappings: idmapped mounts need root/],
  ])("refused: %s", (_n, s, o, err) => {
    expect(() => compilePlan(s, o)).toThrow(err);
  });
});

describe("network namespace", () => {
  test("a new one gets loopback up; a joined one is left alone", () => {
    const s = defaultSpec();
    s.process!.terminal = false;
    expect(brief(compilePlan(s, opts()).sections.INIT)).toContain("LOOPBACK_UP");
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: "/proc/1/ns/net" } : n));
    expect(brief(compilePlan(s, opts()).sections.INIT)).not.toContain("LOOPBACK_UP");
  });
});
