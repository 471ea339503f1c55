// Integration: the lifecycle as runc users drive it, state transitions, hooks,
// bad input and cleanup after failures (root only).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { containerCgroupDirs, hostMountsUnder, isRoot, runCaptured, Runtime, runtimeArgv, uniqueId, waitFor } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";

const rt = new Runtime();
let bundle = "";
let base: Spec;
let scratch = "";

beforeAll(() => {
  bundle = makeBundle();
  base = readSpec(bundle);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "isola-life-"));
});
afterAll(() => {
  rt.cleanup();
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

function configure(edit: (s: Spec) => void) {
  const spec: Spec = structuredClone(base);
  edit(spec);
  writeSpec(bundle, spec);
}

const state = (id: string) => JSON.parse(rt.run(["state", id]).stdout) as Record<string, unknown>;

/** Nothing of container `id` is left on the host: state dir, mounts of the bundle, processes. */
function expectNothingLeft(id: string, pid?: number) {
  expect(fs.existsSync(path.join(rt.root, id))).toBe(false);
  expect(hostMountsUnder(bundle)).toEqual([]);
  expect(containerCgroupDirs(id)).toEqual([]);
  if (pid) expect(waitFor(() => !fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"))).toBe(true);
}

describe.skipIf(!isRoot)("lifecycle", () => {
  test("create → created (process has not run) → start → running → stopped → delete", () => {
    const marker = path.join(scratch, "ran");
    configure((s) => {
      s.mounts!.push({ destination: "/out", type: "bind", source: scratch, options: ["bind"] });
      s.process!.args = ["sh", "-c", "touch /out/ran; sleep 2"];
    });
    const id = uniqueId("life");
    const pidFile = path.join(scratch, "pid");
    const c = rt.run(["create", "--pid-file", pidFile, "-b", bundle, id]);
    expect(c.stderr).toBe("");
    expect(c.code).toBe(0);
    const s1 = state(id);
    expect(s1.status).toBe("created");
    expect(s1.ociVersion).toBe("1.2.0");
    expect(s1.id).toBe(id);
    expect(s1.bundle).toBe(bundle);
    expect(s1.rootfs).toBe(path.join(bundle, "rootfs"));
    expect(typeof s1.created).toBe("string");
    expect(Number(fs.readFileSync(pidFile, "utf8"))).toBe(s1.pid as number);
    Bun.sleepSync(100);
    expect(fs.existsSync(marker)).toBe(false); // the user process waits for start

    expect(rt.run(["start", id]).code).toBe(0);
    expect(waitFor(() => fs.existsSync(marker))).toBe(true);
    expect(state(id).status).toBe("running");
    const again = rt.run(["start", id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("running");

    const list = JSON.parse(rt.run(["list", "--format", "json"]).stdout) as { id: string; status: string; owner: string }[];
    expect(list.find((e) => e.id === id)?.status).toBe("running");
    expect(list.find((e) => e.id === id)?.owner).toBe("root"); // the state directory's owner, as runc
    expect(rt.run(["list", "-q"]).stdout.split("\n")).toContain(id);
    expect(rt.run(["list"]).stdout).toMatch(new RegExp(`^${id}\\s+\\d+\\s+running\\s+${bundle}\\s+\\S+\\s+root$`, "m"));

    const del = rt.run(["delete", id]);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain("not stopped");
    expect(waitFor(() => state(id).status === "stopped", 5000)).toBe(true);
    expect(state(id).pid).toBe(0);
    expect(rt.run(["delete", id]).code).toBe(0);
    expectNothingLeft(id, s1.pid as number);
    expect(rt.run(["state", id]).stderr).toContain("does not exist");
  });

  test("kill works on created and running containers, by name or number; --all; delete --force", () => {
    configure((s) => {
      s.process!.args = ["sh", "-c", "sleep 100 & sleep 100"];
    });
    const id = uniqueId("kill");
    expect(rt.run(["create", "-b", bundle, id]).code).toBe(0);
    const pid = state(id).pid as number;
    expect(rt.run(["kill", id, "KILL"]).code).toBe(0);
    expect(waitFor(() => state(id).status === "stopped")).toBe(true);
    expect(rt.run(["kill", id]).stderr).toContain("not running");
    expect(rt.run(["delete", id]).code).toBe(0);
    expectNothingLeft(id, pid);

    // the default SIGTERM ends a created container too, though its waiting process is the init
    // of a pid namespace (which the kernel spares signals left at their default), and so do
    // the other signals whose default is to end a process
    for (const sig of [undefined, "HUP", "USR1", "RTMIN+2"]) {
      const idT = uniqueId("kill");
      expect(rt.run(["create", "-b", bundle, idT]).code).toBe(0);
      const pidT = state(idT).pid as number;
      const k = rt.run(sig === undefined ? ["kill", idT] : ["kill", idT, sig]);
      expect(k.stderr).toBe("");
      expect(waitFor(() => state(idT).status === "stopped")).toBe(true);
      expect(rt.run(["delete", idT]).code).toBe(0);
      expectNothingLeft(idT, pidT);
    }
    // a signal whose default is to be ignored leaves it waiting, and start still runs it
    const idW = uniqueId("kill");
    expect(rt.run(["create", "-b", bundle, idW]).code).toBe(0);
    expect(rt.run(["kill", idW, "WINCH"]).code).toBe(0);
    Bun.sleepSync(100);
    expect(state(idW).status).toBe("created");
    expect(rt.run(["delete", "--force", idW]).code).toBe(0);

    const id2 = uniqueId("kill");
    expect(rt.run(["run", "-d", "-b", bundle, id2]).code).toBe(0);
    const pid2 = state(id2).pid as number;
    expect(rt.run(["kill", "--all", id2, "9"]).code).toBe(0);
    expect(waitFor(() => state(id2).status === "stopped")).toBe(true);
    expect(rt.run(["delete", id2]).code).toBe(0);
    expectNothingLeft(id2, pid2);

    const id3 = uniqueId("kill");
    expect(rt.run(["run", "-d", "-b", bundle, id3]).code).toBe(0);
    const pid3 = state(id3).pid as number;
    expect(rt.run(["kill", id3, "SIGNOPE"]).stderr).toContain("unknown signal");
    expect(rt.run(["delete", "--force", id3]).code).toBe(0);
    expectNothingLeft(id3, pid3);
    expect(rt.run(["delete", "--force", id3]).code).toBe(0); // gone already: --force is quiet
    expect(rt.run(["delete", id3]).stderr).toContain("does not exist");
  });

  test("every command checks the id before it becomes a path; only what create leaves is taken for a container", () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "isola-ids-"));
    const r2 = path.join(parent, "root");
    fs.mkdirSync(path.join(parent, "victim"));
    fs.writeFileSync(path.join(parent, "victim", "precious"), "x");
    fs.mkdirSync(path.join(r2, "stray"), { recursive: true });
    fs.writeFileSync(path.join(r2, "stray", "data"), "x");
    fs.mkdirSync(path.join(r2, "cut")); // a create cut off between its directory and its record
    const at = (args: string[]) => runCaptured([...runtimeArgv(), "--root", r2, ...args], `${parent}/cmd`);
    try {
      for (const args of [["delete", "--force", "../victim"], ["delete", ".."], ["state", "../victim"], ["kill", "../victim", "KILL"], ["start", "a/b"], ["pause", ".."], ["resume", ".."], ["update", "--pids-limit", "5", ".."], ["exec", "../victim", "true"], ["events", "--stats", "../victim"], ["ps", ".."]]) {
        const r = at(args);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/container id: "(\.\.\/victim|\.\.|a\/b)" (has characters outside|is not allowed)/);
      }
      expect(fs.readFileSync(path.join(parent, "victim", "precious"), "utf8")).toBe("x");
      // a directory under the root that create did not leave is not a container
      expect(at(["state", "stray"]).stderr).toContain("container stray does not exist");
      expect(at(["delete", "--force", "stray"]).code).toBe(0);
      expect(fs.readFileSync(path.join(r2, "stray", "data"), "utf8")).toBe("x");
      expect(JSON.parse(at(["list", "--format", "json"]).stdout).map((c: { id: string }) => c.id)).toEqual(["cut"]);
      // what a cut-off create leaves is removed by delete --force
      expect(at(["delete", "--force", "cut"]).code).toBe(0);
      expect(fs.existsSync(path.join(r2, "cut"))).toBe(false);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  test("a created container can be deleted without --force", () => {
    configure((s) => {
      s.process!.args = ["true"];
    });
    const id = uniqueId("created");
    expect(rt.run(["create", "-b", bundle, id]).code).toBe(0);
    const pid = state(id).pid as number;
    expect(rt.run(["delete", id]).code).toBe(0);
    expectNothingLeft(id, pid);
  });

  test("run returns the container's exit status, 128+n when killed by a signal", async () => {
    configure((s) => {
      s.process!.args = ["sh", "-c", "exit 7"];
    });
    expect(rt.run(["run", "-b", bundle, uniqueId("exit")]).code).toBe(7);
    configure((s) => {
      s.process!.args = ["sleep", "30"];
    });
    const id = uniqueId("exit");
    const p = Bun.spawn(rt.argv(["run", "-b", bundle, id]), { stdout: "ignore", stderr: "inherit" });
    expect(waitFor(() => rt.run(["state", id]).stdout.includes('"running"'))).toBe(true);
    expect(rt.run(["kill", id, "KILL"]).code).toBe(0);
    expect(await p.exited).toBe(137);
    expectNothingLeft(id);
  });

  test("signals sent to a foreground run are forwarded to the container", async () => {
    configure((s) => {
      s.process!.args = ["sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.05; done"];
    });
    const id = uniqueId("fwd");
    const p = Bun.spawn(rt.argv(["run", "-b", bundle, id]), { stdout: "ignore", stderr: "inherit" });
    expect(waitFor(() => rt.run(["state", id]).stdout.includes('"running"'))).toBe(true);
    Bun.sleepSync(100); // let sh install its trap
    p.kill("SIGTERM");
    expect(await p.exited).toBe(42);
    expectNothingLeft(id);
  });

  test("several containers run at once", async () => {
    configure((s) => {
      s.process!.args = ["sh", "-c", "echo $$; sleep 0.3"];
    });
    const ids = [1, 2, 3, 4, 5].map(() => uniqueId("par"));
    const procs = ids.map((id) => Bun.spawn(rt.argv(["run", "-b", bundle, id]), { stdout: "pipe", stderr: "pipe" }));
    const outs = await Promise.all(procs.map(async (p) => [await p.exited, (await new Response(p.stdout).text()).trim()] as const));
    expect(outs).toEqual(ids.map(() => [0, "1"] as const));
    for (const id of ids) expect(fs.existsSync(path.join(rt.root, id))).toBe(false);
  });

  test("--preserve-fds passes the caller's extra descriptors through", () => {
    configure((s) => {
      s.process!.args = ["sh", "-c", "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '"];
    });
    const file = path.join(scratch, "fd3");
    fs.writeFileSync(file, "through fd 3\n");
    const fd = fs.openSync(file, "r");
    try {
      const out = path.join(scratch, "fdout");
      const r = Bun.spawnSync(rt.argv(["run", "--preserve-fds", "1", "-b", bundle, uniqueId("fds")]), {
        stdio: ["ignore", Bun.file(out), "inherit", fd] as never,
      });
      expect(r.exitCode).toBe(0);
      expect(fs.readFileSync(out, "utf8")).toBe("through fd 3\n0 1 2 3 4 ");
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe.skipIf(!isRoot)("hooks", () => {
  test("run in order with the state on stdin, in the right namespaces", () => {
    // one log for all, bound into the container at /hooklog: the host's hooks (and
    // createContainer, before pivot_root) write it at its host path, startContainer and the
    // process (after pivot_root) at /hooklog/hooks.log
    const logDir = path.join(scratch, "hooklog");
    fs.mkdirSync(logDir, { recursive: true });
    const log = path.join(logDir, "hooks.log");
    fs.writeFileSync(log, "");
    const hook = path.join(scratch, "hook.sh");
    const body = (file: string) =>
      `#!/bin/sh\nstate=$(cat)\necho "$1 $(echo "$state" | grep -o '"status":"[a-z]*"') $(echo "$state" | grep -o '"pid":[0-9]*') $(readlink /proc/self/ns/mnt) $HOOKENV" >> ${file}\n`;
    // each hook logs its name, the state's status and pid, and the mount namespace it runs in
    fs.writeFileSync(hook, body(log));
    fs.chmodSync(hook, 0o755);
    const h = (name: string) => ({ path: hook, args: ["hook.sh", name], env: [`HOOKENV=${name}-env`], timeout: 5 });
    configure((s) => {
      s.process!.args = ["sh", "-c", "echo process >> /hooklog/hooks.log"];
      s.mounts!.push({ destination: "/hooklog", type: "bind", source: logDir, options: ["rbind"] });
      s.hooks = {
        prestart: [h("prestart")],
        createRuntime: [h("createRuntime")],
        createContainer: [h("createContainer")],
        startContainer: [h("startContainer")],
        poststart: [h("poststart")],
        poststop: [h("poststop")],
      };
    });
    // startContainer runs inside the container after pivot_root: the hook path must exist there
    const rootfsHook = path.join(bundle, "rootfs", hook);
    fs.mkdirSync(path.dirname(rootfsHook), { recursive: true });
    fs.writeFileSync(rootfsHook, body("/hooklog/hooks.log"));
    fs.chmodSync(rootfsHook, 0o755);
    try {
      const id = uniqueId("hooks");
      expect(rt.run(["create", "-b", bundle, id]).code).toBe(0);
      const hostPid = state(id).pid as number;
      const r = rt.run(["start", id]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(waitFor(() => state(id).status === "stopped")).toBe(true);
      expect(rt.run(["delete", id]).code).toBe(0);
      const lines = fs.readFileSync(log, "utf8").trim().split("\n");
      const hostMnt = fs.readlinkSync("/proc/self/ns/mnt");
      expect(lines.map((l) => l.split(" ")[0]).filter((n) => n !== "process")).toEqual(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
      expect(lines[0]).toBe(`prestart "status":"creating" "pid":${hostPid} ${hostMnt} prestart-env`);
      expect(lines[1]).toBe(`createRuntime "status":"creating" "pid":${hostPid} ${hostMnt} createRuntime-env`);
      // createContainer and startContainer run in the container's namespaces: its pid there is 1
      expect(lines[2]).toMatch(/^createContainer "status":"creating" "pid":1 mnt:\[\d+\] createContainer-env$/);
      expect(lines[2]).not.toContain(hostMnt);
      expect(lines[3]).toMatch(/^startContainer "status":"created" "pid":1 mnt:\[\d+\] startContainer-env$/);
      expect(lines[3]).not.toContain(hostMnt);
      // the process ran after startContainer; poststart may see it done already or not
      expect(lines.indexOf("process")).toBeGreaterThan(3);
      expect(lines).toContain(`poststart "status":"running" "pid":${hostPid} ${hostMnt} poststart-env`);
      expect(lines.at(-1)).toBe(`poststop "status":"stopped"  ${hostMnt} poststop-env`);
    } finally {
      fs.rmSync(path.join(bundle, "rootfs", scratch.split("/")[1]!), { recursive: true, force: true });
      fs.rmSync(logDir, { recursive: true, force: true });
    }
  });

  test("the container's process keeps the caller's signal dispositions although hooks ran in its init (SIGPIPE not left ignored)", () => {
    configure((s) => {
      s.process!.args = ["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"];
      s.hooks = { createContainer: [{ path: "/bin/true" }], startContainer: [{ path: "/bin/true" }] };
    });
    const withHooks = rt.run(["run", "-b", bundle, uniqueId("sigs")]);
    expect(withHooks.stderr).toBe("");
    configure((s) => {
      s.process!.args = ["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"];
    });
    const without = rt.run(["run", "-b", bundle, uniqueId("sigs")]);
    expect(withHooks.stdout).toBe(without.stdout);
    const ign = BigInt("0x" + /SigIgn:\s*([0-9a-f]+)/.exec(withHooks.stdout)![1]);
    expect(ign & (1n << 12n)).toBe(0n); // SIGPIPE (13)
  });

  test("a failing startContainer hook fails start, stops the container before its process runs", () => {
    configure((s) => {
      s.process!.args = ["sh", "-c", "touch /ran"];
      // the same program twice: the failing one is named by its place, not its path
      s.hooks = { startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "true"] }, { path: "/bin/sh", args: ["sh", "-c", "exit 3"] }] };
    });
    const id = uniqueId("badstart");
    expect(rt.run(["create", "-b", bundle, id]).code).toBe(0);
    const pid = state(id).pid as number;
    const r = rt.run(["start", id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot start container ${id}: hooks.startContainer[1]: hook /bin/sh exited with status 3`);
    expect(waitFor(() => state(id).status === "stopped")).toBe(true);
    expect(fs.existsSync(path.join(bundle, "rootfs", "ran"))).toBe(false);
    expect(rt.run(["delete", id]).code).toBe(0);
    expectNothingLeft(id, pid);
  });

  test("failing poststart and poststop hooks are reported, the others still run, the lifecycle goes on", () => {
    const marks = path.join(scratch, "marks");
    fs.writeFileSync(marks, "");
    const mark = (name: string) => ({ path: "/bin/sh", args: ["sh", "-c", `echo ${name} >> ${marks}`] });
    const fail = (name: string) => ({ path: "/bin/sh", args: ["sh", "-c", `echo ${name} >&2; exit 4`] });
    configure((s) => {
      s.process!.args = ["sleep", "100"];
      s.hooks = { poststart: [fail("poststart-broken"), mark("poststart")], poststop: [fail("poststop-broken"), mark("poststop")] };
    });
    const id = uniqueId("posthooks");
    const r = rt.run(["run", "-d", "-b", bundle, id]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("hooks.poststart[0]: /bin/sh exited with status 4: poststart-broken");
    expect(state(id).status).toBe("running");
    const pid = state(id).pid as number;
    const d = rt.run(["delete", "--force", id]);
    expect(d.code).toBe(0);
    expect(d.stderr).toContain("hooks.poststop[0]: /bin/sh exited with status 4: poststop-broken");
    expect(fs.readFileSync(marks, "utf8").trim().split("\n")).toEqual(["poststart", "poststop"]);
    expectNothingLeft(id, pid);
  });

  test("a create that fails in a hook goes on as a deletion: poststop runs, nothing is left", () => {
    const marks = path.join(scratch, "marks-create");
    fs.writeFileSync(marks, "");
    configure((s) => {
      s.hooks = {
        createContainer: [{ path: "/bin/sh", args: ["sh", "-c", "exit 5"] }],
        poststop: [{ path: "/bin/sh", args: ["sh", "-c", `cat > ${marks}`] }],
      };
    });
    const id = uniqueId("badcreate");
    const r = rt.run(["create", "-b", bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hooks.createContainer[0]");
    expect(fs.readFileSync(marks, "utf8")).toContain('"status":"stopped"');
    expectNothingLeft(id);
  });

  test("hooks the runtime runs itself time out too", () => {
    configure((s) => {
      s.hooks = { prestart: [{ path: "/bin/sleep", args: ["sleep", "10"], timeout: 1 }] };
    });
    const id = uniqueId("slowprestart");
    const r = rt.run(["create", "-b", bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hooks.prestart[0]: /bin/sleep timed out after 1s");
    expectNothingLeft(id);
  });

  test("a failing createRuntime hook fails create and leaves nothing", () => {
    configure((s) => {
      s.hooks = { createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", "echo broken >&2; exit 3"] }] };
    });
    const id = uniqueId("badhook");
    const r = rt.run(["create", "-b", bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hooks.createRuntime[0]: /bin/sh exited with status 3: broken");
    expectNothingLeft(id);
  });

  test("a hook that outlives its timeout fails the create", () => {
    configure((s) => {
      s.hooks = { createContainer: [{ path: "/bin/sleep", args: ["sleep", "10"], timeout: 1 }] };
    });
    const id = uniqueId("slowhook");
    const r = rt.run(["create", "-b", bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hooks.createContainer[0]");
    expect(r.stderr).toContain("timed out");
    expectNothingLeft(id);
  });
});

describe.skipIf(!isRoot)("bad input and faults leave nothing behind", () => {
  const cases: [string, (s: Spec) => void, string][] = [
    ["wrong type", (s) => ((s.process!.user as unknown as Record<string, unknown>).uid = "root"), 'process.user.uid: must be an integer in 0..4294967294 (got "root")'],
    ["unknown namespace", (s) => s.linux!.namespaces!.push({ type: "bogus" as never }), 'linux.namespaces[6].type: is not a namespace type'],
    ["relative mount destination", (s) => s.mounts!.push({ destination: "data", type: "tmpfs", source: "tmpfs" }), 'mounts[7].destination: must be an absolute path inside the container (got "data")'],
    ["missing rootfs", (s) => (s.root!.path = "nope"), "root.path:"],
    ["missing bind source", (s) => s.mounts!.push({ destination: "/x", type: "bind", source: "/nonexistent-isola", options: ["bind"] }), "mounts[7].source: /nonexistent-isola does not exist"],
    ["program not found", (s) => (s.process!.args = ["no-such-program"]), 'process.args[0]: exec: "no-such-program": executable file not found in $PATH'],
    ["kernel refuses a mount", (s) => s.mounts!.push({ destination: "/bad", type: "nosuchfs", source: "x" }), "mounts[7]: mount x on /bad: no such device"],
    ["bad sysctl", (s) => (s.linux!.sysctl = { "vm.swappiness": "10" }), "linux.sysctl.vm.swappiness: is not a namespaced sysctl"],
    ["a tmpfs option the kernel refuses", (s) => s.mounts!.push({ destination: "/t", type: "tmpfs", source: "tmpfs", options: ["size=lots"] }), "mounts[7]: mount option size=lots on /t: tmpfs: Bad value for 'size'"],
  ];
  for (const [name, edit, message] of cases) {
    test(name, () => {
      configure(edit);
      const id = uniqueId("bad");
      const before = fs.readdirSync("/proc").length;
      const r = rt.run(["create", "-b", bundle, id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expectNothingLeft(id);
      expect(fs.readdirSync("/proc").length).toBeLessThanOrEqual(before + 5);
    });
  }

  test("bad and duplicate ids", () => {
    configure((s) => {
      s.process!.args = ["true"];
    });
    expect(rt.run(["create", "-b", bundle, "bad/id"]).stderr).toContain("container id:");
    const id = uniqueId("dup");
    expect(rt.run(["create", "-b", bundle, id]).code).toBe(0);
    const dup = rt.run(["create", "-b", bundle, id]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain(`container with id ${id} already exists`);
    expect(state(id).status).toBe("created");
    expect(rt.run(["delete", id]).code).toBe(0);
  });

  test("isola-runtime killed with SIGKILL in the middle of create: delete --force cleans up", async () => {
    configure((s) => {
      s.process!.args = ["true"];
      // a createRuntime hook that takes long enough for the kill to land mid-create
      s.hooks = { createRuntime: [{ path: "/bin/sleep", args: ["sleep", "5"] }] };
    });
    const id = uniqueId("sigkill");
    const p = Bun.spawn(rt.argv(["create", "-b", bundle, id]), { stdout: "ignore", stderr: "ignore" });
    expect(waitFor(() => {
      try {
        return (JSON.parse(fs.readFileSync(path.join(rt.root, id, "state.json"), "utf8")).pid as number) > 0;
      } catch {
        return false;
      }
    })).toBe(true);
    const pid = JSON.parse(fs.readFileSync(path.join(rt.root, id, "state.json"), "utf8")).pid as number;
    p.kill(9);
    await p.exited;
    expect(rt.run(["delete", "--force", id]).code).toBe(0);
    expectNothingLeft(id, pid);
  });

  test("killed after its cgroups exist but before the init does: delete --force finds and removes them", async () => {
    // stage 1 blocks opening a namespace "path" that is a fifo nobody writes: the launcher
    // sits in the container's cgroups and no pid was ever reported
    const fifo = path.join(scratch, `ns-${process.pid}.fifo`);
    Bun.spawnSync(["mkfifo", fifo]);
    configure((s) => {
      s.process!.args = ["true"];
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: fifo } : n));
    });
    const id = uniqueId("midcg");
    const p = Bun.spawn(rt.argv(["create", "-b", bundle, id]), { stdout: "ignore", stderr: "ignore" });
    try {
      expect(waitFor(() => containerCgroupDirs(id).length > 0 && fs.readFileSync(`${containerCgroupDirs(id)[0]}/cgroup.procs`, "utf8").trim() !== "")).toBe(true);
      p.kill(9);
      await p.exited;
      expect(JSON.parse(fs.readFileSync(path.join(rt.root, id, "state.json"), "utf8")).pid).toBe(0);
      const stuck = fs.readFileSync(`${containerCgroupDirs(id)[0]}/cgroup.procs`, "utf8").trim().split("\n").map(Number);
      expect(stuck.length).toBeGreaterThan(0);
      const d = rt.run(["delete", "--force", id]);
      expect(d.stderr).toBe("");
      expect(d.code).toBe(0);
      expectNothingLeft(id);
      for (const pid of stuck) expect(waitFor(() => !fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"))).toBe(true);
    } finally {
      if (p.exitCode === null) p.kill(9);
      fs.rmSync(fifo, { force: true });
    }
  });
});
