// The only module of the cgroup layer that touches the filesystem. Synchronous on purpose:
// the runtime CLI is short-lived and a handful of small writes beat a promise round trip.
import * as fs from "node:fs";
import { CgroupError, type CgroupWrite } from "./resources.ts";

/** Reads one file; undefined when it does not exist or cannot be read. */
export function tryRead(path: string): string | undefined {
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Writes `value` with one write(2) on an existing file (cgroup files take one command per write). */
export function writeFile(path: string, value: string): void {
  const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
  try {
    fs.writeSync(fd, value);
  } finally {
    fs.closeSync(fd);
  }
}

export function exists(path: string): boolean {
  return fs.existsSync(path);
}

export function listDirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

export function listFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Blocks the thread for `ms` milliseconds (waits for the kernel, not for I/O). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? "EIO";
}

const WHY: Record<string, string> = {
  EINVAL: "the kernel rejected it as invalid",
  EBUSY: "the kernel refused it as busy (a limit below current usage, or a parent that does not allow it)",
  ENOENT: "the file does not exist: the controller is not available or not enabled for this cgroup",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the cgroup filesystem is read-only",
  ENOSPC: "the kernel has no room for it (e.g. no CPUs or memory nodes left in the parent cpuset)",
  ERANGE: "out of the range the kernel accepts",
  EOPNOTSUPP: "not supported by this kernel",
  ENOTSUP: "not supported by this kernel",
};

/** Performs writes in order under `dir`; a failure becomes a CgroupError naming the field and value. */
export function applyWrites(dir: string, writes: CgroupWrite[]): void {
  for (const w of writes) {
    try {
      writeFile(`${dir}/${w.file}`, w.value);
    } catch (e) {
      const code = errnoOf(e);
      throw new CgroupError(`${w.field}: writing ${JSON.stringify(w.value)} to ${w.file} failed: ${WHY[code] ?? "error"} (${code})`, w.field);
    }
  }
}

/** Creates `dir` and missing parents; returns the directories it created, outermost first. */
export function mkdirAll(dir: string): string[] {
  const created: string[] = [];
  const parts = dir.split("/").filter((p) => p !== "");
  let cur = "";
  for (const p of parts) {
    cur += `/${p}`;
    for (let attempt = 0; ; attempt++) {
      try {
        fs.mkdirSync(cur);
        created.push(cur);
      } catch (e) {
        const code = errnoOf(e);
        if (code === "EEXIST") break;
        // A concurrent delete may prune a shared parent between our mkdirs: retry once.
        if (code === "ENOENT" && attempt < 3 && created.length === 0) continue;
        throw e;
      }
      break;
    }
  }
  return created;
}

/** Removes a cgroup directory and the cgroups below it, deepest first; waits briefly while the kernel still holds it. */
export function rmdirTree(dir: string): void {
  for (const child of listDirs(dir)) rmdirTree(`${dir}/${child}`);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      const code = errnoOf(e);
      if (code === "ENOENT") return;
      if ((code === "EBUSY" || code === "ENOTEMPTY") && attempt < 100) {
        sleepSync(attempt < 10 ? 2 : 20);
        continue;
      }
      throw new CgroupError(`cgroup ${dir}: cannot remove it: ${WHY[code] ?? code} (${code}); processes may still be inside`);
    }
  }
}

/** rmdir when empty; any failure (in use, not empty, gone) is fine. */
export function rmdirIfUnused(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // still used by another container, or already gone
  }
}
