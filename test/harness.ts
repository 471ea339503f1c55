/** Helpers for integration tests that drive isola-runtime as a user would. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Spec } from "../src/oci/types.ts";
import { writeSpec } from "./bundle.ts";

export const REPO = path.resolve(import.meta.dir, "..");
export const isRoot = (process.getuid?.() ?? 1) === 0;

/** The runtime command: the compiled binary when built, else the TypeScript entry. */
export function runtimeArgv(): string[] {
  const bin = path.join(REPO, "bin/isola-runtime");
  const src = path.join(REPO, "src/cli/runtime.ts");
  if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= newestSource()) return [bin];
  return [path.join(REPO, "node_modules/.bin/bun"), src];
}

/**
 * The runtime command for another user: the repository may sit below a directory that user
 * cannot search (CI clones into `mktemp -d`, mode 0700), so the compiled runtime and its
 * launcher are copied into `dir` (which the caller makes reachable) and run from there.
 * Without a compiled runtime the sources are run where they are; with `compiled`, the
 * binaries are copied even when a source changed after they were built (for a client that
 * takes one executable, such as `podman --runtime`, after the client tests' build).
 */
export function runtimeArgvFor(dir: string, opts: { compiled?: boolean } = {}): string[] {
  const argv = opts.compiled && fs.existsSync(path.join(REPO, "bin/isola-runtime")) ? [path.join(REPO, "bin/isola-runtime")] : runtimeArgv();
  if (argv.length !== 1) return argv; // not compiled: the sources must be reachable as they are
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true, mode: 0o755 });
  for (const name of ["isola-runtime", "isola-launcher"]) {
    fs.copyFileSync(path.join(REPO, "bin", name), path.join(bin, name));
    fs.chmodSync(path.join(bin, name), 0o755);
  }
  fs.chmodSync(bin, 0o755);
  return [path.join(bin, "isola-runtime")];
}

let newest: number | undefined;
function newestSource(): number {
  if (newest !== undefined) return newest;
  let max = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) max = Math.max(max, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(REPO, "src"));
  newest = max;
  return max;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CaptureOptions {
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Runs argv to completion with its output captured through files named `<prefix>.out/.err`:
 * a detached process that keeps our stdout would make a pipe block forever.
 */
export function runCaptured(argv: string[], prefix: string, opts: CaptureOptions = {}): Result {
  const out = `${prefix}.out`;
  const err = `${prefix}.err`;
  try {
    const r = Bun.spawnSync(argv, {
      stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
      stdout: Bun.file(out),
      stderr: Bun.file(err),
      env: { ...process.env, ...(opts.env ?? {}) },
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs, killSignal: "SIGKILL" as const } : {}),
    });
    return { code: r.exitCode ?? -1, stdout: fs.readFileSync(out, "utf8"), stderr: fs.readFileSync(err, "utf8") };
  } finally {
    fs.rmSync(out, { force: true });
    fs.rmSync(err, { force: true });
  }
}

export class Runtime {
  readonly root: string;
  constructor() {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "isola-test-root-"));
  }
  argv(args: string[]): string[] {
    return [...runtimeArgv(), "--root", this.root, ...args];
  }
  /** Runs the runtime (see runCaptured). */
  run(args: string[], opts: CaptureOptions = {}): Result {
    return runCaptured(this.argv(args), this.root, opts);
  }
  /** Removes every container left and the root dir. */
  cleanup() {
    for (const id of fs.existsSync(this.root) ? fs.readdirSync(this.root) : []) this.run(["delete", "--force", id]);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * The cgroup directories a container with a default (relative) cgroupsPath would have, that
 * exist: one per hierarchy of the caller, under its own cgroup (leftover detection).
 */
export function containerCgroupDirs(id: string): string[] {
  const out: string[] = [];
  const v2 = fs.existsSync("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
  for (const line of fs.readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")) {
    const [, controllers, rel] = line.split(":") as [string, string, string];
    const mount = controllers === "" ? v2 : `/sys/fs/cgroup/${controllers.replace(/^name=/, "")}`;
    const dir = `${mount}${rel === "/" ? "" : rel}/isola-runtime/${id}`;
    if (fs.existsSync(dir)) out.push(dir);
  }
  return out;
}

/**
 * Runs a detached container from `spec` (written to the bundle's config.json), gives `fn` its
 * id and its init's host pid, and force-deletes it afterwards, also when fn throws.
 */
export function withDetached<T>(rt: Runtime, bundle: string, spec: Spec, fn: (id: string, pid: number) => T, prefix = "holder"): T {
  const id = uniqueId(prefix);
  writeSpec(bundle, spec);
  const r = rt.run(["run", "-d", "-b", bundle, id]);
  if (r.code !== 0) throw new Error(`run -d ${id}: ${r.stderr}`);
  try {
    return fn(id, JSON.parse(rt.run(["state", id]).stdout).pid as number);
  } finally {
    rt.run(["delete", "--force", id]);
  }
}

/** Lines of the host's mountinfo that mention a path (leftover detection). */
export function hostMountsUnder(p: string): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l.includes(p));
}

let counter = 0;
export const uniqueId = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

export function waitFor(cond: () => boolean, ms = 5000): boolean {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    Bun.sleepSync(5);
  }
  return cond();
}
