// Rootless podman drives isola-runtime (root only, to make the user): a real unprivileged user,
// made by the test with its own /etc/subuid and /etc/subgid lines, runs podman with its own
// HOME, XDG dirs, config and vfs storage in a Sandbox, `--network none`, no cgroups (this
// host's hybrid layout gives a rootless user none). `--userns=keep-id` (which podman 4.3
// refuses as root) maps the user's ids to themselves inside. runc runs the same flow first:
// when it fails, rootless podman can't work on this host and the test says why.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as path from "node:path";
import { isRoot, runtimeArgvFor } from "../harness.ts";
import { TestUser } from "../testuser.ts";
import { IMAGE, Podman } from "./podman.ts";
import { buildRuntime, leftoverCgroups, Sandbox, which } from "./sandbox.ts";

const tools = ["podman", "conmon", "runc", "unshare", "nsenter", "setpriv", "useradd", "userdel", "newuidmap", "newgidmap"];
const missing = tools.filter((t) => !which(t));
const enabled = isRoot && missing.length === 0;
if (!isRoot) console.log("rootless podman client tests skipped: they need root (to create the user)");
else if (missing.length) console.log(`rootless podman client tests skipped: ${missing.join(", ")} not installed (scripts/apt-packages.txt lists podman, runc, uidmap)`);

const SUB_START = 720000; // src/runtime/rootless_test.ts uses 600000
let box: Sandbox | undefined;
let user: TestUser | undefined;
let podman: Podman | undefined;
let runtime = "";
const runc = which("runc") ?? "runc";

beforeAll(() => {
  if (!enabled) return;
  buildRuntime();
  box = new Sandbox("podman-rootless");
  box.start();
  // CI clones the repository below a 0700 directory: the user runs a copy of the runtime
  const argv = runtimeArgvFor(path.join(box.dir, "runtime"), { compiled: true }); // the binary buildRuntime made
  if (argv.length !== 1) throw new Error(`no compiled runtime to copy (${argv.join(" ")})`);
  runtime = argv[0]!;
  user = new TestUser("isolapm", SUB_START);
  user.create();
  podman = new Podman(box, [runtime, runc], { dir: path.join(box.dir, "rootless"), user });
  podman.loadImage(runtime);
}, 120_000);

afterAll(() => {
  if (!box) return;
  const problems: string[] = [];
  podman?.removeAll(runtime);
  if (user) problems.push(...user.killAll()); // podman's pause process, conmon, containers
  problems.push(...box.cleanup());
  problems.push(...leftoverCgroups(box.cgroupParent).map((d) => `cgroup left: ${d}`));
  if (user) problems.push(...user.remove());
  if (problems.length) throw new Error(problems.join("\n"));
}, 120_000);

const keepId = (rt: string, cmd: string[]) => podman!.run(rt, ["run", "--rm", "--network", "none", "--userns=keep-id", IMAGE, ...cmd]);

describe.skipIf(!enabled)("rootless podman --runtime isola-runtime", () => {
  test("podman runs rootless: its user namespace maps the user and its /etc/subuid range", () => {
    const r = podman!.run(runtime, ["unshare", "cat", "/proc/self/uid_map", "/proc/self/gid_map"]); // refused to root
    expect(r.stderr).toBe("");
    const line = (id: number) => [`0 ${id} 1`, `1 ${SUB_START} 65536`];
    expect(r.stdout.replace(/[ \t]+/g, " ").trim().split("\n").map((l) => l.trim())).toEqual([...line(user!.uid), ...line(user!.gid)]);
  });

  test("run --rm --userns=keep-id: id -u and id -g are the user's", () => {
    const control = keepId(runc, ["id", "-u"]);
    if (control.code !== 0 || control.stdout !== `${user!.uid}\n`) {
      console.log(`skipped --userns=keep-id: rootless podman does not work on this host with runc either (exit ${control.code}: ${control.stderr.trim() || control.stdout.trim()}); podman_test.ts covers user namespaces with --uidmap`);
      return;
    }
    const uid = keepId(runtime, ["id", "-u"]);
    expect({ code: uid.code, stdout: uid.stdout, stderr: uid.stderr }).toEqual({ code: 0, stdout: `${user!.uid}\n`, stderr: control.stderr });
    const gid = keepId(runtime, ["id", "-g"]);
    expect({ code: gid.code, stdout: gid.stdout, stderr: gid.stderr }).toEqual({ code: 0, stdout: `${user!.gid}\n`, stderr: control.stderr });
    // the whole mapping is runc's: the user's ids at themselves, the subordinate range around them
    const maps = (rt: string) => keepId(rt, ["cat", "/proc/self/uid_map", "/proc/self/gid_map"]).stdout.trim().split("\n").map((l) => l.trim().replace(/\s+/g, " "));
    const ours = maps(runtime);
    expect(ours).toEqual(maps(runc));
    expect(ours).toContain(`${user!.uid} 0 1`);
    expect(ours).toContain(`${user!.gid} 0 1`);
    expect(podman!.run(runtime, ["ps", "-a", "-q"]).stdout).toBe("");
  });
});
