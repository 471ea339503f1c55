/** The container lifecycle: create, start, run, kill, delete, state, list. */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, parseSpec, validateId } from "../oci/validate.ts";
import type { Spec, Status } from "../oci/types.ts";
import { bindSource, compilePlan, type HostFacts, type LaunchPlan } from "../plan/compile.ts";
import { cgroupsFor, cgroupsFromRecord as openCgroups, resourceProblems, type ContainerCgroups } from "./cgroups.ts";
import { runHooks } from "./hooks.ts";
import { compileContainerSeccomp, listenerState, seccompPlan } from "./seccomp.ts";
import { landlockOfSpec } from "../oci/landlock.ts";
import { lsmProblems } from "./lsm.ts";
import { SECCOMP_LISTENER_SYNC } from "../plan/compile.ts";
import { callerFacts, checkRootless } from "./rootless.ts";
import { launch, startLauncher, type StartedLauncher } from "./launch.ts";
import { signalNumber } from "./signals.ts";
import {
  ContainerError,
  OCI_VERSION,
  containerDir,
  createContainerDir,
  execFifoPath,
  initAlive,
  liveStatus,
  lockContainer,
  ociState,
  procStat,
  readRecord,
  writeRecord,
  type ContainerRecord,
} from "./state.ts";

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
}

export function loadSpec(bundle: string): Spec {
  const file = path.join(bundle, "config.json");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError([`${file}: not found (expected the bundle's config.json; create one with "isola-runtime spec")`]);
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`${file}: not valid JSON (${(e as Error).message})`]);
  }
  return parseSpec(raw);
}

/** Host facts the plan compiler needs; cheap reads only. */
export function hostFacts(spec: Spec, bundle: string): HostFacts {
  const sourceKinds: HostFacts["sourceKinds"] = {};
  for (const m of spec.mounts ?? []) {
    const src = bindSource(m, bundle);
    if (src === undefined) continue;
    try {
      sourceKinds[src] = fs.statSync(src).isDirectory() ? "dir" : "file";
    } catch {
      sourceKinds[src] = "missing";
    }
  }
  const lines = fs.readFileSync("/proc/self/cgroup", "utf8").trim().split("\n");
  const v1 = lines.map((l) => l.split(":")[1] ?? "").filter((c) => c !== "");
  const hasUnified = lines.some((l) => l.startsWith("0::"));
  const cgroupLayout = v1.length === 0 ? "v2" : hasUnified && fs.existsSync("/sys/fs/cgroup/unified") ? "hybrid" : "v1";
  const caller = callerFacts();
  return { sourceKinds, cgroupLayout, cgroupV1Hierarchies: v1, ...(caller ? { caller } : {}) };
}

function resolveRootfs(spec: Spec, bundle: string): string {
  const p = spec.root?.path ?? "";
  const rootfs = path.resolve(bundle, p);
  let st: fs.Stats;
  try {
    st = fs.statSync(rootfs);
  } catch {
    throw new ConfigError([`root.path: ${rootfs} does not exist (expected the container's root filesystem directory)`]);
  }
  if (!st.isDirectory()) throw new ConfigError([`root.path: ${rootfs} is not a directory`]);
  return fs.realpathSync(rootfs);
}

function writePidFile(file: string, pid: number) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, file);
}

interface Created {
  rec: ContainerRecord;
  spec: Spec;
  /** foreground runs: the init's exit code */
  exit: Promise<number>;
}

async function createContainer(opts: CreateOptions, foreground: boolean): Promise<Created> {
  const idProblem = validateId(opts.id);
  if (idProblem) throw new ContainerError(idProblem);
  // The launcher's exec overlaps our own set-up; it waits for its plan, and exits at once
  // if it never gets one.
  const started = startLauncher({ foreground, preserveFds: opts.preserveFds ?? 0 });
  try {
    return await createWith(opts, foreground, started);
  } catch (e) {
    started.cancel();
    throw e;
  }
}

