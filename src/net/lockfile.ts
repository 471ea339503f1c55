/**
 * The one file lock of src/net (the policy store's per-network locks, `isola network create`):
 * flock(2) on a lock file, which the kernel releases when its holder dies, so a dead holder's
 * lock never needs taking over. An O_EXCL file that a waiter removes once its holder is dead
 * cannot be made safe: two waiters that both saw the dead holder race each other, and
 * renaming it aside first still lets a third one slip in while the second puts back the lock it
 * moved by mistake. The file holds the holder's pid and start time, for the error naming it.
 * The holder removes the file before unlocking it; a waiter that then gets the lock of the
 * removed file sees that the path no longer names what it locked, and starts again.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { libcFlock, LOCK_EX, LOCK_NB, LOCK_UN } from "../host/flock.ts";
import { procStat } from "../host/proc.ts";

export interface LockOptions {
  /** how long to wait for a live holder (default 60 s) */
  waitMs?: number;
  /** what the lock protects, for the error (default: the path) */
  what?: string;
  /** gives up waiting when aborted (with the signal's reason) */
  signal?: AbortSignal;
}

const EWOULDBLOCK = 11;
const EINTR = 4;

/** What a holder writes into its lock file: "<pid> <start time>". */
export function lockOwner(pid = process.pid): string {
  return `${pid} ${procStat(pid)?.startTime ?? ""}`;
}

/** Tries once: the fd holding the lock, or undefined when someone else holds it. */
function tryLock(path: string): number | undefined {
  const api = libcFlock();
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  let held = false;
  try {
    for (;;) {
      if (api.flock(fd, LOCK_EX | LOCK_NB) === 0) break;
      const errno = api.errno();
      if (errno === EINTR) continue;
      if (errno === EWOULDBLOCK) return undefined;
      throw new Error(`${path}: flock failed (errno ${errno})`);
    }
    // the holder we waited for removed the file: what we locked is no longer the lock
    let current: number | bigint | undefined;
    try {
      current = statSync(path).ino;
    } catch {
      current = undefined;
    }
    if (current !== fstatSync(fd).ino) return undefined;
    held = true;
    ftruncateSync(fd, 0);
    writeSync(fd, lockOwner(), 0);
    return fd;
  } finally {
    if (!held) closeSync(fd); // closing drops a lock taken on a removed file
  }
}

function holderOf(path: string): string {
  try {
    return readFileSync(path, "utf8").split(" ")[0] || "(starting)";
  } catch {
    return "(gone)";
  }
}

/** Takes the lock at `path` (its directory is made if missing); resolves to the release function. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<() => void> {
  const waitMs = opts.waitMs ?? 60_000;
  const deadline = Date.now() + waitMs;
  await mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const fd = tryLock(path);
    if (fd !== undefined) {
      const ino = fstatSync(fd).ino;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          // only the file we hold: waiters that locked it start again on a new one
          if (statSync(path).ino === ino) rmSync(path, { force: true });
        } catch {
          // removed already
        }
        libcFlock().flock(fd, LOCK_UN);
        closeSync(fd);
      };
    }
    if (Date.now() > deadline) throw new Error(`${opts.what ?? path}: locked by process ${holderOf(path)} for more than ${Math.round(waitMs / 1000)} s (lock file ${path})`);
    await Bun.sleep(2);
  }
}

/** Runs `fn` holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const release = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    release();
  }
}
