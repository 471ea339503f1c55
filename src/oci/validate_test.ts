import { describe, expect, test } from "bun:test";
import { defaultSpec } from "./defaults.ts";
import { validateId, validateSpec } from "./validate.ts";

const withSpec = (edit: (s: Record<string, any>) => void) => {
  const s = structuredClone(defaultSpec()) as Record<string, any>;
  edit(s);
  return validateSpec(s);
};

describe("validateSpec", () => {
  test("runc's default spec is valid", () => {
    expect(validateSpec(defaultSpec())).toEqual([]);
  });

  test.each([
    ["not an object", () => validateSpec("x"), 'config: must be an object (got "x")'],
    ["missing ociVersion", () => withSpec((s) => delete s.ociVersion), "ociVersion: required"],
    ["missing root", () => withSpec((s) => delete s.root), "root: required"],
    ["uid type", () => withSpec((s) => (s.process.user.uid = -1)), "process.user.uid: must be an integer in 0..4294967294 (got -1)"],
    ["args empty", () => withSpec((s) => (s.process.args = [])), "process.args: must name at least the program to run (got [])"],
    ["env format", () => withSpec((s) => (s.process.env = ["NOEQUALS"])), 'process.env[0]: must be NAME=value (got "NOEQUALS")'],
    ["relative cwd", () => withSpec((s) => (s.process.cwd = "rel")), 'process.cwd: must be an absolute path (got "rel")'],
    ["unknown capability", () => withSpec((s) => s.process.capabilities.bounding.push("CAP_FLY")), "process.capabilities.bounding[3]: is not a capability"],
    ["rlimit type", () => withSpec((s) => (s.process.rlimits = [{ type: "RLIMIT_BOGUS", soft: 1, hard: 1 }])), 'process.rlimits[0].type: must be one of'],
    ["rlimit soft > hard", () => withSpec((s) => (s.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 10, hard: 5 }])), "process.rlimits[0].soft: must not exceed hard (5) (got 10)"],
    ["oomScoreAdj range", () => withSpec((s) => (s.process.oomScoreAdj = 2000)), "process.oomScoreAdj: must be an integer in -1000..1000 (got 2000)"],
    ["relative mount destination", () => withSpec((s) => s.mounts.push({ destination: "x", type: "tmpfs" })), 'mounts[7].destination: must be an absolute path inside the container (got "x")'],
    ["mount options type", () => withSpec((s) => (s.mounts[0].options = "ro")), 'mounts[0].options: must be an array (got "ro")'],
    ["unknown namespace", () => withSpec((s) => s.linux.namespaces.push({ type: "vm" })), 'linux.namespaces[6].type: is not a namespace type (expected one of pid, network, mount, ipc, uts, user, cgroup, time) (got "vm")'],
    ["duplicate namespace", () => withSpec((s) => s.linux.namespaces.push({ type: "pid" })), 'linux.namespaces[6].type: is listed twice (got "pid")'],
    ["relative namespace path", () => withSpec((s) => (s.linux.namespaces[1].path = "netns")), 'linux.namespaces[1].path: must be an absolute path (got "netns")'],
    ["user ns without maps", () => withSpec((s) => s.linux.namespaces.push({ type: "user" })), "linux.uidMappings: a new user namespace needs at least one uid mapping"],
    ["maps without user ns", () => withSpec((s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }])), "linux.uidMappings: mappings need a new user namespace"],
    ["hostname without uts", () => withSpec((s) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "uts"))), "hostname: setting a hostname needs a new uts namespace"],
    ["time offsets without time ns", () => withSpec((s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } })), "linux.timeOffsets: needs a new time namespace"],
    ["bad clock", () => withSpec((s) => { s.linux.namespaces.push({ type: "time" }); s.linux.timeOffsets = { realtime: { secs: 1 } }; }), 'linux.timeOffsets.realtime: clock must be monotonic or boottime (got "realtime")'],
    ["device type", () => withSpec((s) => (s.linux.devices = [{ type: "x", path: "/dev/x", major: 1, minor: 1 }])), 'linux.devices[0].type: must be c, b, u or p (got "x")'],
    ["device numbers", () => withSpec((s) => (s.linux.devices = [{ type: "c", path: "/dev/x" }])), "linux.devices[0].major: required"],
    ["propagation", () => withSpec((s) => (s.linux.rootfsPropagation = "weird")), "linux.rootfsPropagation: must be one of"],
    ["host sysctl", () => withSpec((s) => (s.linux.sysctl = { "kernel.panic": "1" })), "linux.sysctl.kernel.panic: is not a namespaced sysctl"],
    ["net sysctl without netns", () => withSpec((s) => { s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "network"); s.linux.sysctl = { "net.ipv4.ip_forward": "1" }; }), "linux.sysctl.net.ipv4.ip_forward: needs a network namespace of the container's own"],
    ["hook path", () => withSpec((s) => (s.hooks = { prestart: [{ path: "rel" }] })), 'hooks.prestart[0].path: must be an absolute path (got "rel")'],
    ["hook kind", () => withSpec((s) => (s.hooks = { preboot: [] })), 'hooks.preboot: is not a hook kind'],
    ["hook timeout", () => withSpec((s) => (s.hooks = { poststop: [{ path: "/x", timeout: 0 }] })), "hooks.poststop[0].timeout: must be an integer ≥ 1 (got 0)"],
  ])("%s", (_name, run, message) => {
    const problems = (run as () => string[])();
    expect(problems.some((p) => p.includes(message as string))).toBe(true);
  });

  test("every problem is reported, not only the first", () => {
    const problems = withSpec((s) => {
      s.process.user.uid = "x";
      s.mounts[0].destination = "rel";
    });
    expect(problems.length).toBe(2);
  });
});