async function createWith(opts: CreateOptions, foreground: boolean, started: StartedLauncher): Promise<Created> {
  const bundle = path.resolve(opts.bundle);
  const spec = loadSpec(bundle);
  const rootfs = resolveRootfs(spec, bundle);
  if (spec.process?.terminal && !opts.consoleSocket && !foreground)
    throw new ConfigError(["process.terminal: cannot allocate a terminal for a detached container without --console-socket"]);
  if (!spec.process?.terminal && opts.consoleSocket)
    throw new ConfigError(["--console-socket: given, but process.terminal is false (no terminal to send)"]);
  const resourceErrors = resourceProblems(spec);
  if (resourceErrors.length) throw new ConfigError(resourceErrors);
  const seccomp = await compileContainerSeccomp(spec.linux?.seccomp, warn);
  const securityErrors: string[] = lsmProblems(spec.process, spec.linux);
  const landlock = landlockOfSpec(spec, securityErrors);
  if (securityErrors.length) throw new ConfigError(securityErrors);
  const facts = hostFacts(spec, bundle);
  checkRootless(spec, facts.caller);
  if (fs.existsSync(containerDir(opts.root, opts.id))) throw new ContainerError(`container with id ${opts.id} already exists`);

  // Nothing on the host changes before this line; from here every failure undoes what was made.
  createContainerDir(opts.root, opts.id);
  const rec: ContainerRecord = {
    ociVersion: OCI_VERSION,
    id: opts.id,
    pid: 0,
    status: "creating",
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: "",
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
    ownPidNamespace: (spec.linux?.namespaces ?? []).some((n) => n.type === "pid" && !n.path),
    spec,
  };
  let cgroups: ContainerCgroups | undefined;
  try {
    writeRecord(opts.root, rec);
    cgroups = cgroupsFor(spec, opts.id, warn);
    if (cgroups) {
      // recorded at once: a runtime killed from here on leaves cgroups that delete --force must find
      rec.cgroup = cgroups.record;
      writeRecord(opts.root, rec);
    }
    const plan = compilePlan(spec, {
      id: opts.id,
      bundle,
      rootfs,
      execFifo: execFifoPath(opts.root, opts.id),
      noPivot: opts.noPivot ?? false,
      noNewKeyring: opts.noNewKeyring ?? false,
      preserveFds: opts.preserveFds ?? 0,
      ...(cgroups ? { cgroupDirs: cgroups.record.paths } : {}),
      host: facts,
      ...(seccomp ? { seccomp: seccompPlan(seccomp)! } : {}),
      ...(landlock ? { landlock } : {}),
      ...(spec.process?.terminal ? { console: opts.consoleSocket ? { socket: opts.consoleSocket } : { relay: true as const } } : {}),
    });
    addFifoCreation(plan, execFifoPath(opts.root, opts.id));
    const launched = await launch({
      started,
      plan,
      foreground,
      preserveFds: opts.preserveFds ?? 0,
      handlers: {
        onPid(pid) {
          rec.pid = pid;
          const st = procStat(pid);
          if (st) rec.pidStartTime = st.startTime;
          writeRecord(opts.root, rec);
        },
        async onSync(name) {
          const state = ociState(rec, "creating");
          if (name === SECCOMP_LISTENER_SYNC) return listenerState(seccomp, rec.pid, state);
          await runHooks("prestart", spec.hooks?.prestart, state);
          await runHooks("createRuntime", spec.hooks?.createRuntime, state);
          return JSON.stringify(state);
        },
        async onReady() {
          rec.status = "created";
          writeRecord(opts.root, rec);
          if (opts.pidFile) writePidFile(opts.pidFile, rec.pid);
        },
      },
    });
    return { rec, spec, exit: launched.exit };
  } catch (e) {
    if (rec.pid) killAndWait(rec.pid);
    cgroups?.destroy();
    fs.rmSync(containerDir(opts.root, opts.id), { recursive: true, force: true });
    if (opts.pidFile) fs.rmSync(opts.pidFile, { force: true });
    throw e;
  }
}

function addFifoCreation(plan: LaunchPlan, fifo: string) {
  const pre = plan.sections.PRE;
  const at = pre.findIndex((s) => s.step === "OPEN_EXEC_FIFO");
  pre.splice(at, 0, { step: "MKFIFO", args: [fifo, 0o622], origin: "exec fifo" });
}

