/**
 * A private place for real clients (podman, containerd) to run: a mount and network namespace
 * held by one `sleep` process, with a tmpfs over /run and temp dirs over /var/lib/containers,
 * /var/lib/cni and /var/tmp, a temp dir for every file the clients write, and a cgroup parent named
 * `isola-test-…` for the cgroups they create. `cleanup()` removes all of it even after a
 * failure: processes in the cgroups and in the namespace (by PID), the cgroups, the temp dir.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { REPO, runCaptured, type CaptureOptions, type Result } from "../harness.ts";

export const RUNTIME = path.join(REPO, "bin/isola-runtime");

export type { Result } from "../harness.ts";

export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Builds bin/isola-runtime (and the rest) when a source is newer than the binary. */
export function buildRuntime(): void {
  const r = Bun.spawnSync(["bash", path.join(REPO, "scripts/build.sh")], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`scripts/build.sh failed: ${r.stderr.toString()}`);
  if (!fs.existsSync(path.join(REPO, "bin/isola-launcher"))) throw new Error("bin/isola-launcher is missing (npm run setup builds it)");
}

export class Sandbox {
  readonly dir: string;
  /** the cgroup parent's name, e.g. isola-test-podman-1234-ab12cd */
  readonly cgroupParent: string;
  private holder: ReturnType<typeof Bun.spawn> | undefined;
  /** host directories made to mount over (removed again when empty) */
  private madeHostDirs: string[] = [];
  private outCount = 0;

  constructor(prefix: string) {
    const tag = `${prefix}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `isola-${prefix}-`));
    fs.chmodSync(this.dir, 0o755);
    this.cgroupParent = `isola-test-${tag}`;
  }

  get pid(): number {
    if (!this.holder) throw new Error("sandbox not started");
    return this.holder.pid;
  }

  /** Creates the namespaces and the private mounts in them. */
  start(): void {
    for (const d of ["varlib", "vartmp", "varlibcni"]) fs.mkdirSync(path.join(this.dir, d), { recursive: true });
    fs.chmodSync(path.join(this.dir, "vartmp"), 0o1777);
    // podman's storage and image cache, and libcni's result cache (podman's CNI backend), are
    // written below /var/lib whatever the clients are told: covered by the sandbox's own dirs
    for (const d of ["/var/lib/containers", "/var/lib/cni"]) {
      if (!fs.existsSync(d)) {
        fs.mkdirSync(d);
        this.madeHostDirs.push(d);
      }
    }
    // unshare makes the new mount namespace's mounts private (util-linux default)
    this.holder = Bun.spawn(["unshare", "--mount", "--net", "--propagation", "private", "sleep", "infinity"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const self = fs.readlinkSync("/proc/self/ns/mnt");
    const entered = () => {
      try {
        return fs.readlinkSync(`/proc/${this.pid}/ns/mnt`) !== self && fs.readFileSync(`/proc/${this.pid}/cmdline`, "utf8").startsWith("sleep");
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    while (!entered()) {
      if (Date.now() > deadline) throw new Error("unshare did not start");
      Bun.sleepSync(5);
    }
    const setup = [
      "set -e",
      "mount -t tmpfs -o mode=755 tmpfs /run",
      `mount --bind ${this.dir}/varlib /var/lib/containers`,
      `mount --bind ${this.dir}/varlibcni /var/lib/cni`,
      "mount -t tmpfs -o mode=755 tmpfs /var/cache", // the runtime's seccomp cache, whatever env the clients pass on
      `mount --bind ${this.dir}/vartmp /var/tmp`,
      "ip link set lo up", // the sandbox's own network namespace: published ports answer on 127.0.0.1
    ].join("\n");
    const r = this.run(["sh", "-c", setup]);
    if (r.code !== 0) throw new Error(`sandbox mounts: ${r.stderr}`);
  }

  /** argv run inside the namespaces (nsenter execs it: no extra process). */
  argv(args: string[]): string[] {
    return ["nsenter", "-t", String(this.pid), "-m", "-n", "--", ...args];
  }

  /** Runs a command inside, its output captured through files (see runCaptured). */
  run(args: string[], opts: CaptureOptions = {}): Result {
    return runCaptured(this.argv(args), path.join(this.dir, `cmd.${++this.outCount}`), { timeoutMs: 120_000, ...opts });
  }

  /** Starts a long-running process (a daemon) inside; its pid is the daemon's. */
  spawn(args: string[], logFile: string, env: Record<string, string> = {}): ReturnType<typeof Bun.spawn> {
    return Bun.spawn(this.argv(args), { stdin: "ignore", stdout: Bun.file(logFile), stderr: Bun.file(logFile), env: { ...process.env, ...env } });
  }

  /** Directories of the cgroup parent, one per hierarchy (v1 controllers, named, unified). */
  cgroupDirs(): string[] {
    const mounts = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" - "))
      .filter(([, fsPart]) => fsPart !== undefined && /^cgroup2? /.test(fsPart))
      .map(([head]) => (head ?? "").split(" ")[4] ?? "")
      .filter((p) => p.startsWith("/sys/fs/cgroup"));
    return [...new Set(mounts)].map((m) => path.join(m, this.cgroupParent)).filter((d) => fs.existsSync(d));
  }

  /** Processes in the namespace's mount namespace or in the cgroup parent (all of them ours). */
  private ourPids(): number[] {
    const pids = new Set<number>();
    let mnt: string | undefined;
    try {
      mnt = fs.readlinkSync(`/proc/${this.pid}/ns/mnt`);
    } catch {
      mnt = undefined;
    }
    if (mnt) {
      for (const e of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
          if (fs.readlinkSync(`/proc/${e}/ns/mnt`) === mnt) pids.add(Number(e));
        } catch {
          // gone
        }
      }
    }
    const walk = (dir: string) => {
      for (const line of readOr(path.join(dir, "cgroup.procs")).split("\n")) if (line) pids.add(Number(line));
      for (const e of listDirs(dir)) walk(path.join(dir, e));
    };
    for (const d of this.cgroupDirs()) walk(d);
    pids.delete(process.pid);
    return [...pids];
  }

  /** Removes everything: processes (by PID), cgroups, mounts (with the namespace), temp dirs. */
  cleanup(): string[] {
    const problems: string[] = [];
    for (let round = 0; round < 50; round++) {
      const pids = this.ourPids();
      if (pids.length === 0) break;
      for (const p of pids) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
      Bun.sleepSync(20);
    }
    if (this.holder) {
      try {
        this.holder.kill("SIGKILL");
      } catch {
        // gone
      }
    }
    const rmTree = (dir: string) => {
      for (const e of listDirs(dir)) rmTree(path.join(dir, e));
      for (let i = 0; i < 100; i++) {
        try {
          fs.rmdirSync(dir);
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
          Bun.sleepSync(10); // the kernel releases a cgroup shortly after its last process
        }
      }
      problems.push(`cgroup ${dir} not removed`);
    };
    for (const d of this.cgroupDirs()) rmTree(d);
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch (e) {
      problems.push(`${this.dir}: ${String(e)}`);
    }
    for (const d of this.madeHostDirs) {
      try {
        fs.rmdirSync(d);
      } catch {
        // something else uses it now
      }
    }
    return problems;
  }
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function listDirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Leftovers on the host a client test must not leave: cgroups named isola-test-… of this sandbox. */
export function leftoverCgroups(name: string): string[] {
  const r = Bun.spawnSync(["find", "/sys/fs/cgroup", "-maxdepth", "2", "-name", name], { stdout: "pipe", stderr: "ignore" });
  return r.stdout.toString().split("\n").filter((l) => l);
}
