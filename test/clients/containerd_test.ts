// containerd (its io.containerd.runc.v2 shim) drives isola-runtime unchanged (root only):
// ctr run --rm; ctr run -d + ctr task exec + ctr task kill + ctr task delete. containerd runs
// from the test with its own root, state, socket and config in a private mount + net namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { isRoot } from "../harness.ts";
import { Containerd, IMAGE } from "./containerd.ts";
import { buildRuntime, leftoverCgroups, RUNTIME, Sandbox, which } from "./sandbox.ts";

const missing = ["containerd", "ctr", "containerd-shim-runc-v2", "unshare", "nsenter"].filter((t) => !which(t));
const enabled = isRoot && missing.length === 0;
if (!isRoot) console.log("containerd client tests skipped: they need root");
else if (missing.length) console.log(`containerd client tests skipped: ${missing.join(", ")} not installed (scripts/apt-packages.txt lists containerd)`);

let box: Sandbox | undefined;
let cd: Containerd;

beforeAll(() => {
  if (!enabled) return;
  buildRuntime();
  box = new Sandbox("containerd");
  box.start();
  cd = new Containerd(box);
  cd.start();
  cd.importImage();
}, 120_000);

afterAll(() => {
  if (!box) return;
  if (cd) {
    cd.removeAll();
    cd.stop();
  }
  const problems = box.cleanup();
  problems.push(...leftoverCgroups(box.cgroupParent).map((d) => `cgroup left: ${d}`));
  if (problems.length) throw new Error(problems.join("\n"));
}, 120_000);

const runFlags = (id: string) => ["--runc-binary", RUNTIME, "--cgroup", `/${box!.cgroupParent}/${id}`];

describe.skipIf(!enabled)("containerd (ctr) with --runc-binary isola-runtime", () => {
  test("ctr run --rm: output and exit status", () => {
    const r = cd.ctr(["run", "--rm", ...runFlags("once"), IMAGE, "once", "sh", "-c", "echo hello from $(cat /proc/1/comm); cat /proc/self/cgroup | grep -c once; exit 5"]);
    const [hello, inCgroup] = r.stdout.split("\n");
    expect(hello).toBe("hello from sh");
    expect(Number(inCgroup)).toBeGreaterThan(0); // the container sits in the cgroup ctr asked for
    expect(r.stderr).toBe("");
    expect(r.code).toBe(5);
    expect(cd.ctr(["containers", "list", "-q"]).stdout.trim()).toBe("");
  });

  test("ctr run -d, task exec, task kill, task delete, container rm", () => {
    // a steady set of processes (sh and one sleep) for tasks ps to list
    const started = cd.ctr(["run", "-d", ...runFlags("daemon"), IMAGE, "daemon", "sh", "-c", "trap 'exit 42' TERM; sleep 1000 & wait"]);
    expect(started.stderr).toBe("");
    expect(started.code).toBe(0);
    const task = () => cd.ctr(["tasks", "list"]).stdout.split("\n").find((l) => l.startsWith("daemon ")) ?? "";
    expect(task()).toMatch(/RUNNING/);

    const exec = cd.ctr(["tasks", "exec", "--exec-id", "x1", "daemon", "sh", "-c", "echo in exec; cat /proc/1/comm; exit 6"]);
    expect(exec.stdout).toBe("in exec\nsh\n");
    expect(exec.code).toBe(6);

    // tasks ps (the shim asks the runtime's ps) lists the container's processes: the init
    // that the runtime's state names and ctr's task list shows, and its sleep; from /proc,
    // exactly the processes in the init's pid namespace
    const ps = cd.ctr(["tasks", "ps", "daemon"]);
    expect(ps.stderr).toBe("");
    expect(ps.code).toBe(0);
    const [header, ...rows] = ps.stdout.trim().split("\n");
    expect(header?.split(/\s+/)).toEqual(["PID", "INFO"]);
    const listed = rows.map((l) => Number(l.trim().split(/\s+/)[0])).sort((a, b) => a - b);
    const state = box!.run([RUNTIME, "--root", "/run/containerd/runc/isola-test", "state", "daemon"]);
    expect(state.code).toBe(0);
    const init = (JSON.parse(state.stdout) as { pid: number }).pid;
    expect(task().split(/\s+/)[1]).toBe(String(init));
    const pidns = fs.readlinkSync(`/proc/${init}/ns/pid`);
    const inContainer = fs
      .readdirSync("/proc")
      .filter((e) => /^\d+$/.test(e) && nsOf(Number(e)) === pidns)
      .map(Number)
      .sort((a, b) => a - b);
    expect(listed).toEqual(inContainer);
    expect(listed).toContain(init);
    expect(listed.map((p) => comm(p))).toEqual(listed.map((p) => (p === init ? "sh" : "sleep")));

    // SIGTERM: an init without a handler would ignore it (pid 1); the trap makes it exit
    expect(cd.ctr(["tasks", "kill", "daemon"]).code).toBe(0);
    let stopped = "";
    for (let i = 0; i < 500 && !/STOPPED/.test((stopped = task())); i++) Bun.sleepSync(20);
    expect(stopped).toMatch(/STOPPED/);

    const del = cd.ctr(["tasks", "delete", "daemon"]);
    expect(del.code).toBe(0);
    expect(cd.ctr(["containers", "rm", "daemon"]).code).toBe(0);
    expect(cd.ctr(["containers", "list", "-q"]).stdout.trim()).toBe("");
  });
});

function nsOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined; // gone
  }
}

function comm(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
}