export async function create(opts: CreateOptions): Promise<void> {
  await createContainer(opts, false);
}

/** Lets a created container's process exec its program (opens the exec fifo). */
/**
 * Lets a created container's process exec its program: opens the exec fifo, on which the
 * init waits (blocked opening it for writing), and reads the byte it then writes. The open
 * and read block in the I/O thread pool rather than spinning here, so the init gets the CPU.
 */
async function releaseInit(root: string, rec: ContainerRecord): Promise<void> {
  const fifo = execFifoPath(root, rec.id);
  if (!fs.existsSync(fifo)) throw new ContainerError(`cannot start container ${rec.id}: it was already started`);
  let settled = false;
  const released = (async () => {
    const fh = await fs.promises.open(fifo, "r");
    try {
      return (await fh.read(Buffer.alloc(1), 0, 1, null)).bytesRead === 1;
    } finally {
      await fh.close();
    }
  })();
  const initGone = (async () => {
    while (!settled) {
      await Bun.sleep(5);
      if (!settled && !initAlive(rec)) return false;
    }
    return true;
  })();
  let ok = await Promise.race([released, initGone]);
  // A program that exec'd and exited at once may be gone before our read returned: give it a moment.
  if (!ok) ok = await Promise.race([released, Bun.sleep(100).then(() => false)]);
  settled = true;
  if (!ok) throw new ContainerError(`cannot start container ${rec.id}: its init process exited`);
  fs.rmSync(fifo, { force: true });
}

/**
 * The foreground `run` without poststart hooks: opening the exec fifo for reading without
 * blocking is all the init waits for (its open for writing returns, it writes its byte and
 * execs). The read end stays open until the container has exited, as closing it first would
 * fail the init's write; the byte need not be awaited, the exit is. No I/O thread, no wait.
 */
function releaseInitNow(root: string, rec: ContainerRecord): number {
  const fifo = execFifoPath(root, rec.id);
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  fs.rmSync(fifo, { force: true }); // the init holds it by an O_PATH fd; gone means "running"
  return fd;
}

async function startCreated(root: string, rec: ContainerRecord): Promise<void> {
  await releaseInit(root, rec);
  try {
    await runHooks("poststart", rec.spec?.hooks?.poststart, ociState(rec, "running"));
  } catch (e) {
    // the spec: a failing poststart hook is logged; the container keeps running
    warn((e as Error).message);
  }
}

export async function start(root: string, id: string): Promise<void> {
  const release = lockContainer(root, id);
  try {
    const rec = readRecord(root, id);
    const status = liveStatus(root, rec, frozenProbe(rec)); // a paused init can't open the fifo: refuse, as runc
    if (status !== "created") throw new ContainerError(`cannot start a container that is ${status} (only a created container can be started)`);
    await startCreated(root, rec);
  } finally {
    release();
  }
}

const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT", "SIGALRM"] as const;

/** create + start; in the foreground waits and returns the container's exit code, then deletes it. */
export async function run(opts: CreateOptions & { detach?: boolean; keep?: boolean }): Promise<number> {
  const created = await createContainer(opts, !opts.detach);
  const { rec } = created;
  if (opts.detach) {
    await startCreated(opts.root, rec);
    return 0;
  }
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(rec.pid, sig);
    } catch {
      // already exited
    }
  };
  for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
  let fifoFd = -1;
  try {
    if (created.spec.hooks?.poststart?.length) await startCreated(opts.root, rec);
    else fifoFd = releaseInitNow(opts.root, rec);
    return await created.exit;
  } finally {
    if (fifoFd >= 0) fs.closeSync(fifoFd);
    for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
    if (!opts.keep) await destroy(opts.root, rec);
  }
}

export function state(root: string, id: string): ListEntry {
  const rec = readRecord(root, id);
  const status = liveStatus(root, rec, frozenProbe(rec));
  const s = ociState(rec, status);
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: status === "stopped" ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    ...(s.annotations ? { annotations: s.annotations } : {}),
  };
}

