// flock(2) from libc through bun:ffi, loaded on first use (≈4 ms, so only on the paths that
// need a lock the kernel drops when its holder dies): the net store's locks and the takeover of
// a dead holder's container lock.

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export interface Flock {
  flock(fd: number, op: number): number;
  /** errno after a call that returned -1 */
  errno(): number;
}

let libc: Flock | undefined;

export function libcFlock(): Flock {
  if (libc) return libc;
  let ffi: typeof import("bun:ffi");
  let s: { flock: (fd: number, op: number) => unknown; __errno_location: () => unknown };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ffi = require("bun:ffi") as typeof import("bun:ffi");
    s = ffi.dlopen("libc.so.6", { flock: { args: ["i32", "i32"], returns: "i32" }, __errno_location: { args: [], returns: "ptr" } }).symbols;
  } catch (e) {
    throw new Error(`file locks need flock(2) from libc.so.6 through bun:ffi: ${(e as Error).message}`);
  }
  libc = { flock: (fd, op) => s.flock(fd, op) as number, errno: () => ffi.read.i32(s.__errno_location() as import("bun:ffi").Pointer, 0) };
  return libc;
}
