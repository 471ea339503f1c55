/**
 * Asks the running kernel which SECCOMP_FILTER_FLAG_* bits seccomp(2) accepts, the way
 * libseccomp does: SECCOMP_SET_MODE_FILTER with the flag and a NULL program fails with
 * EFAULT when the flag is known (the program is read after the flags are checked) and
 * EINVAL when it is not. Nothing is installed. Through libc (bun:ffi), no process spawned.
 */
import { dlopen, type Pointer, read } from "bun:ffi";
import {
  FILTER_FLAG_LOG, FILTER_FLAG_NEW_LISTENER, FILTER_FLAG_SPEC_ALLOW, FILTER_FLAG_TSYNC, FILTER_FLAG_TSYNC_ESRCH,
  FILTER_FLAG_WAIT_KILLABLE_RECV,
} from "../seccomp/bpf.ts";

const SECCOMP_SET_MODE_FILTER = 1;
const EFAULT = 14, EINVAL = 22;
/** seccomp(2)'s number per Node arch (the runtime runs natively only on these). */
const SYS_SECCOMP: Readonly<Record<string, number>> = { x64: 317, arm64: 277 };

type Seccomp = (flags: number) => number;
let seccompCall: Seccomp | null | undefined;

function loadSeccomp(): Seccomp | null {
  if (seccompCall !== undefined) return seccompCall;
  const nr = SYS_SECCOMP[process.arch];
  try {
    if (nr === undefined) throw new Error(`no seccomp(2) number for ${process.arch}`);
    const { symbols: s } = dlopen("libc.so.6", {
      syscall: { args: ["i64", "i64", "i64", "i64"], returns: "i64" },
      __errno_location: { args: [], returns: "ptr" },
    });
    seccompCall = (flags) => {
      const r = Number(s.syscall(nr, SECCOMP_SET_MODE_FILTER, flags, 0));
      return r < 0 ? read.i32(s.__errno_location() as Pointer, 0) : 0;
    };
  } catch {
    seccompCall = null;
  }
  return seccompCall;
}

/**
 * Whether this kernel accepts the flag set `flags` (true: EFAULT for the NULL program;
 * false: EINVAL), or undefined when it cannot tell (libc not loadable, seccomp(2) itself
 * refused, e.g. under a filter that denies it).
 */
export function seccompFlagsAccepted(flags: number): boolean | undefined {
  const call = loadSeccomp();
  if (!call) return undefined;
  const errno = call(flags);
  return errno === EFAULT ? true : errno === EINVAL ? false : undefined;
}

let probed: number | undefined | null;

/**
 * The SECCOMP_FILTER_FLAG_* bits isola knows that this kernel accepts, probed once per
 * process; undefined when it cannot tell. WAIT_KILLABLE_RECV is probed together with
 * NEW_LISTENER, without which the kernel refuses it.
 */
export function kernelSeccompFlags(): number | undefined {
  if (probed !== undefined) return probed ?? undefined;
  const known = [FILTER_FLAG_TSYNC, FILTER_FLAG_LOG, FILTER_FLAG_SPEC_ALLOW, FILTER_FLAG_NEW_LISTENER, FILTER_FLAG_TSYNC_ESRCH, FILTER_FLAG_WAIT_KILLABLE_RECV];
  let mask = 0;
  for (const bit of known) {
    const ok = seccompFlagsAccepted(bit === FILTER_FLAG_WAIT_KILLABLE_RECV ? bit | FILTER_FLAG_NEW_LISTENER : bit);
    if (ok === undefined) {
      probed = null;
      return undefined;
    }
    if (ok) mask |= bit;
  }
  probed = mask;
  return mask;
}