function frozenProbe(rec: ContainerRecord): (() => boolean) | undefined {
  if (!rec.cgroup) return undefined;
  return () => cgroupsFromRecord(rec)?.isFrozen() ?? false;
}

export function kill(root: string, id: string, signal: string | undefined, all: boolean): void {
  const sig = signalNumber(signal ?? "SIGTERM");
  const rec = readRecord(root, id);
  const status = liveStatus(root, rec);
  if (status === "stopped" || (status === "creating" && !rec.pid)) throw new ContainerError("container not running"); // runc's words: clients match on them
  if (all) {
    // freeze, signal, thaw (cgroup.kill for SIGKILL on cgroup2): nothing forks away meanwhile
    const cg = cgroupsFromRecord(rec);
    if (cg && cg.pids().length) return cg.killAll(sig);
    for (const pid of containerPids(rec)) {
      try {
        process.kill(pid, sig);
      } catch {
        // raced with its exit
      }
    }
    return;
  }
  process.kill(rec.pid, sig);
}

/** Every process of the container: from its cgroup, else those sharing its pid namespace. */
export function containerPids(rec: ContainerRecord): number[] {
  const fromCgroup = cgroupsFromRecord(rec)?.pids();
  if (fromCgroup && fromCgroup.length) return fromCgroup;
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${rec.pid}/ns/pid`);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    const pid = Number(name);
    if (!pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${pid}/ns/pid`) === ns) pids.push(pid);
    } catch {
      // gone
    }
  }
  return pids;
}

function killAndWait(pid: number, timeoutMs = 5000) {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = procStat(pid);
    if (!st || st.state === "Z" || st.state === "X") return;
    Bun.sleepSync(1);
  }
}

/** Removes a stopped (or just killed) container: poststop hooks, cgroups, state. */
async function destroy(root: string, rec: ContainerRecord): Promise<void> {
  const cg = cgroupsFromRecord(rec);
  if (cg) {
    for (const pid of cg.pids()) killAndWait(pid);
  }
  try {
    await runHooks("poststop", rec.spec?.hooks?.poststop, ociState(rec, "stopped"));
  } catch (e) {
    warn((e as Error).message);
  }
  cg?.destroy();
  fs.rmSync(containerDir(root, rec.id), { recursive: true, force: true });
}

export async function remove(root: string, id: string, force: boolean): Promise<void> {
  let release: () => void;
  try {
    release = lockContainer(root, id);
  } catch (e) {
    if (force && e instanceof ContainerError && /does not exist/.test(e.message)) return;
    throw e;
  }
  try {
    const rec = readRecord(root, id);
    const status: Status = liveStatus(root, rec, frozenProbe(rec));
    if (status === "running" || status === "paused") {
      if (!force) throw new ContainerError(`cannot delete container ${id} that is not stopped: ${status} (use --force)`);
    }
    if (status !== "stopped") {
      // frozen processes die only once thawed: SIGKILL them all, then thaw
      if (status === "paused") {
        const cg = cgroupsFromRecord(rec);
        cg?.killAll(9);
        cg?.thaw();
      }
      if (rec.ownPidNamespace || !rec.pid) {
        if (rec.pid) killAndWait(rec.pid);
      } else {
        for (const pid of containerPids(rec)) killAndWait(pid);
      }
    }
    await destroy(root, rec);
  } finally {
    release();
  }
}

export interface ListEntry {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function list(root: string, ids: string[]): ListEntry[] {
  const out: ListEntry[] = [];
  for (const id of ids) {
    try {
      out.push(state(root, id));
    } catch (e) {
      if (!(e instanceof ContainerError)) throw e;
    }
  }
  return out;
}

export let warn: (msg: string) => void = (msg) => void fs.writeSync(2, `isola-runtime: warning: ${msg}\n`);
export function setWarn(fn: (msg: string) => void) {
  warn = fn;
}

function cgroupsFromRecord(rec: ContainerRecord) {
  return rec.cgroup ? openCgroups(rec.cgroup) : undefined;
}
