// Integration (root): runc's cgroup verbs driven through the real CLI — update, pause/resume,
// ps, events — with the limits measured from the kernel, and no cgroup left after any test.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { isRoot, Runtime, uniqueId, waitFor } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";
import { filterPsOutput, parseDuration } from "./resources.ts";

const MiB = 1 << 20;
const rt = new Runtime();
let bundle = "";
let base: Spec;
/** Every container a test made, with its cgroup directories (for cleanup even when the CLI fails). */
const made = new Map<string, string[]>();

beforeAll(() => {
  if (!isRoot) return;
  bundle = makeBundle();
  base = readSpec(bundle);
});

afterEach(() => {
  for (const [id, dirs] of made) {
    rt.run(["delete", "--force", id]);
    for (const dir of dirs.sort((a, b) => b.length - a.length)) removeCgroupDir(dir);
  }
  made.clear();
});

afterAll(() => {
  rt.cleanup();
  if (bundle) fs.rmSync(bundle, { recursive: true, force: true });
});

/** Last resort when `delete --force` failed: kill what is left in a cgroup of ours (by pid) and remove it. */
function removeCgroupDir(dir: string) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupDir(path.join(dir, e.name));
  try {
    fs.writeFileSync(path.join(dir, "freezer.state"), "THAWED");
  } catch {
    // not the freezer hierarchy
  }
  for (const line of (fs.existsSync(`${dir}/cgroup.procs`) ? fs.readFileSync(`${dir}/cgroup.procs`, "utf8") : "").split("\n")) {
    if (!line) continue;
    try {
      process.kill(Number(line), "SIGKILL");
    } catch {
      // gone
    }
  }
  waitFor(() => {
    try {
      fs.rmdirSync(dir);
      return true;
    } catch {
      return false;
    }
  });
}

function configure(edit: (s: Spec) => void) {
  const spec: Spec = structuredClone(base);
  edit(spec);
  writeSpec(bundle, spec);
}

interface Record_ {
  pid: number;
  cgroup: { paths: Record<string, string> };
  spec: Spec;
}
const record = (id: string) => JSON.parse(fs.readFileSync(path.join(rt.root, id, "state.json"), "utf8")) as Record_;
const state = (id: string) => JSON.parse(rt.run(["state", id]).stdout) as { status: string; pid: number };
const cgroupFile = (id: string, controller: string, file: string) => fs.readFileSync(path.join(record(id).cgroup.paths[controller]!, file), "utf8").trim();

interface StatsData {
  cpu: { usage: { total?: number } };
  memory: { usage: { limit?: number; failcnt?: number } };
  pids: { current?: number; limit?: number };
}
function stats(id: string): StatsData {
  const r = rt.run(["events", "--stats", id]);
  expect(r.stderr).toBe("");
  const ev = JSON.parse(r.stdout) as { type: string; id: string; data: StatsData };
  expect(ev.type).toBe("stats");
  expect(ev.id).toBe(id);
  return ev.data;
}

/** Runs a detached container with `args` (and the spec edited by `edit`); remembers it for cleanup. */
function runDetached(args: string[], edit?: (s: Spec) => void): string {
  configure((s) => {
    s.process!.args = args;
    edit?.(s);
  });
  const id = uniqueId("res");
  const r = rt.run(["run", "-d", "-b", bundle, id]);
  if (fs.existsSync(path.join(rt.root, id, "state.json"))) made.set(id, Object.values(record(id).cgroup?.paths ?? {}));
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return id;
}

/** Cgroup directories anywhere under /sys/fs/cgroup whose name contains the container's id. */
function cgroupsNamed(id: string): string[] {
  const r = Bun.spawnSync(["find", "/sys/fs/cgroup", "-name", `*${id}*`], { stdout: "pipe", stderr: "ignore" });
  return r.stdout.toString().split("\n").filter(Boolean);
}