describe("validateId", () => {
  test("accepts runc's id characters and refuses the rest", () => {
    expect(validateId("abc_1+2-3.4")).toBeUndefined();
    expect(validateId("")).toContain("must not be empty");
    expect(validateId("..")).toContain("not allowed");
    expect(validateId("a/b")).toContain("characters outside");
    expect(validateId("a b")).toContain("characters outside");
  });
});

describe("id mappings", () => {
  const userns = (edit: (s: Record<string, any>) => void) =>
    withSpec((s) => {
      s.linux.namespaces.push({ type: "user" });
      s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      edit(s);
    });

  test("a well-formed user namespace is valid", () => {
    expect(userns(() => {})).toEqual([]);
  });
  test.each([
    ["overlapping container ids", (s: any) => s.linux.uidMappings.push({ containerID: 1000, hostID: 300000, size: 10 }),
      "linux.uidMappings[1]: overlaps linux.uidMappings[0] (container ids 0..65535)"],
    ["overlapping host ids", (s: any) => s.linux.gidMappings.push({ containerID: 70000, hostID: 165535, size: 10 }),
      "linux.gidMappings[1]: overlaps linux.gidMappings[0] (host ids 100000..165535)"],
    ["container range past the largest id", (s: any) => (s.linux.uidMappings = [{ containerID: 4294967290, hostID: 0, size: 10 }]),
      "linux.uidMappings[0]: container ids 4294967290..4294967299 go past 4294967294, the largest id"],
    ["host range past the largest id", (s: any) => (s.linux.gidMappings = [{ containerID: 0, hostID: 4294967200, size: 100 }]),
      "linux.gidMappings[0]: host ids 4294967200..4294967299 go past 4294967294, the largest id"],
    ["more than 340 lines", (s: any) => (s.linux.uidMappings = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 100000 + i, size: 1 }))),
      "linux.uidMappings: 341 mappings, the kernel accepts at most 340"],
    ["uid not mapped", (s: any) => (s.process.user.uid = 70000),
      "process.user.uid: 70000 is not mapped by linux.uidMappings (container ids 0..65535)"],
    ["gid not mapped", (s: any) => (s.linux.gidMappings = [{ containerID: 1, hostID: 100000, size: 10 }]),
      "process.user.gid: 0 is not mapped by linux.gidMappings (container ids 1..10)"],
    ["additional gid not mapped", (s: any) => (s.process.user.additionalGids = [5, 65536]),
      "process.user.additionalGids[1]: 65536 is not mapped by linux.gidMappings (container ids 0..65535)"],
    ["idmapped mount ranges overlap", (s: any) => s.mounts.push({ destination: "/d", source: "/d", type: "bind", options: ["rbind"], uidMappings: [{ containerID: 0, hostID: 0, size: 10 }, { containerID: 5, hostID: 20, size: 1 }] }),
      "mounts[7].uidMappings[1]: overlaps mounts[7].uidMappings[0] (container ids 0..9)"],
  ])("%s", (_name, edit, expected) => {
    expect(userns(edit)).toContain(expected);
  });
  test("340 lines are accepted", () => {
    expect(userns((s) => (s.linux.uidMappings = Array.from({ length: 340 }, (_, i) => ({ containerID: i, hostID: 100000 + i, size: 1 }))))).toEqual([]);
  });
  test("a joined user namespace needs no mappings and no coverage", () => {
    expect(withSpec((s) => { s.linux.namespaces.push({ type: "user", path: "/proc/1/ns/user" }); s.process.user.uid = 12345; })).toEqual([]);
  });
});
