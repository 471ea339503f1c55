// Integration: exec into running containers, and terminals over a console socket (root only).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { isRoot, REPO, Runtime, uniqueId, waitFor } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";

const rt = new Runtime();
let bundle = "";
let base: Spec;
let scratch = "";
let id = "";
let initPid = 0;

beforeAll(() => {
  if (!isRoot) return;
  bundle = makeBundle();
  base = readSpec(bundle);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "isola-exec-"));
  const spec: Spec = structuredClone(base);
  spec.process!.args = ["sleep", "1000"];
  spec.linux!.namespaces!.push({ type: "time" });
  spec.linux!.timeOffsets = { boottime: { secs: 1_000_000 } };
  spec.root!.readonly = false;
  writeSpec(bundle, spec);
  id = uniqueId("exec");
  const r = rt.run(["run", "-d", "-b", bundle, id]);
  if (r.code !== 0) throw new Error(r.stderr);
  initPid = JSON.parse(rt.run(["state", id]).stdout).pid;
});
afterAll(() => {
  rt.cleanup();
  if (bundle) fs.rmSync(bundle, { recursive: true, force: true });
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const ns = (pid: number | "self", t: string) => fs.readlinkSync(`/proc/${pid}/ns/${t}`);

describe.skipIf(!isRoot)("exec", () => {
  test("joins every namespace of the container and returns the exit status", () => {
    const types = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "time"];
    const r = rt.run(["exec", id, "sh", "-c", `for t in ${types.join(" ")}; do readlink /proc/self/ns/$t; done; cut -d' ' -f1 /proc/1/cmdline 2>/dev/null; cat /proc/1/comm; exit 9`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(9);
    const lines = r.stdout.trim().split("\n");
    types.forEach((t, i) => {
      expect(lines[i]).toBe(ns(initPid, t));
      expect(lines[i]).not.toBe(ns("self", t));
    });
    expect(lines.at(-1)).toBe("sleep"); // the container's pid 1 is visible: same pid namespace
  });

  test("joins the container's cgroups", () => {
    const r = rt.run(["exec", id, "cat", "/proc/self/cgroup"]);
    const init = fs.readFileSync(`/proc/${initPid}/cgroup`, "utf8");
    expect(r.code).toBe(0);
    // inside the cgroup namespace every path is the container's root
    expect(r.stdout.split("\n").filter((l) => l).every((l) => l.endsWith(":/"))).toBe(true);
    expect(init).toContain(id);
  });

  test("--cgroup runs the process in sub-cgroups of the container's, all or per controller", () => {
    const paths = JSON.parse(fs.readFileSync(path.join(rt.root, id, "state.json"), "utf8")).cgroup.paths as Record<string, string>;
    const made: string[] = [];
    try {
      for (const dir of new Set(Object.values(paths))) {
        fs.mkdirSync(`${dir}/sub`);
        made.push(`${dir}/sub`);
      }
      // a v1 cpuset cgroup takes tasks only once it has cpus and mems (the maker's job, as with runc)
      if (paths.cpuset) for (const f of ["cpuset.cpus", "cpuset.mems"]) fs.writeFileSync(`${paths.cpuset}/sub/${f}`, fs.readFileSync(`${paths.cpuset}/${f}`));
      fs.mkdirSync(`${paths.memory}/only`);
      made.push(`${paths.memory}/only`);
      // inside its cgroup namespace the container's cgroup is "/"
      const all = rt.run(["exec", "--cgroup", "sub", id, "cat", "/proc/self/cgroup"]);
      expect(all.stderr).toBe("");
      expect(all.stdout.trim().split("\n").every((l) => l.endsWith(":/sub"))).toBe(true);
      const one = rt.run(["exec", "--cgroup", "memory:only", id, "cat", "/proc/self/cgroup"]);
      expect(one.stderr).toBe("");
      const lines = one.stdout.trim().split("\n");
      expect(lines.filter((l) => l.endsWith(":/only"))).toEqual([expect.stringMatching(/:memory:\/only$/)]);
      expect(lines.filter((l) => !l.includes(":memory:")).every((l) => l.endsWith(":/"))).toBe(true);
      const missing = rt.run(["exec", "--cgroup", "nope", id, "true"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("--cgroup: ");
      expect(missing.stderr).toContain("/nope does not exist");
      expect(missing.stderr).toContain("does not exist (the sub-cgroup must be made first)");
    } finally {
      for (const d of made.reverse()) waitFor(() => {
        try {
          fs.rmdirSync(d);
          return true;
        } catch {
          return false;
        }
      });
    }
    expect(made.every((d) => !fs.existsSync(d))).toBe(true);
  });

  test("--user, --cwd, --env, --additional-gids, --cap, --no-new-privs", () => {
    const r = rt.run([
      "exec", "--user", "1000:1001", "--cwd", "/tmp", "--env", "A=1", "-e", "B=two words", "--additional-gids", "7", "-g", "8", "--no-new-privs", id,
      "sh", "-c", 'id -u; id -g; pwd; echo "$A/$B"; grep -E "^(Groups|NoNewPrivs|CapEff)" /proc/self/status | tr -s "\\t" " "',
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual(["1000", "1001", "/tmp", "1/two words", "Groups: 7 8 ", "CapEff: 0000000000000000", "NoNewPrivs: 1"]);
    const caps = rt.run(["exec", "--cap", "CAP_NET_ADMIN", id, "grep", "CapEff", "/proc/self/status"]);
    expect(caps.stdout).toContain("0000000020001420"); // default + NET_ADMIN (12)
    expect(rt.run(["exec", "--cap", "CAP_FLY", id, "true"]).stderr).toContain('--cap: "CAP_FLY" is not a capability');
  });

  test("-p/--process process.json, --pid-file and --detach", () => {
    const procFile = path.join(scratch, "process.json");
    fs.writeFileSync(procFile, JSON.stringify({ args: ["sh", "-c", "echo $X > /tmp/detached; sleep 0.2"], env: ["X=from-process-json"], cwd: "/", user: { uid: 0, gid: 0 } }));
    const pidFile = path.join(scratch, "exec.pid");
    const r = rt.run(["exec", "-d", "--pid-file", pidFile, "-p", procFile, id]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(Number(fs.readFileSync(pidFile, "utf8"))).toBeGreaterThan(0);
    expect(waitFor(() => rt.run(["exec", id, "cat", "/tmp/detached"]).stdout === "from-process-json\n")).toBe(true);

    // a process file is checked as config.json's process is, every problem named
    const bad = path.join(scratch, "bad-process.json");
    fs.writeFileSync(bad, JSON.stringify({ args: ["true"], capabilities: { bounding: ["CAP_FLY"] }, env: ["NOEQUALS"], rlimits: [{ type: "RLIMIT_NOPE", soft: 1, hard: 1 }] }));
    const r2 = rt.run(["exec", "-p", bad, id]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`--process ${bad}: process.capabilities.bounding[0]: is not a capability this runtime knows`);
    expect(r2.stderr).toContain(`--process ${bad}: process.env[0]: must be NAME=value`);
    expect(r2.stderr).toContain(`--process ${bad}: process.rlimits[0].type: must be one of`);
    fs.writeFileSync(bad, "[1]");
    expect(rt.run(["exec", "-p", bad, id]).stderr).toContain("must hold a JSON object");
  });

  test("--preserve-fds passes the caller's extra descriptors in", () => {
    const file = path.join(scratch, "preserved");
    fs.writeFileSync(file, "through fd 3\n");
    const fd = fs.openSync(file, "r");
    try {
      const argv = rt.argv(["exec", "--preserve-fds", "1", id, "sh", "-c", "cat <&3"]);
      const r = Bun.spawnSync(argv, { stdio: ["ignore", "pipe", "pipe", fd] });
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toBe("through fd 3\n");
      // without the flag fd 3 is closed inside
      const closed = Bun.spawnSync(rt.argv(["exec", id, "sh", "-c", "cat <&3 2>&1; echo $?"]), { stdio: ["ignore", "pipe", "pipe", fd] });
      expect(closed.stdout.toString()).toBe("1\n"); // the redirection from fd 3 failed
    } finally {
      fs.closeSync(fd);
    }
  });

  test("no host file descriptors leak into the exec'd process; its cwd is inside the container", () => {
    const r = rt.run(["exec", id, "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; readlink /proc/self/cwd"]);
    expect(r.stdout).toBe("0 1 2 3 /\n");
  });

  test("errors: missing command, unknown container, stopped container", () => {
    expect(rt.run(["exec", id]).stderr).toContain("the command to run is required");
    expect(rt.run(["exec", id, "no-such-cmd"]).stderr).toContain('exec: "no-such-cmd": executable file not found in $PATH');
    expect(rt.run(["exec", "nope-" + id, "true"]).stderr).toContain("does not exist");
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["true"];
    writeSpec(bundle, spec);
    const other = uniqueId("stopped");
    expect(rt.run(["run", "-d", "-b", bundle, other]).code).toBe(0);
    expect(waitFor(() => rt.run(["state", other]).stdout.includes('"stopped"'))).toBe(true);
    const r = rt.run(["exec", other, "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot exec in a stopped container");
    rt.run(["delete", other]);
  });
});

/** Starts the console-socket receiver; resolves once it listens. */
async function consoleReceiver(sock: string, out: string, input = "") {
  const p = Bun.spawn(["python3", path.join(REPO, "test/console_socket.py"), sock, out, input], { stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  await reader.read(); // "ready"
  reader.releaseLock();
  return p;
}

describe.skipIf(!isRoot)("terminals", () => {
  test("create --console-socket sends the pty master; the container runs on it with its consoleSize", async () => {
    const sock = path.join(scratch, "console.sock");
    const out = path.join(scratch, "console.out");
    const spec: Spec = structuredClone(base);
    spec.process!.terminal = true;
    spec.process!.consoleSize = { height: 33, width: 111 };
    spec.process!.args = ["sh", "-c", "tty; stty size; [ -t 0 ] && echo stdin-is-tty; read line; echo got:$line"];
    writeSpec(bundle, spec);
    const recv = await consoleReceiver(sock, out, "hello\n");
    const cid = uniqueId("tty");
    try {
      const r = rt.run(["create", "--console-socket", sock, "-b", bundle, cid]);
      expect(r.stderr).toBe("");
      expect(rt.run(["start", cid]).code).toBe(0);
      expect(await recv.exited).toBe(0);
      const text = fs.readFileSync(out, "utf8").replace(/\r/g, "");
      expect(text).toContain("name /dev/ptmx\nsize 33 111\n");
      expect(text).toMatch(/\/dev\/pts\/\d+\n33 111\nstdin-is-tty\n/);
      expect(text).toContain("got:hello");
    } finally {
      recv.kill();
      rt.run(["delete", "--force", cid]);
    }
  });

  test("exec -t --console-socket", async () => {
    const sock = path.join(scratch, "exec-console.sock");
    const out = path.join(scratch, "exec-console.out");
    const recv = await consoleReceiver(sock, out);
    try {
      const r = rt.run(["exec", "-t", "--console-socket", sock, id, "sh", "-c", "tty; exit 4"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(4);
      expect(await recv.exited).toBe(0);
      expect(fs.readFileSync(out, "utf8")).toMatch(/\/dev\/pts\/\d+\r?\n/);
    } finally {
      recv.kill();
    }
  });

  test("run with a terminal in the foreground relays the pty itself (raw mode, window size, exit status)", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.terminal = true;
    spec.process!.args = ["sh", "-c", "tty; [ -t 1 ] && echo out-is-tty; stty size; exit 3"];
    writeSpec(bundle, spec);
    const cid = uniqueId("relay");
    const run = rt.argv(["run", "-b", bundle, cid]).map((a) => `'${a}'`).join(" ");
    // the caller's terminal: 33x101; its mode is saved before and compared after the run
    const cmd = `stty rows 33 cols 101; before=$(stty -g); ${run}; rc=$?; [ "$(stty -g)" = "$before" ] && echo mode-restored; exit $rc`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const raw = r.stdout.toString();
    // the container's pty turns \n into \r\n; the caller's terminal, raw meanwhile, adds nothing
    // (a cooked one would make it \r\r\n)
    expect(raw).toContain("out-is-tty\r\n");
    expect(raw).not.toContain("\r\r\n");
    const out = raw.replace(/\r/g, "");
    expect(out).toMatch(/\/dev\/pts\/\d+\nout-is-tty\n33 101\nmode-restored\n/);
    expect(r.exitCode).toBe(3);
    expect(fs.existsSync(path.join(rt.root, cid))).toBe(false);
  });

  test("exec -t in the foreground relays the pty itself too (raw mode, window size, exit status)", () => {
    const exec = rt.argv(["exec", "-t", id, "sh", "-c", "tty; [ -t 0 ] && echo in-is-tty; stty size; exit 4"]).map((a) => `'${a}'`).join(" ");
    const cmd = `stty rows 21 cols 77; before=$(stty -g); ${exec}; rc=$?; [ "$(stty -g)" = "$before" ] && echo mode-restored; exit $rc`;
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const raw = r.stdout.toString();
    expect(raw).toContain("in-is-tty\r\n");
    expect(raw).not.toContain("\r\r\n");
    expect(raw.replace(/\r/g, "")).toMatch(/\/dev\/pts\/\d+\nin-is-tty\n21 77\nmode-restored\n/);
    expect(r.exitCode).toBe(4);
  });

  test("run with a terminal in the foreground passes window size changes on (SIGWINCH)", async () => {
    const spec: Spec = structuredClone(base);
    spec.process!.terminal = true;
    // report the size on SIGWINCH, then finish
    spec.process!.args = ["sh", "-c", "trap 'stty size; exit 0' WINCH; echo waiting; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 9"];
    writeSpec(bundle, spec);
    const ttyFile = path.join(scratch, `tty-${process.pid}`);
    const run = rt.argv(["run", "-b", bundle, uniqueId("winch")]).map((a) => `'${a}'`).join(" ");
    const cmd = `stty rows 20 cols 80; tty > '${ttyFile}'; ${run}`;
    const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    let out = "";
    const reading = (async () => {
      for await (const chunk of p.stdout) out += new TextDecoder().decode(chunk);
    })();
    try {
      for (let i = 0; i < 200 && !out.includes("waiting"); i++) await Bun.sleep(50); // the reader needs the event loop
      expect(out).toContain("waiting");
      const tty = fs.readFileSync(ttyFile, "utf8").trim();
      // the caller's terminal changes size: the kernel signals its foreground process group
      expect(Bun.spawnSync(["stty", "-F", tty, "rows", "40", "cols", "120"]).exitCode).toBe(0);
      expect(await p.exited).toBe(0);
      await reading;
      expect(out.replace(/\r/g, "")).toContain("waiting\n40 120\n");
    } finally {
      if (p.exitCode === null) p.kill(9);
      fs.rmSync(ttyFile, { force: true });
    }
  });

  test("bad combinations are refused before anything is created", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.terminal = true;
    writeSpec(bundle, spec);
    const cid = uniqueId("notty");
    expect(rt.run(["create", "-b", bundle, cid]).stderr).toContain("cannot allocate a terminal for a detached container without --console-socket");
    expect(fs.existsSync(path.join(rt.root, cid))).toBe(false);
    spec.process!.terminal = false;
    writeSpec(bundle, spec);
    expect(rt.run(["create", "--console-socket", "/tmp/x.sock", "-b", bundle, cid]).stderr).toContain("--console-socket: given, but process.terminal is false");
    expect(rt.run(["exec", "-d", "-t", id, "true"]).stderr).toContain("cannot allocate a terminal for a detached process");
  });
});