/** delete --force, then nothing of the container is left: state, cgroups, init. */
function deleteAndExpectNothingLeft(id: string) {
  const pid = record(id).pid;
  const r = rt.run(["delete", "--force", id]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  made.delete(id);
  expect(fs.existsSync(path.join(rt.root, id))).toBe(false);
  expect(cgroupsNamed(id)).toEqual([]);
  expect(waitFor(() => !fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"))).toBe(true);
}

describe("pure parts", () => {
  test("Go durations as --interval takes them", () => {
    expect(parseDuration("5s")).toBe(5000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("0")).toBe(0);
    expect(() => parseDuration("5")).toThrow(/invalid duration "5"/);
    expect(() => parseDuration("5 s")).toThrow(/invalid duration/);
    expect(() => parseDuration("")).toThrow(/invalid duration/);
  });

  test("ps output is filtered on its PID column, header kept", () => {
    const out = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sh\nroot 43 42 sleep\n";
    expect(filterPsOutput(out, [42, 43])).toBe("UID PID PPID CMD\nroot 42 1 sh\nroot 43 42 sleep\n");
    expect(filterPsOutput(out, [])).toBe("UID PID PPID CMD\n");
    expect(() => filterPsOutput("UID CMD\nroot sh\n", [1])).toThrow(/couldn't find PID field/);
    expect(() => filterPsOutput("PID CMD\nxx sh\n", [1])).toThrow(/unable to parse pid "xx"/);
  });
});

describe.skipIf(!isRoot)("cgroup verbs on real containers", () => {
  test("memory: a process allocating past the limit is OOM-killed and the event stream reports it, then ends with the container", async () => {
    const id = runDetached(["sleep", "1000"], (s) => {
      s.linux!.resources = { ...(s.linux!.resources ?? {}), memory: { limit: 32 * MiB, swap: 32 * MiB } };
    });
    expect(cgroupFile(id, "memory", "memory.limit_in_bytes")).toBe(String(32 * MiB));
    expect(stats(id).memory.usage.limit).toBe(32 * MiB);

    const events = Bun.spawn(rt.argv(["events", "--interval", "200ms", id]), { stdout: "pipe", stderr: "pipe" });
    let out = "";
    const reading = (async () => {
      for await (const chunk of events.stdout) out += new TextDecoder().decode(chunk);
    })();
    const lines = () => out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; id: string });
    const until = async (cond: () => boolean, ms = 15_000) => {
      const deadline = Date.now() + ms;
      while (!cond() && Date.now() < deadline) await Bun.sleep(20);
      return cond();
    };
    try {
      // the OOM watcher is armed before the first stats tick
      expect(await until(() => lines().some((e) => e.type === "stats"))).toBe(true);
      // under the limit: dd's 8 MiB buffer is fine
      const small = rt.run(["exec", id, "dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=1"]);
      expect(small.code).toBe(0);
      expect(lines().some((e) => e.type === "oom")).toBe(false);
      // past it: dd fills a 64 MiB buffer and the kernel kills it
      const big = rt.run(["exec", id, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
      expect(big.code).toBe(137);
      expect(await until(() => lines().some((e) => e.type === "oom"))).toBe(true);
      expect(lines().find((e) => e.type === "oom")).toEqual({ type: "oom", id });
      expect(state(id).status).toBe("running"); // only dd died

      // the stream ends by itself once the container stops
      expect(rt.run(["kill", id, "KILL"]).code).toBe(0);
      const ended = await Promise.race([events.exited, Bun.sleep(15_000).then(() => "timeout")]);
      expect(ended).toBe(0);
    } finally {
      if (events.exitCode === null) events.kill("SIGKILL");
      await events.exited;
      await reading;
    }
    deleteAndExpectNothingLeft(id);
  });

  test("pids: forking past pids.max fails inside; update raises the live limit", () => {
    const id = runDetached(["sleep", "1000"], (s) => {
      s.linux!.resources = { ...(s.linux!.resources ?? {}), pids: { limit: 4 } };
    });
    expect(cgroupFile(id, "pids", "pids.max")).toBe("4");
    const forkMany = ["exec", id, "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 1000 & done; echo all-forked"];
    const failed = rt.run(forkMany);
    expect(failed.code).not.toBe(0);
    expect(failed.stdout).not.toContain("all-forked");
    expect(failed.stderr).toContain("can't fork");
    expect(Number(/max (\d+)/.exec(cgroupFile(id, "pids", "pids.events"))?.[1])).toBeGreaterThan(0);
    expect(stats(id).pids.current).toBeLessThanOrEqual(4);

    expect(rt.run(["update", "--pids-limit", "20", id]).code).toBe(0);
    expect(cgroupFile(id, "pids", "pids.max")).toBe("20");
    expect(stats(id).pids.limit).toBe(20);
    const ok = rt.run(forkMany);
    expect(ok.stdout).toContain("all-forked");
    expect(ok.code).toBe(0);
    expect(stats(id).pids.current).toBeGreaterThanOrEqual(7);
    deleteAndExpectNothingLeft(id);
  });

  test("update: flags and -r change the live values and the record; rejected values name the resource and value", () => {
    const id = runDetached(["sleep", "1000"], (s) => {
      s.linux!.resources = { ...(s.linux!.resources ?? {}), memory: { limit: 32 * MiB }, pids: { limit: 30 } };
    });
    // 48 MiB does not fit under 32 MiB
    expect(rt.run(["exec", id, "dd", "if=/dev/zero", "of=/dev/null", "bs=48M", "count=1"]).code).toBe(137);

    const up = rt.run(["update", "--memory", "96m", "--memory-reservation", "16m", "--cpu-shares", "512", "--cpu-quota", "50000", "--cpu-period", "100000", "--cpu-burst", "20000", "--cpuset-cpus", "0", "--cpuset-mems", "0", id]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    expect(cgroupFile(id, "memory", "memory.limit_in_bytes")).toBe(String(96 * MiB));
    expect(cgroupFile(id, "memory", "memory.soft_limit_in_bytes")).toBe(String(16 * MiB));
    expect(cgroupFile(id, "cpu", "cpu.shares")).toBe("512");
    expect(cgroupFile(id, "cpu", "cpu.cfs_period_us")).toBe("100000");
    expect(cgroupFile(id, "cpu", "cpu.cfs_quota_us")).toBe("50000");
    expect(cgroupFile(id, "cpu", "cpu.cfs_burst_us")).toBe("20000");
    expect(cgroupFile(id, "cpuset", "cpuset.cpus")).toBe("0");
    // the same allocation now fits: the limit changed for the running container
    expect(rt.run(["exec", id, "dd", "if=/dev/zero", "of=/dev/null", "bs=48M", "count=1"]).code).toBe(0);

    // merged into the record: earlier fields stay, new ones are added
    const res = record(id).spec.linux!.resources as Record<string, Record<string, unknown>>;
    expect(res.memory).toEqual({ limit: 96 * MiB, reservation: 16 * MiB });
    expect(res.pids).toEqual({ limit: 30 });
    expect(res.cpu).toEqual({ shares: 512, quota: 50000, period: 100000, burst: 20000, cpus: "0", mems: "0" });
    expect(Array.isArray(res.devices)).toBe(true);

    // fields the kernel takes together: a quota alone keeps the period, a swap alone keeps the limit
    expect(rt.run(["update", "--cpu-period", "50000", id]).code).toBe(0);
    const quota = rt.run(["update", "--cpu-quota", "20000", id]);
    expect(quota.stderr).toBe("");
    expect(cgroupFile(id, "cpu", "cpu.cfs_period_us")).toBe("50000");
    expect(cgroupFile(id, "cpu", "cpu.cfs_quota_us")).toBe("20000");
    const swap = rt.run(["update", "--memory-swap", "192m", id]);
    expect(swap.stderr).toBe("");
    expect(swap.code).toBe(0);
    expect(cgroupFile(id, "memory", "memory.memsw.limit_in_bytes")).toBe(String(192 * MiB));
    expect(cgroupFile(id, "memory", "memory.limit_in_bytes")).toBe(String(96 * MiB));
    const below = rt.run(["update", "--memory-swap", "64m", id]);
    expect(below.code).toBe(1);
    expect(below.stderr).toContain("linux.resources.memory.swap: 67108864 is below memory.limit 100663296");
    expect(cgroupFile(id, "memory", "memory.memsw.limit_in_bytes")).toBe(String(192 * MiB));

    // -r from stdin (and from a file); as runc, the flags are then ignored
    const viaStdin = rt.run(["update", "-r", "-", "--pids-limit", "99", id], { stdin: JSON.stringify({ pids: { limit: 7 }, cpu: { quota: -1 } }) });
    expect(viaStdin.code).toBe(0);
    expect(viaStdin.stderr).toContain("ignoring --pids-limit");
    expect(cgroupFile(id, "pids", "pids.max")).toBe("7");
    expect(cgroupFile(id, "cpu", "cpu.cfs_quota_us")).toBe("-1");
    const file = path.join(rt.root, `${id}.resources.json`);
    fs.writeFileSync(file, JSON.stringify({ memory: { limit: 80 * MiB } }));
    try {
      expect(rt.run(["update", "--resources", file, id]).code).toBe(0);
    } finally {
      fs.rmSync(file, { force: true });
    }
    expect(cgroupFile(id, "memory", "memory.limit_in_bytes")).toBe(String(80 * MiB));

    // values the kernel (or the validator) rejects: an error naming the resource and the value, nothing stored
    const cpus = rt.run(["update", "--cpuset-cpus", "63", id]);
    expect(cpus.code).toBe(1);
    expect(cpus.stderr).toContain("linux.resources.cpu.cpus");
    expect(cpus.stderr).toContain('"63"');
    expect(cgroupFile(id, "cpuset", "cpuset.cpus")).toBe("0");
    const tiny = rt.run(["update", "--memory", "12", id]);
    expect(tiny.code).toBe(1);
    expect(tiny.stderr).toContain("linux.resources.memory.limit: 12");
    const notSize = rt.run(["update", "--memory", "lots", id]);
    expect(notSize.code).toBe(1);
    expect(notSize.stderr).toContain('--memory: "lots" is not a size');
    const kmem = rt.run(["update", "--kernel-memory", "10m", id]);
    expect(kmem.code).toBe(0); // runc: obsolete, ignored with a warning
    expect(kmem.stderr).toContain("--kernel-memory is ignored");
    expect(rt.run(["update", "--l3-cache-schema", "L3:0=f", id]).stderr).toContain("Intel RDT/CAT: l3 cache schema is not enabled");
    const badJson = rt.run(["update", "-r", "-", id], { stdin: "{nope" });
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain("not valid JSON");
    const after = record(id).spec.linux!.resources as Record<string, Record<string, unknown>>;
    expect(after.cpu!.cpus).toBe("0");
    expect(after.memory!.limit).toBe(80 * MiB);

    // unlimited memory takes swap along (runc), so v1's memsw ≥ limit holds
    expect(rt.run(["update", "--memory", "-1", id]).code).toBe(0);
    expect(BigInt(cgroupFile(id, "memory", "memory.limit_in_bytes"))).toBeGreaterThan(1n << 60n);

    rt.run(["kill", id, "KILL"]);
    expect(waitFor(() => state(id).status === "stopped")).toBe(true);
    const stopped = rt.run(["update", "--pids-limit", "9", id]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("stopped");
    deleteAndExpectNothingLeft(id);
  });

  test("pause stops a busy loop (cpu usage flat) and resume restarts it; state, list and exec see paused; delete --force works paused", async () => {
    const id = runDetached(["sh", "-c", "while :; do :; done"]);
    const usage = () => stats(id).cpu.usage.total ?? 0;
    const u0 = usage();
    expect(waitFor(() => usage() > u0 + 20e6, 10_000)).toBe(true); // it burns cpu

    expect(rt.run(["pause", id]).code).toBe(0);
    expect(state(id).status).toBe("paused");
    const listed = JSON.parse(rt.run(["list", "--format", "json"]).stdout) as { id: string; status: string }[];
    expect(listed.find((e) => e.id === id)?.status).toBe("paused");
    const frozen = usage();
    Bun.sleepSync(300);
    expect(usage()).toBe(frozen);
    const again = rt.run(["pause", id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("paused");
    const ex = rt.run(["exec", id, "true"]);
    expect(ex.code).toBe(1);
    expect(ex.stderr).toContain("--ignore-paused");
    // with --ignore-paused the exec goes ahead, and its process is held by the freezer until resume
    const out = `${rt.root}.ignore-paused.out`;
    const late = Bun.spawn(rt.argv(["exec", "--ignore-paused", id, "sh", "-c", "echo ran after resume"]), { stdin: "ignore", stdout: Bun.file(out), stderr: "ignore" });
    Bun.sleepSync(300);
    expect(late.exitCode).toBe(null);

    expect(rt.run(["resume", id]).code).toBe(0);
    expect(await late.exited).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toBe("ran after resume\n");
    fs.rmSync(out, { force: true });
    expect(state(id).status).toBe("running");
    expect(waitFor(() => usage() > frozen + 20e6, 10_000)).toBe(true);
    const notPaused = rt.run(["resume", id]);
    expect(notPaused.code).toBe(1);
    expect(notPaused.stderr).toContain("not paused");

    expect(rt.run(["pause", id]).code).toBe(0);
    expect(state(id).status).toBe("paused");
    deleteAndExpectNothingLeft(id);
  });

  test("a created container can be paused and resumed (it stays created)", () => {
    configure((s) => {
      s.process!.args = ["sleep", "1000"];
    });
    const id = uniqueId("res");
    expect(rt.run(["create", "-b", bundle, id]).code).toBe(0);
    made.set(id, Object.values(record(id).cgroup.paths));
    expect(rt.run(["pause", id]).code).toBe(0);
    expect(state(id).status).toBe("paused");
    expect(rt.run(["start", id]).stderr).toContain("paused");
    expect(rt.run(["resume", id]).code).toBe(0);
    expect(state(id).status).toBe("created");
    deleteAndExpectNothingLeft(id);
  });

  test("ps lists the container's processes (json, table, ps options); kill --all reaches them all", () => {
    const id = runDetached(["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    const json = () => JSON.parse(rt.run(["ps", "--format", "json", id]).stdout) as number[];
    expect(waitFor(() => json().length === 2)).toBe(true);
    const pids = json();
    expect(pids).toContain(state(id).pid);
    for (const pid of pids) expect(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")).toMatch(/^sleep\x00100[01]\x00$/);

    const table = rt.run(["ps", id]);
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^UID\s+PID\s+PPID/);
    expect(rows.length).toBe(3);
    expect(rows.slice(1).map((r) => Number(r.trim().split(/\s+/)[1])).sort()).toEqual([...pids].sort());
    expect(table.stdout).toContain("sleep 1000");
    expect(table.stdout).toContain("sleep 1001");

    const custom = rt.run(["ps", id, "-o", "pid,comm"]);
    expect(custom.code).toBe(0);
    const cells = custom.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    expect(cells).toEqual(["PID COMMAND", ...[...pids].sort((a, b) => a - b).map((p) => `${p} sleep`)]);
    const noPid = rt.run(["ps", id, "-o", "comm"]);
    expect(noPid.code).toBe(1);
    expect(noPid.stderr).toContain("couldn't find PID field");
    expect(rt.run(["ps", "--format", "xml", id]).stderr).toContain('invalid format option "xml"');

    // TERM (freeze, signal, thaw): the child dies; the init, PID 1 of its namespace without a handler, ignores it
    const init = state(id).pid;
    expect(rt.run(["kill", "--all", id, "TERM"]).code).toBe(0);
    expect(waitFor(() => JSON.stringify(json()) === JSON.stringify([init]))).toBe(true);
    expect(state(id).status).toBe("running"); // thawed again
    expect(rt.run(["kill", "--all", id, "KILL"]).code).toBe(0);
    expect(waitFor(() => json().length === 0)).toBe(true);
    expect(waitFor(() => state(id).status === "stopped")).toBe(true);
    deleteAndExpectNothingLeft(id);
  });

  test("events on a stopped container, bad intervals and unknown containers are errors", () => {
    const id = runDetached(["true"]);
    expect(waitFor(() => state(id).status === "stopped")).toBe(true);
    const r = rt.run(["events", "--stats", id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`container ${id} is not running`);
    expect(rt.run(["events", "--interval", "0s", id]).stderr).toContain("greater than 0");
    expect(rt.run(["events", "--interval", "5", id]).stderr).toContain('invalid duration "5"');
    expect(rt.run(["pause", id]).stderr).toContain("stopped");
    expect(rt.run(["ps", "--format", "json", id]).stdout.trim()).toBe("[]");
    deleteAndExpectNothingLeft(id);
    expect(rt.run(["pause", id]).stderr).toContain("does not exist");
    expect(rt.run(["update", "--memory", "1m", id]).stderr).toContain("does not exist");
  });
});
