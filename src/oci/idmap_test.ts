import { describe, expect, test } from "bun:test";
import { defaultSpec } from "./defaults.ts";
import { delegationProblems, parseSubordinateIds } from "./idmap.ts";
import { toRootless } from "./rootless.ts";
import { validateSpec } from "./validate.ts";

describe("subordinate ids", () => {
  const text = "# comment\nalice:100000:65536\n1001:300000:1000\nbob:200000:65536\nalice:500000:10\nbroken line\n";
  test("ranges of a user by name and by id", () => {
    expect(parseSubordinateIds(text, { name: "alice", id: 1000 })).toEqual([{ start: 100000, size: 65536 }, { start: 500000, size: 10 }]);
    expect(parseSubordinateIds(text, { name: "carol", id: 1001 })).toEqual([{ start: 300000, size: 1000 }]);
    expect(parseSubordinateIds(text, { id: 4242 })).toEqual([]);
  });
  test("a caller may map its own id and ranges inside its delegation, nothing else", () => {
    const own = [{ start: 100000, size: 65536 }];
    expect(delegationProblems("linux.uidMappings", [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }], 1000, own, "/etc/subuid")).toEqual([]);
    expect(delegationProblems("linux.uidMappings", [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65537 }], 1000, own, "/etc/subuid")).toEqual([
      "linux.uidMappings[1]: host ids 100000..165536 are not yours to map (your own id is 1000; your ranges in /etc/subuid: 100000..165535)",
    ]);
    expect(delegationProblems("linux.gidMappings", [{ containerID: 0, hostID: 0, size: 1 }], 1000, [], "/etc/subgid")).toEqual([
      "linux.gidMappings[0]: host ids 0..0 are not yours to map (your own id is 1000; your ranges in /etc/subgid: none)",
    ]);
  });
});

describe("spec --rootless", () => {
  test("maps the caller to root, keeps a network namespace, drops uid=/gid= options and resources; valid", () => {
    const s = toRootless(defaultSpec(), { uid: 1000, gid: 1001 });
    expect(s.linux!.namespaces!.map((n) => n.type).sort()).toEqual(["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]);
    expect(s.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(s.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    expect(s.linux!.resources).toBeUndefined();
    expect(s.mounts!.flatMap((m) => m.options ?? []).filter((o) => /^(uid|gid)=/.test(o))).toEqual([]);
    expect(validateSpec(s)).toEqual([]);
  });
  test("with subordinate ranges: root is the caller, 1..65535 come from the range", () => {
    const s = toRootless(defaultSpec(), { uid: 1000, gid: 1000, subuid: { start: 100000, size: 200000 }, subgid: { start: 100000, size: 1000 } });
    expect(s.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }]);
    expect(s.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 1000 }]);
    expect(validateSpec(s)).toEqual([]);
  });
});
