// Integration: escape attempts and sandbox extensions, each tried from inside a container (root only).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { hostMountsUnder, isRoot, REPO, Runtime, runtimeArgvFor, uniqueId, waitFor } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";
import { DOCKER_DEFAULT_CAPS } from "../seccomp/moby.ts";

const rt = new Runtime();
let bundle = "";
let base: Spec;
let work = "";

beforeAll(() => {
  bundle = makeBundle();
  base = readSpec(bundle);
  base.root!.readonly = false;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "isola-sec-"));
});
afterAll(() => {
  rt.cleanup();
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const rootfs = () => path.join(bundle, "rootfs");

function useSpec(edit: (s: Spec) => void): void {
  const spec: Spec = structuredClone(base);
  edit(spec);
  writeSpec(bundle, spec);
}

/**
 * CVE-2019-5736 from inside: hold /proc/<pid>/exe of a process open while it still runs
 * the binary, wait until it has exec'd something else (the kernel then lifts the write-deny),
 * and write through the held fd. Writes "<label> open=<rc> write=<rc> exe=<link>" lines to
 * /tmp/attack.<label>.
 */
const ATTACK = `attack() { # label pid
  exe=$(readlink /proc/$2/exe)
  if { command exec 3< /proc/$2/exe; } 2>/tmp/openerr.$1; then o=0; else o=1; fi
  echo "$1 exe=$exe" > /tmp/exe.$1
  : > /tmp/holding.$1
  while [ "$(readlink /proc/$2/exe)" = "$exe" ]; do usleep 2000; done
  echo PWNED | dd of=/proc/self/fd/3 conv=notrunc 2>/tmp/err.$1; w=$?
  echo "$1 open=$o write=$w" > /tmp/attack.$1
  exec 3<&-
}`;

describe.skipIf(!isRoot)("CVE-2019-5736: the launcher's binary can't be overwritten through /proc/<pid>/exe", () => {
  test("a created container's init (still the launcher) hides its exe and fds from the container; it runs from a sealed copy; the host binary is unchanged", () => {
    // attack a copy of the launcher, never the installed one
    const launcher = path.join(work, "isola-launcher");
    fs.copyFileSync(path.join(REPO, "bin/isola-launcher"), launcher);
    fs.chmodSync(launcher, 0o755);
    const before = sha256(launcher);
    const env = { ISOLA_LAUNCHER: launcher };
    useSpec((s) => (s.process!.args = ["sleep", "100"]));
    for (const f of fs.readdirSync(path.join(rootfs(), "tmp"))) fs.rmSync(path.join(rootfs(), "tmp", f), { recursive: true, force: true });
    const id = uniqueId("cve5736");
    expect(rt.run(["create", "-b", bundle, id], { env }).code).toBe(0);
    let held: number | undefined;
    try {
      // The control: the same attack against a writable binary that execs away does succeed.
      const script = `${ATTACK}
        mkdir /tmp/victim && cp /bin/busybox /tmp/victim/sh
        /tmp/victim/sh -c 'while [ ! -e /tmp/holding.control ]; do usleep 2000; done; exec /bin/busybox sleep 100' &
        while [ "$(readlink /proc/$!/exe)" != /tmp/victim/sh ]; do usleep 1000; done
        attack control $!
        grep -c PWNED /tmp/victim/sh > /tmp/control.pwned
        kill %1 2>/dev/null
        for f in /proc/1/fd/*; do readlink $f || echo denied; done > /tmp/fds.created 2>/dev/null
        attack init 1`;
      const e = rt.run(["exec", "-d", id, "sh", "-c", script], { env });
      expect(e.stderr).toBe("");
      const tmp = path.join(rootfs(), "tmp");
      expect(waitFor(() => fs.existsSync(path.join(tmp, "holding.init")), 10_000)).toBe(true);
      expect(fs.readFileSync(path.join(tmp, "attack.control"), "utf8").trim()).toBe("control open=0 write=0");
      expect(fs.readFileSync(path.join(tmp, "control.pwned"), "utf8").trim()).toBe("1");
      // Layer 1: the init is not dumpable while it is the launcher: its exe and fds are closed to the container.
      expect(fs.readFileSync(path.join(tmp, "openerr.init"), "utf8")).toContain("Permission denied");
      const fds = fs.readFileSync(path.join(tmp, "fds.created"), "utf8").trim().split("\n");
      expect(fds.length).toBeGreaterThanOrEqual(4); // stdio and the exec fifo
      expect(fds.every((l) => l === "denied")).toBe(true);
      // Layer 2 (what CAP_SYS_PTRACE would reach, tried from the host as root): a sealed memfd copy.
      const initPid = JSON.parse(rt.run(["state", id]).stdout).pid as number;
      expect(fs.readlinkSync(`/proc/${initPid}/exe`)).toMatch(/^\/memfd:isola-launcher/);
      expect(() => fs.openSync(`/proc/${initPid}/exe`, "r+")).toThrow(/ETXTBSY/);
      held = fs.openSync(`/proc/${initPid}/exe`, "r");
      expect(rt.run(["start", id], { env }).code).toBe(0);
      expect(waitFor(() => fs.existsSync(path.join(tmp, "attack.init")), 10_000)).toBe(true);
      expect(fs.readFileSync(path.join(tmp, "attack.init"), "utf8").trim()).toBe("init open=1 write=1");
      // the init has exec'd: the held copy is no longer executing, and still can't be changed
      const rw = fs.openSync(`/proc/self/fd/${held}`, "r+");
      try {
        expect(() => fs.writeSync(rw, "PWNED")).toThrow(/EPERM/);
      } finally {
        fs.closeSync(rw);
      }
      expect(sha256(launcher)).toBe(before);
      // control for layer 1: once the init has exec'd its program, it is dumpable and its fds are listable (only stdio)
      expect(rt.run(["exec", id, "sh", "-c", "ls /proc/1/fd | tr '\\n' ' '"], { env }).stdout).toBe("0 1 2 ");
    } finally {
      if (held !== undefined) fs.closeSync(held);
      rt.run(["delete", "--force", id], { env });
    }
  });
});

describe.skipIf(!isRoot)("CVE-2019-5736: a container in the host's pid namespace can't open the runtime's binary through /proc/<pid>/exe", () => {
  test("with Docker's capabilities, during a foreground run, /proc/<isola-runtime>/exe and the launcher's refuse writing, reading and O_PATH; the same probe opens and overwrites a binary of the container's own", async () => {
    const probe = path.join(work, "exe_probe");
    const cc = Bun.spawnSync(["gcc", "-static", "-O1", "-o", probe, path.join(REPO, "test/exe_probe.c")]);
    if (cc.exitCode !== 0) throw new Error(`gcc: ${cc.stderr.toString()}`);
    fs.copyFileSync(probe, path.join(rootfs(), "bin/exe_probe"));
    fs.chmodSync(path.join(rootfs(), "bin/exe_probe"), 0o755);
    const victim = path.join(rootfs(), "tmp/exe-victim");
    fs.copyFileSync("/bin/busybox", victim);
    fs.chmodSync(victim, 0o755);
    // the runtime runs from copies in the test's dir (when compiled): nothing else is ever a target
    const argv = [...runtimeArgvFor(path.join(work, "runtime-copy")), "--root", rt.root];
    const runtimeExe = fs.realpathSync(argv[0]!);
    const before = sha256(runtimeExe);
    useSpec((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "pid");
      for (const set of ["bounding", "effective", "permitted"] as const) s.process!.capabilities![set] = [...DOCKER_DEFAULT_CAPS];
      // the init's parent is the launcher's stage 0, whose parent is isola-runtime
      s.process!.args = [
        "sh",
        "-c",
        `l=$(awk '{print $4}' /proc/$$/stat); r=$(awk '{print $4}' /proc/$l/stat)
        echo "pids $l $r"; grep ^CapEff /proc/self/status
        echo "runtime $(exe_probe open $r)"; echo "launcher $(exe_probe open $l)"
        sleep 100 & echo "sibling $(exe_probe open $!)"; kill $!
        echo "attack $(exe_probe attack /tmp/exe-victim)"`,
      ];
    });
    const out = path.join(work, "exe.out");
    const err = path.join(work, "exe.err");
    const run = Bun.spawn([...argv, "run", "-b", bundle, uniqueId("exe")], { stdout: Bun.file(out), stderr: Bun.file(err) });
    try {
      expect(await run.exited).toBe(0);
      expect(fs.readFileSync(err, "utf8")).toBe("");
      const lines = Object.fromEntries(
        fs
          .readFileSync(out, "utf8")
          .trim()
          .split("\n")
          .map((l) => [l.split(/[ :]/)[0], l.replace(/^\S+\s+/, "")]),
      );
      // the probe reached the runtime process the test started, with Docker's capabilities (CAP_DAC_OVERRIDE, no CAP_SYS_PTRACE)
      expect(Number(lines.pids?.split(" ")[1])).toBe(run.pid);
      const caps = BigInt(`0x${lines.CapEff}`);
      expect([(caps >> 1n) & 1n, (caps >> 19n) & 1n]).toEqual([1n, 0n]);
      expect(lines.runtime).toBe("wronly=EACCES rdonly=EACCES path=EACCES reopen=-");
      expect(lines.launcher).toBe("wronly=EACCES rdonly=EACCES path=EACCES reopen=-");
      // control: a process of the container's own is open to the same probe (only the running image's write-deny stops it)
      expect(lines.sibling).toBe("wronly=ETXTBSY rdonly=ok path=ok reopen=ETXTBSY");
      // and the whole attack overwrites a binary once it stopped running
      expect(lines.attack).toBe("wronly=ETXTBSY rdonly=ok path=ok reopen=ok write=ok");
      expect(fs.readFileSync(victim).subarray(0, 5).toString()).toBe("PWNED");
      expect(sha256(runtimeExe)).toBe(before);
    } finally {
      if (run.exitCode === null) run.kill(9);
      await run.exited;
      fs.rmSync(victim, { force: true });
      fs.rmSync(path.join(rootfs(), "bin/exe_probe"), { force: true });
    }
  });
});

describe.skipIf(!isRoot)("CVE-2024-21626: a cwd through /proc/self/fd never reaches a host directory", () => {
  test("create: process.cwd /proc/self/fd/<n> is refused, naming process.cwd", () => {
    for (const n of [3, 4, 5, 6, 7, 8]) {
      useSpec((s) => (s.process!.cwd = `/proc/self/fd/${n}`));
      const id = uniqueId("cwdfd");
      const r = rt.run(["create", "-b", bundle, id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("process.cwd");
      expect(fs.existsSync(`${rt.root}/${id}`)).toBe(false);
    }
  });

  test("exec --cwd /proc/self/fd/3 with a host directory passed as fd 3 fails; the same fd without the magic link is the process's own choice", () => {
    useSpec((s) => (s.process!.args = ["sleep", "100"]));
    const id = uniqueId("cwdx");
    expect(rt.run(["run", "-d", "-b", bundle, id]).code).toBe(0);
    const hostDir = fs.mkdtempSync(path.join(work, "hostdir-"));
    fs.writeFileSync(path.join(hostDir, "host-secret"), "x");
    const dirFd = fs.openSync(hostDir, "r");
    try {
      const execWithFd = (cwd: string) => {
        const r = Bun.spawnSync(rt.argv(["exec", "--preserve-fds", "1", "--cwd", cwd, id, "sh", "-c", "pwd; ls"]), {
          stdio: ["ignore", "pipe", "pipe", dirFd] as never,
        });
        return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
      };
      const attack = execWithFd("/proc/self/fd/3");
      expect(attack.code).not.toBe(0);
      expect(attack.out).not.toContain("host-secret");
      expect(attack.err).toContain("process.cwd: chdir /proc/self/fd/3");
      // control: an ordinary cwd works with the same fds
      const ok = execWithFd("/tmp");
      expect(ok.code).toBe(0);
      expect(ok.out.split("\n")[0]).toBe("/tmp");
    } finally {
      fs.closeSync(dirFd);
      rt.run(["delete", "--force", id]);
    }
  });

  test("the runtime's fds (sync socket, exec fifo, listener) are not visible: a created container's init hides its fds, the program sees only stdio", () => {
    useSpec((s) => (s.process!.args = ["sh", "-c", "{ ls /proc/self/fd | tr '\\n' ' '; readlink /proc/self/cwd; } > /dev/shm/fds; sleep 100"]));
    const id = uniqueId("fds");
    expect(rt.run(["create", "-b", bundle, id]).code).toBe(0);
    try {
      // the init waits on the exec fifo: its fd numbers can be listed (the directory is root's), not followed
      const peek = rt.run(["exec", id, "sh", "-c", "for f in /proc/1/fd/* /proc/1/cwd /proc/1/root; do readlink $f || echo denied; done 2>/dev/null"]);
      const lines = peek.stdout.trim().split("\n");
      expect(lines.length).toBeGreaterThanOrEqual(5); // stdio, the fifo, cwd, root
      expect(lines.every((l) => l === "denied")).toBe(true);
      // control: the same loop over the exec'd process's own fds resolves them
      const own = rt.run(["exec", id, "sh", "-c", "for f in /proc/self/fd/0 /proc/self/cwd; do readlink $f || echo denied; done 2>/dev/null"]);
      expect(own.stdout.trim().split("\n")).toEqual(["/dev/null", "/"]);
      // started, the program has stdio only (3 is ls's own directory) and its cwd inside
      expect(rt.run(["start", id]).code).toBe(0);
      expect(waitFor(() => rt.run(["exec", id, "cat", "/dev/shm/fds"]).stdout !== "")).toBe(true);
      expect(rt.run(["exec", id, "cat", "/dev/shm/fds"]).stdout).toBe("0 1 2 3 /\n");
    } finally {
      rt.run(["delete", "--force", id]);
    }
  });
});

describe.skipIf(!isRoot)("CVE-2021-30465: a mount destination swapped with a symlink during create never mounts outside the rootfs", () => {
  /** The mounts of a mountinfo text: mount point, root within its filesystem, options, type, source. */
  const parseMountinfo = (text: string) =>
    text
      .trim()
      .split("\n")
      .filter((l) => l.includes(" - "))
      .map((l) => {
        const [pre, post] = l.split(" - ") as [string, string];
        const f = pre.split(" ");
        const g = post.split(" ");
        return { point: f[4] ?? "", root: f[3] ?? "", options: f[5] ?? "", type: g[0] ?? "", source: g[1] ?? "" };
      });
  /** Every entry below a directory, with file contents: what "untouched" is compared by. */
  const snapshot = (dir: string): string[] =>
    fs
      .readdirSync(dir, { recursive: true, encoding: "utf8" })
      .sort()
      .map((e) => {
        const p = path.join(dir, e);
        return fs.lstatSync(p).isFile() ? `${e}=${fs.readFileSync(p, "utf8")}` : `${e}/`;
      });

  test("50 runs while a host process exchanges the destinations with symlinks to a host directory: each mount lands inside the rootfs or the run fails naming it", async () => {
    // the host directory the symlinks point at (the test's own), and a volume to bind
    const host = fs.mkdtempSync(path.join(work, "host-target-"));
    fs.mkdirSync(path.join(host, "sub"));
    fs.writeFileSync(path.join(host, "host-file"), "host\n");
    fs.writeFileSync(path.join(host, "sub", "host-sub-file"), "host sub\n");
    const hostBefore = snapshot(host);
    const volume = fs.mkdtempSync(path.join(work, "volume-"));
    fs.writeFileSync(path.join(volume, "volume-marker"), "volume\n");
    // in the rootfs: /race/leaf and /race/parent are directories, each paired with a symlink to the host directory
    const race = path.join(rootfs(), "race");
    fs.mkdirSync(path.join(race, "parent", "sub"), { recursive: true });
    fs.mkdirSync(path.join(race, "leaf"));
    fs.symlinkSync(host, path.join(race, "leaf-link"));
    fs.symlinkSync(host, path.join(race, "parent-link"));
    const swapper = path.join(work, "rename_exchange");
    const cc = Bun.spawnSync(["gcc", "-O1", "-o", swapper, path.join(REPO, "test/rename_exchange.c")]);
    if (cc.exitCode !== 0) throw new Error(`gcc: ${cc.stderr.toString()}`);
    // a createRuntime hook looks into the container's mount namespace after its mounts, before
    // pivot_root (which would drop a mount made outside the rootfs): its mountinfo and what
    // the host directory holds there
    const hookDir = fs.mkdtempSync(path.join(work, "hook-"));
    const hook = `s=$(cat); pid=$(echo "$s" | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p'); id=$(echo "$s" | sed -n 's/.*"id": *"\\([^"]*\\)".*/\\1/p')
      { cat /proc/$pid/mountinfo; echo ==; ls -A /proc/$pid/root${host}; echo ==; ls -A /proc/$pid/root${host}/sub; } > ${hookDir}/$id 2>&1; true`;
    let mountIndex = 0;
    useSpec((s) => {
      mountIndex = s.mounts!.length;
      s.mounts!.push(
        { destination: "/race/leaf", type: "tmpfs", source: "isola-race", options: ["size=64k"] },
        { destination: "/race/parent/sub", type: "bind", source: volume, options: ["bind", "ro"] },
      );
      s.hooks = { createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", hook] }] };
      // the container writes a marker into each of its mounts, by each of the swapped names
      s.process!.args = ["sh", "-c", "cat /proc/self/mountinfo; for d in /race/leaf /race/leaf-link /race/parent/sub /race/parent-link/sub; do { echo x > $d/marker; } 2>/dev/null; done; true"];
    });
    const rootfsPrefix = `${fs.realpathSync(rootfs())}/`;
    const inRootfs = (p: string) => p.startsWith(rootfsPrefix);
    const atHost = (p: string) => p === host || p.startsWith(`${host}/`);
    const swapLog = path.join(work, "swapper.out");
    const swap = Bun.spawn([swapper, path.join(race, "leaf"), path.join(race, "leaf-link"), path.join(race, "parent"), path.join(race, "parent-link")], { stdout: Bun.file(swapLog), stderr: "inherit" });
    try {
      const results: { id: string; code: number; stdout: string; stderr: string }[] = [];
      try {
        expect(waitFor(() => fs.readFileSync(swapLog, "utf8") === "ready\n")).toBe(true);
        // control, in a throwaway mount namespace: mounting by path, as a runtime that doesn't pin
        // the destination does, lands on the host directory, and the checks below see it
        const naive = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", `for i in $(seq 20); do mount -t tmpfs isola-race ${race}/leaf 2>/dev/null; done; cat /proc/self/mountinfo; echo ==; ls -A ${host}`]);
        const [naiveInfo = "", naiveListing = ""] = naive.stdout.toString().split("==\n");
        expect(parseMountinfo(naiveInfo).filter((m) => m.source === "isola-race" && atHost(m.point)).length).toBeGreaterThan(0);
        expect(naiveListing).toBe(""); // the tmpfs covers the host directory's files there
        expect(hostMountsUnder(host)).toEqual([]);
        for (let i = 0; i < 50; i++) {
          const id = uniqueId("swap");
          results.push({ id, ...rt.run(["run", "-b", bundle, id]) });
          expect(hostMountsUnder(host)).toEqual([]); // never on the host's side
        }
        expect(swap.exitCode).toBeNull(); // it swapped the whole time
      } finally {
        swap.kill("SIGTERM");
        await swap.exited;
      }
      expect(swap.exitCode).toBe(0);
      expect(Number(/swaps (\d+)/.exec(fs.readFileSync(swapLog, "utf8"))?.[1])).toBeGreaterThan(0);
      let succeeded = 0;
      for (const r of results) {
        expect(fs.existsSync(`${rt.root}/${r.id}`)).toBe(false);
        if (r.code !== 0) {
          // a failure names one of the raced mounts
          expect(r.stderr).toMatch(new RegExp(`mounts\\[(${mountIndex}|${mountIndex + 1})\\]: `));
          continue;
        }
        succeeded++;
        expect(r.stderr).toBe("");
        // the container's mount namespace before pivot_root: both mounts below the rootfs, none at the host directory
        const [info = "", top = "", sub = ""] = fs.readFileSync(path.join(hookDir, r.id), "utf8").split("==\n");
        const before = parseMountinfo(info);
        expect(before.filter((m) => atHost(m.point))).toEqual([]);
        expect(before.filter((m) => m.source === "isola-race").map((m) => inRootfs(m.point))).toEqual([true]);
        expect(before.filter((m) => m.root === volume).map((m) => inRootfs(m.point))).toEqual([true]);
        expect(top.trim().split("\n")).toEqual(["host-file", "sub"]);
        expect(sub.trim()).toBe("host-sub-file");
        // the container itself sees both mounts, the bind read-only
        const inside = parseMountinfo(r.stdout);
        expect(inside.filter((m) => m.source === "isola-race")).toHaveLength(1);
        const bind = inside.filter((m) => m.root === volume);
        expect(bind).toHaveLength(1);
        expect(bind[0]!.options.split(",")).toContain("ro");
      }
      expect(succeeded).toBeGreaterThan(0);
      // nothing the containers wrote reached the host directory, and nothing was mounted there
      expect(snapshot(host)).toEqual(hostBefore);
      expect(hostMountsUnder(host)).toEqual([]);
    } finally {
      fs.rmSync(race, { recursive: true, force: true });
      // the symlinks, resolved inside the root, made <rootfs>/<host directory>
      fs.rmSync(path.join(rootfs(), work), { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot)("a read-only bind whose destination is swapped with a symlink to another mount during create", () => {
  test("stays read-only, and the other mount keeps its own flags (the bind's flags are set before it is attached)", async () => {
    const volume = fs.mkdtempSync(path.join(work, "ro-volume-"));
    fs.writeFileSync(path.join(volume, "data"), "volume\n");
    const race = path.join(rootfs(), "race2");
    fs.mkdirSync(path.join(race, "decoy"), { recursive: true });
    fs.mkdirSync(path.join(race, "ro"));
    fs.symlinkSync("/race2/decoy", path.join(race, "ro-link")); // resolved inside the root: another mount of the container
    const swapper = path.join(work, "rename_exchange");
    if (!fs.existsSync(swapper)) {
      const cc = Bun.spawnSync(["gcc", "-O1", "-o", swapper, path.join(REPO, "test/rename_exchange.c")]);
      if (cc.exitCode !== 0) throw new Error(`gcc: ${cc.stderr.toString()}`);
    }
    let index = 0;
    useSpec((s) => {
      index = s.mounts!.length;
      s.mounts!.push(
        { destination: "/race2/decoy", type: "tmpfs", source: "isola-decoy", options: ["size=64k"] },
        { destination: "/race2/ro", type: "bind", source: volume, options: ["bind", "ro"] },
      );
      s.process!.args = ["sh", "-c", "cat /proc/self/mountinfo; for d in /race2/ro /race2/ro-link; do { echo x > $d/data; } 2>/dev/null; done; true"];
    });
    const swapLog = path.join(work, "swapper2.out");
    const swap = Bun.spawn([swapper, path.join(race, "ro"), path.join(race, "ro-link")], { stdout: Bun.file(swapLog), stderr: "inherit" });
    try {
      expect(waitFor(() => fs.readFileSync(swapLog, "utf8") === "ready\n")).toBe(true);
      let succeeded = 0;
      for (let i = 0; i < 50; i++) {
        const id = uniqueId("rorace");
        const r = rt.run(["run", "-b", bundle, id]);
        expect(fs.existsSync(`${rt.root}/${id}`)).toBe(false);
        if (r.code !== 0) {
          expect(r.stderr).toMatch(new RegExp(`mounts\\[(${index}|${index + 1})\\]: `));
          continue;
        }
        succeeded++;
        const lines = r.stdout.trim().split("\n").filter((l) => l.includes(" - "));
        const opts = (l: string) => l.split(" ")[5]!.split(",");
        const bind = lines.filter((l) => l.split(" ")[3] === volume);
        expect(bind).toHaveLength(1);
        expect(opts(bind[0]!)).toContain("ro");
        const decoy = lines.filter((l) => l.split(" - ")[1]!.split(" ")[1] === "isola-decoy");
        expect(decoy).toHaveLength(1);
        expect(opts(decoy[0]!)).toContain("rw");
      }
      expect(succeeded).toBeGreaterThan(0);
      expect(fs.readFileSync(path.join(volume, "data"), "utf8")).toBe("volume\n"); // never written through the bind
    } finally {
      swap.kill("SIGTERM");
      await swap.exited;
      fs.rmSync(race, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot)("seccomp SCMP_ACT_NOTIFY: the notify fd reaches listenerPath with the container process state", () => {
  let listenerBin = "";
  beforeAll(() => {
    listenerBin = path.join(work, "seccomp_listener");
    const cc = Bun.spawnSync(["gcc", "-O1", "-o", listenerBin, path.join(REPO, "test/seccomp_listener.c")]);
    if (cc.exitCode !== 0) throw new Error(`gcc: ${cc.stderr.toString()}`);
  });

  /** Starts a listener; returns its socket, its output prefix and a stop function (kills it by pid). */
  function startListener(name: string) {
    const sock = path.join(work, `${name}.sock`);
    const out = path.join(work, name);
    const proc = Bun.spawn([listenerBin, sock, out], { stdout: "ignore", stderr: "inherit" });
    expect(waitFor(() => fs.existsSync(sock))).toBe(true);
    return { sock, out, stop: () => proc.kill(9) };
  }

  const profile = (sock: string) => ({
    defaultAction: "SCMP_ACT_ALLOW",
    listenerPath: sock,
    listenerMetadata: "isola-test-metadata",
    syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }],
  });
  const script = `mkdir /tmp/cont; echo "continue rc=$? $(ls -d /tmp/cont 2>&1)"
    mkdir /tmp/fake; echo "success rc=$? $(ls -d /tmp/fake 2>&1)"
    mkdir /tmp/denied 2>&1; echo "denied rc=$?"`;

  test("run: the listener answers mkdir (continue, fake success, an errno) and gets the state JSON", () => {
    const l = startListener("notify-run");
    try {
      useSpec((s) => {
        s.process!.args = ["sh", "-c", script];
        s.process!.noNewPrivileges = true;
        s.linux!.seccomp = profile(l.sock) as Record<string, unknown>;
      });
      for (const d of ["cont", "fake", "denied"]) fs.rmSync(path.join(rootfs(), "tmp", d), { recursive: true, force: true });
      const id = uniqueId("notify");
      const r = rt.run(["run", "-b", bundle, id]);
      expect(r.stderr).toBe("");
      const lines = r.stdout.trim().split("\n");
      expect(lines[0]).toBe("continue rc=0 /tmp/cont");
      expect(lines[1]).toMatch(/^success rc=0 ls: \/tmp\/fake: No such file or directory$/);
      expect(lines[2]).toContain("Too many links"); // EMLINK: only the listener answers that
      expect(lines[3]).toBe("denied rc=1");
      const state = JSON.parse(fs.readFileSync(`${l.out}.0.json`, "utf8"));
      expect(state.ociVersion).toBe("1.2.0");
      expect(state.fds).toEqual(["seccompFd"]);
      expect(state.metadata).toBe("isola-test-metadata");
      expect(state.pid).toBeGreaterThan(1);
      expect(state.state).toMatchObject({ id, status: "creating", pid: state.pid, bundle });
      expect(fs.readFileSync(`${l.out}.log`, "utf8").trim().split("\n")).toEqual(["/tmp/cont continue", "/tmp/fake success", "/tmp/denied EMLINK"]);
    } finally {
      l.stop();
    }
  });

  test("without no_new_privs, and for exec: each filter's fd reaches the listener with that process's pid", () => {
    const l = startListener("notify-exec");
    const id = uniqueId("notifyx");
    try {
      useSpec((s) => {
        s.process!.args = ["sleep", "100"];
        s.process!.noNewPrivileges = false;
        s.linux!.seccomp = profile(l.sock) as Record<string, unknown>;
      });
      expect(rt.run(["run", "-d", "-b", bundle, id]).stderr).toBe("");
      const init = JSON.parse(fs.readFileSync(`${l.out}.0.json`, "utf8"));
      expect(init.state).toMatchObject({ id, status: "creating" });
      const pidFile = path.join(work, "exec.pid");
      const e = rt.run(["exec", "--pid-file", pidFile, id, "sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"]);
      expect(e.stdout).toContain("Too many links");
      const exec = JSON.parse(fs.readFileSync(`${l.out}.1.json`, "utf8"));
      expect(exec.pid).toBe(Number(fs.readFileSync(pidFile, "utf8")));
      expect(exec.pid).not.toBe(init.pid);
      expect(exec.state).toMatchObject({ id, status: "running", pid: init.pid });
    } finally {
      rt.run(["delete", "--force", id]);
      l.stop();
    }
  });

  test("a listenerPath nobody listens on fails create, naming the field, and leaves nothing", () => {
    const id = uniqueId("nolistener");
    useSpec((s) => {
      s.process!.noNewPrivileges = true;
      s.linux!.seccomp = profile(path.join(work, "nobody.sock")) as Record<string, unknown>;
    });
    const r = rt.run(["create", "-b", bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("linux.seccomp.listenerPath: connect to seccomp listener socket");
    expect(fs.existsSync(`${rt.root}/${id}`)).toBe(false);
  });
});

describe.skipIf(!isRoot)("Landlock (org.isola.landlock)", () => {
  const policy = {
    rules: [
      { path: "/bin", access: ["execute", "read_file", "read_dir"] },
      { path: "/data", access: ["read_file", "read_dir"] },
    ],
  };
  const script = "cat /data/file; echo data=$?; cat /secret/file 2>&1; echo secret=$?; x=$(ls /etc 2>&1); echo etc=$?; id -u";

  function prepare(edit: (s: Spec) => void) {
    for (const d of ["data", "secret"]) {
      fs.mkdirSync(path.join(rootfs(), d), { recursive: true });
      fs.writeFileSync(path.join(rootfs(), d, "file"), `${d}-content\n`);
    }
    useSpec((s) => {
      s.process!.args = ["sh", "-c", script];
      s.process!.noNewPrivileges = true;
      edit(s);
    });
  }

  test("an allowed path is readable, another is denied even to root; without the annotation both are readable", () => {
    prepare(() => {});
    const control = rt.run(["run", "-b", bundle, uniqueId("ll")]);
    expect(control.stdout).toBe("data-content\ndata=0\nsecret-content\nsecret=0\netc=0\n0\n");
    prepare((s) => (s.annotations = { "org.isola.landlock": JSON.stringify(policy) }));
    const r = rt.run(["run", "-b", bundle, uniqueId("ll")]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("data-content\ndata=0\ncat: can't open '/secret/file': Permission denied\nsecret=1\netc=1\n0\n");
  });

  test("exec'd processes get the same ruleset", () => {
    prepare((s) => {
      s.process!.args = ["sleep", "100"];
      s.annotations = { "org.isola.landlock": JSON.stringify(policy) };
    });
    const id = uniqueId("llx");
    expect(rt.run(["run", "-d", "-b", bundle, id]).stderr).toBe("");
    try {
      const e = rt.run(["exec", "--no-new-privs", id, "sh", "-c", script]);
      expect(e.stdout).toContain("data=0");
      expect(e.stdout).toContain("secret=1");
    } finally {
      rt.run(["delete", "--force", id]);
    }
  });

  test("a bad policy is refused before anything is created, naming the field", () => {
    const cases: [unknown, string][] = [
      [{ rules: [{ path: "data", access: ["read_file"] }] }, `annotations["org.isola.landlock"].rules[0].path: expected an absolute path`],
      [{ rules: [{ path: "/data", access: ["read"] }] }, `annotations["org.isola.landlock"].rules[0].access[0]: "read" is not a Landlock access right`],
      [{ rules: [], handled: ["read_file"], extra: 1 }, `annotations["org.isola.landlock"].extra: unknown field`],
      [{ rules: [{ path: "/data", access: ["read_dir"] }], handled: ["read_file"] }, `rules[0].access: read_dir not in "handled"`],
    ];
    for (const [p, message] of cases) {
      prepare((s) => (s.annotations = { "org.isola.landlock": JSON.stringify(p) }));
      const id = uniqueId("llbad");
      const r = rt.run(["create", "-b", bundle, id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expect(fs.existsSync(`${rt.root}/${id}`)).toBe(false);
    }
    prepare((s) => {
      s.process!.noNewPrivileges = false;
      s.annotations = { "org.isola.landlock": JSON.stringify(policy) };
    });
    const r = rt.run(["create", "-b", bundle, uniqueId("llnnp")]);
    expect(r.stderr).toContain("needs process.noNewPrivileges: true");
  });

  test("a rule for a path missing in the container fails create, naming the rule", () => {
    prepare((s) => (s.annotations = { "org.isola.landlock": JSON.stringify({ rules: [{ path: "/nowhere", access: ["read_file"] }] }) }));
    const id = uniqueId("llmiss");
    const r = rt.run(["create", "-b", bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`annotations["org.isola.landlock"].rules[0]: Landlock rule: open /nowhere`);
    expect(fs.existsSync(`${rt.root}/${id}`)).toBe(false);
  });
});

describe.skipIf(!isRoot)("AppArmor and SELinux fields", () => {
  const lsm = fs.existsSync("/sys/kernel/security/lsm") ? fs.readFileSync("/sys/kernel/security/lsm", "utf8") : "";

  test.skipIf(/apparmor|selinux/.test(lsm))("a requested profile or label is refused naming the field; empty values run", () => {
    const cases: [(s: Spec) => void, string][] = [
      [(s) => (s.process!.apparmorProfile = "isola-test"), `process.apparmorProfile: "isola-test" requested, but AppArmor is not enabled in this kernel`],
      [(s) => (s.process!.selinuxLabel = "system_u:system_r:container_t:s0"), "process.selinuxLabel: "],
      [(s) => (s.linux!.mountLabel = "system_u:object_r:container_file_t:s0"), "linux.mountLabel: "],
    ];
    for (const [edit, message] of cases) {
      useSpec(edit);
      const id = uniqueId("lsm");
      const r = rt.run(["create", "-b", bundle, id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain("not enabled in this kernel");
      expect(fs.existsSync(`${rt.root}/${id}`)).toBe(false);
    }
    // control: empty values mean unset
    useSpec((s) => {
      s.process!.args = ["true"];
      s.process!.apparmorProfile = "";
      s.process!.selinuxLabel = "";
      s.linux!.mountLabel = "";
    });
    expect(rt.run(["run", "-b", bundle, uniqueId("lsm")]).code).toBe(0);
  });

  test("exec with a process file asking for an AppArmor profile is refused", () => {
    useSpec((s) => (s.process!.args = ["sleep", "100"]));
    const id = uniqueId("lsmx");
    expect(rt.run(["run", "-d", "-b", bundle, id]).code).toBe(0);
    try {
      const file = path.join(work, "process.json");
      fs.writeFileSync(file, JSON.stringify({ args: ["true"], cwd: "/", user: { uid: 0, gid: 0 }, apparmorProfile: "isola-test" }));
      const r = rt.run(["exec", "-p", file, id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("process.apparmorProfile");
      // runc's flags for the same fields are checked the same way (the kernel's LSMs asked)
      const flag = rt.run(["exec", "--apparmor", "isola-test", id, "true"]);
      expect(flag.code).toBe(1);
      expect(flag.stderr).toContain(`process.apparmorProfile: "isola-test" requested, but`);
      const label = rt.run(["exec", "--process-label", "system_u:system_r:container_t:s0", id, "true"]);
      expect(label.code).toBe(1);
      expect(label.stderr).toContain(`process.selinuxLabel: "system_u:system_r:container_t:s0" requested, but`);
      expect(rt.run(["exec", "--apparmor", "", id, "true"]).code).toBe(0); // empty: unset, as runc
    } finally {
      rt.run(["delete", "--force", id]);
    }
  });
});
