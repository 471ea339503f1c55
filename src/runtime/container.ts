/** The container lifecycle: create, start, run, kill, delete, state, list. */
import * as fs from "node:fs";
import type { Status } from "../oci/types.ts";
import { recordIsFrozen } from "../cgroups/frozen.ts";
import type { CgroupRecord } from "../cgroups/mod.ts";
import type { CreateOptions } from "./create.ts";
import { runHooks } from "./hooks.ts";
import { signalNumber } from "./signals.ts";
import {
  ContainerError,
  containerDir,
  execFifoPath,
  initAlive,
  killAndWait,
  liveStatus,
  lockContainer,
  ociState,
  readRecord,
  type ContainerRecord,
} from "./state.ts";
import { warn } from "./warn.ts";

export type { CreateOptions } from "./create.ts";

// Creating loads the plan compiler, validation, seccomp and the launcher protocol; the other
// verbs (state, kill, delete, start, list) don't, which keeps them about 2 ms quicker.
const creating = () => import("./create.ts");

export async function create(opts: CreateOptions): Promise<void> {
  await (await creating()).createContainer(opts, false);
}

/**
 * Lets a created container's process exec its program. The init waits opening the exec fifo
 * for writing; opening it here for reading, without blocking, lets that open return, and the
 * init writes one byte and execs. We wait for the byte (the release happened, as runc's start
 * does) with a read that can't block, retried after yielding the CPU (the init needs it on a
 * small machine: never spin), and give up once the init is gone without writing it.
 */
async function releaseInit(root: string, rec: ContainerRecord): Promise<void> {
  const fd = openExecFifo(root, rec);
  try {
    const byte = Buffer.alloc(1);
    let goneAt: number | undefined;
    for (;;) {
      let n = 0;
      try {
        n = fs.readSync(fd, byte, 0, 1, null); // 0: the init has not opened its end yet
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e; // opened, not written yet
      }
      if (n === 1) {
        if (byte[0] === 0x30) break; // "0": released
        throw new ContainerError(`cannot start container ${rec.id}: ${readFailure(fd, rec)}`);
      }
      if (!initAlive(rec)) {
        goneAt ??= Date.now();
        if (Date.now() - goneAt > 100) throw new ContainerError(`cannot start container ${rec.id}: its init process exited`);
      }
      await Bun.sleep(0.5); // a timer: in practice about 1 ms
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.rmSync(execFifoPath(root, rec.id), { force: true });
}

/**
 * What the init wrote instead of "0": its failure after the release (a startContainer hook's,
 * say), up to the end of the fifo. The init has then exited, and with it the container.
 */
function readFailure(fd: number, rec: ContainerRecord): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (let tries = 0; tries < 2000; tries++) {
    let n = -1;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
    if (n === 0) break; // the init closed its end: all of it is here
    if (n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
    else if (!initAlive(rec)) break;
    else Bun.sleepSync(1);
  }
  // "<section> <step index> <message>": the step names the config field (see releasedSteps)
  const m = /^(\d+) (-?\d+) ([\s\S]*)$/.exec(Buffer.concat(chunks).toString().trim());
  if (!m) return "its init process failed";
  const field = rec.releasedSteps?.[Number(m[2])];
  return `${field ? `${field}: ` : ""}${m[3]}`;
}

/** Opens the exec fifo for reading without blocking: all the init's open for writing waits for. */
function openExecFifo(root: string, rec: ContainerRecord): number {
  try {
    return fs.openSync(execFifoPath(root, rec.id), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ContainerError(`cannot start container ${rec.id}: it was already started`);
    throw e;
  }
}

/**
 * The foreground `run` without poststart hooks: opening the exec fifo for reading without
 * blocking is all the init waits for (its open for writing returns, it writes its byte and
 * execs). The read end stays open until the container has exited, as closing it first would
 * fail the init's write; the byte need not be awaited, the exit is. No I/O thread, no wait.
 */
function releaseInitNow(root: string, rec: ContainerRecord): number {
  const fd = openExecFifo(root, rec);
  fs.rmSync(execFifoPath(root, rec.id), { force: true }); // the init holds it by an O_PATH fd; gone means "running"
  return fd;
}

async function startCreated(root: string, rec: ContainerRecord): Promise<void> {
  await releaseInit(root, rec);
  // the spec: a failing poststart hook is logged, the others still run, the container keeps running
  await runHooks("poststart", rec.spec?.hooks?.poststart, ociState(rec, "running"), warn);
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
  const created = await (await creating()).createContainer(opts, !opts.detach);
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
  const record = rec.cgroup as CgroupRecord | undefined;
  if (!record) return undefined;
  return () => recordIsFrozen(record);
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
    if (!rec.ownPidNamespace) warn(`kill --all: container ${id} has no cgroup and shares its pid namespace: only its init is signalled`);
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

/**
 * Every process of the container: from its cgroup; without one (rootless without a delegated
 * subtree), those in its own pid namespace. A pid namespace it shares (the host's, a pod's)
 * holds other processes too — the caller's whole session, say — so then only its init.
 */
export function containerPids(rec: ContainerRecord): number[] {
  const fromCgroup = cgroupsFromRecord(rec)?.pids();
  if (fromCgroup && fromCgroup.length) return fromCgroup;
  if (!rec.ownPidNamespace) return initAlive(rec) ? [rec.pid] : [];
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${rec.pid}/ns/pid`);
  } catch {
    return [];
  }
  if (ns === fs.readlinkSync("/proc/self/ns/pid")) return [rec.pid]; // never the caller's own
  const pids: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    const pid = Number(name);
    if (!pid || pid === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${pid}/ns/pid`) === ns) pids.push(pid);
    } catch {
      // gone
    }
  }
  return pids;
}

/** Removes a stopped (or just killed) container: poststop hooks, cgroups, state. */
async function destroy(root: string, rec: ContainerRecord): Promise<void> {
  const cg = cgroupsFromRecord(rec);
  if (cg) {
    for (const pid of cg.pids()) killAndWait(pid);
  }
  // the spec: a failing poststop hook is logged, the others still run, the deletion goes on
  await runHooks("poststop", rec.spec?.hooks?.poststop, ociState(rec, "stopped"), warn);
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
    let rec: ContainerRecord;
    try {
      rec = readRecord(root, id);
    } catch (e) {
      if (force && e instanceof ContainerError && /does not exist/.test(e.message)) return;
      throw e;
    }
    const status: Status = liveStatus(root, rec, frozenProbe(rec));
    // "creating": a create may still be under way (it holds no lock while it runs): only --force
    if (status === "running" || status === "paused" || status === "creating") {
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

export { setDebug, setWarn, warn } from "./warn.ts";

function cgroupsFromRecord(rec: ContainerRecord) {
  if (!rec.cgroup) return undefined;
  // loaded on first use (kill, delete): state, list and start don't need the cgroup manager
  const { cgroupsFromRecord: open } = require("./cgroups.ts") as typeof import("./cgroups.ts");
  return open(rec.cgroup);
}
