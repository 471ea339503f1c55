/**
 * Container state on disk: one directory per container under the runtime root,
 * holding state.json (written atomically), the exec fifo while the container
 * is "created", and a lock file.
 */
import * as fs from "node:fs";
import { libcFlock, LOCK_EX } from "../host/flock.ts";
import { procStat } from "../host/proc.ts";
import { validateId } from "../oci/id.ts";
import type { Spec, State, Status } from "../oci/types.ts";

export const OCI_VERSION = "1.2.0";

export { procStat };

/** What isola keeps about a container (superset of the OCI state). */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  /** host pid of the container init; 0 until known */
  pid: number;
  /** start time of the init (field 22 of /proc/<pid>/stat), to detect pid reuse */
  pidStartTime?: string;
  /** "creating" until create finished; the live status is derived from the process */
  status: "creating" | "created";
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** opaque record of the container's cgroups (cgroups layer) */
  cgroup?: unknown;
  /** whether the container has its own pid namespace (kill --all semantics) */
  ownPidNamespace?: boolean;
  /** the init's steps that run after `start` released it, by index in its INIT section → config field (startContainer hooks), to name a failure `start` reads */
  releasedSteps?: Record<number, string>;
  /** the config the container was created from (exec inherits its process settings) */
  spec?: Spec;
}

export class ContainerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerError";
  }
}

/** The container's directory; an id that is not one (`..`, `a/b`) is refused before it becomes a path. */
export function containerDir(root: string, id: string): string {
  const problem = validateId(id);
  if (problem !== undefined) throw new ContainerError(problem);
  return `${root}/${id}`;
}

export const execFifoPath = (root: string, id: string) => `${containerDir(root, id)}/exec.fifo`;

/** Creates the container's directory; fails when the id is taken. */
export function createContainerDir(root: string, id: string): string {
  fs.mkdirSync(root, { recursive: true, mode: 0o711 });
  const dir = containerDir(root, id);
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new ContainerError(`container with id ${id} already exists`);
    throw e;
  }
  return dir;
}

export function writeRecord(root: string, rec: ContainerRecord): void {
  const dir = containerDir(root, rec.id);
  const tmp = `${dir}/.state.json.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(rec));
  fs.renameSync(tmp, `${dir}/state.json`);
}

export function readRecord(root: string, id: string): ContainerRecord {
  const dir = containerDir(root, id);
  let text: string;
  try {
    text = fs.readFileSync(`${dir}/state.json`, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      // create writes state.json right after making the directory: a directory without one is a
      // create cut off in between only when it holds nothing but what that leaves (a lock, a
      // half-written record); anything else under the root is not ours to report or delete
      if (onlyCreateLeftovers(dir))
        return { ociVersion: OCI_VERSION, id, pid: 0, status: "creating", bundle: "", rootfs: "", created: new Date(0).toISOString(), owner: "" };
      throw new ContainerError(`container ${id} does not exist`);
    }
    throw e;
  }
  return JSON.parse(text) as ContainerRecord;
}

function onlyCreateLeftovers(dir: string): boolean {
  let names: string[];
  try {
    if (!fs.lstatSync(dir).isDirectory()) return false;
    names = fs.readdirSync(dir);
  } catch {
    return false;
  }
  return names.every((n) => n === "lock" || n === "lock.takeover" || n.startsWith(".state.json."));
}

export function listIds(root: string): string[] {
  try {
    return fs
      .readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && validateId(d.name) === undefined)
      .map((d) => d.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** True when the record's init process still exists (and is not a zombie). */
export function initAlive(rec: ContainerRecord): boolean {
  const st = procStat(rec.pid);
  if (!st || st.state === "Z" || st.state === "X") return false;
  return rec.pidStartTime === undefined || rec.pidStartTime === st.startTime;
}

/** The live status, derived from the process and the exec fifo as runc does. */
export function liveStatus(root: string, rec: ContainerRecord, isFrozen?: () => boolean): Status {
  if (rec.status === "creating") return initAlive(rec) || rec.pid === 0 ? "creating" : "stopped";
  if (!initAlive(rec)) return "stopped";
  if (isFrozen?.()) return "paused"; // before "created", as runc: a created container can be paused
  if (fs.existsSync(execFifoPath(root, rec.id))) return "created";
  return "running";
}

/** The OCI state of a container (what `state` prints and hooks read). */
export function ociState(rec: ContainerRecord, status: Status): State {
  const s: State = { ociVersion: rec.ociVersion, id: rec.id, status, bundle: rec.bundle };
  if (status !== "stopped" && rec.pid) s.pid = rec.pid;
  if (rec.annotations && Object.keys(rec.annotations).length) s.annotations = rec.annotations;
  return s;
}

/**
 * Takes the container's lock: a file made with O_EXCL holding the holder's pid and start time
 * (so a reused pid is not taken for the holder). A lock whose holder died is removed under a
 * takeover mutex (see takeOver) and then raced for with O_EXCL like any free lock. Returns the
 * release function, which removes the lock only while it is still ours.
 */
export function lockContainer(root: string, id: string, waitMs = 10_000): () => void {
  const path = `${containerDir(root, id)}/lock`;
  const mine = `${process.pid} ${procStat(process.pid)?.startTime ?? ""}`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.writeFileSync(path, mine, { flag: "wx" });
      return () => {
        try {
          if (fs.readFileSync(path, "utf8") === mine) fs.rmSync(path, { force: true });
        } catch {
          // gone already
        }
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new ContainerError(`container ${id} does not exist`);
      if (code !== "EEXIST") throw e;
    }
    let text: string;
    try {
      text = fs.readFileSync(path, "utf8");
    } catch {
      continue; // released meanwhile
    }
    const [pidText = "", start] = text.split(" ");
    const holder = Number(pidText);
    const st = holder ? procStat(holder) : undefined;
    const alive = st !== undefined && st.state !== "Z" && (start === undefined || start === "" || start === st.startTime);
    if (text !== "" && !alive) {
      takeOver(path, text);
      continue;
    }
    if (Date.now() > deadline) throw new ContainerError(`container ${id} is locked by process ${holder}`);
    Bun.sleepSync(2);
  }
}

/**
 * Removes a dead holder's lock file, under an flock(2) on a file beside it: the kernel drops
 * that lock when its holder dies, so this mutex never goes stale, and a lock file is only ever
 * removed by a taker that read the dead holder's words in it while holding the mutex — never a
 * live holder's (the file can't be replaced meanwhile: only takers remove it, one at a time).
 * bun:ffi is loaded only on this path, which needs a holder that died holding the lock.
 */
function takeOver(path: string, dead: string): void {
  const fd = fs.openSync(`${path}.takeover`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  const api = libcFlock();
  try {
    while (api.flock(fd, LOCK_EX) !== 0) {
      // EINTR: try again
    }
    let now: string;
    try {
      now = fs.readFileSync(path, "utf8");
    } catch {
      return; // taken over already
    }
    if (now === dead) fs.rmSync(path, { force: true });
  } finally {
    fs.closeSync(fd); // drops the flock
  }
}

/** SIGKILL and wait (polling /proc, ≤ timeoutMs) until the process is gone or a zombie. */
export function killAndWait(pid: number, timeoutMs = 5000) {
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
