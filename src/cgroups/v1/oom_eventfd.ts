// cgroup v1 OOM notifications as the kernel offers them (and runc listens): an eventfd
// registered for memory.oom_control through cgroup.event_control. The kernel signals it each
// time the cgroup enters the OOM state, and once more when the cgroup is removed.
import { dlopen, FFIType } from "bun:ffi";
import * as fs from "node:fs";

const EFD_CLOEXEC = 0o2000000;

let libc: { symbols: { eventfd: (initval: number, flags: number) => number } } | undefined;

function eventfd(): number {
  libc ??= dlopen("libc.so.6", { eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 } });
  const fd = libc.symbols.eventfd(0, EFD_CLOEXEC);
  if (fd < 0) throw new Error("eventfd failed");
  return fd;
}

/**
 * Calls onOom for each OOM notification of the v1 memory cgroup `dir`; returns a function
 * that stops watching. Throws when the notification can't be registered (the caller polls
 * instead). The wait is a read in the I/O thread pool; stopping wakes it by writing to the
 * eventfd ourselves.
 */
export function watchOomEventfd(dir: string, onOom: () => void): () => void {
  const efd = eventfd();
  let ocfd = -1;
  try {
    ocfd = fs.openSync(`${dir}/memory.oom_control`, "r");
    fs.writeFileSync(`${dir}/cgroup.event_control`, `${efd} ${ocfd}`);
  } catch (e) {
    if (ocfd >= 0) fs.closeSync(ocfd);
    fs.closeSync(efd);
    throw e;
  }
  let stopped = false;
  let closed = false;
  const close = () => {
    stopped = true; // a later stop() must not write to a number the process may reuse
    if (closed) return;
    closed = true;
    fs.closeSync(efd);
    fs.closeSync(ocfd);
  };
  const buf = Buffer.alloc(8);
  const wait = () => {
    fs.read(efd, buf, 0, 8, null, (err) => {
      if (stopped || err) {
        close();
        return;
      }
      // the last notification of a cgroup is its removal
      if (!fs.existsSync(dir)) {
        close();
        return;
      }
      onOom();
      wait();
    });
  };
  wait();
  return () => {
    if (stopped) return;
    stopped = true;
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    try {
      fs.writeSync(efd, one); // wakes the pending read, which then closes both fds
    } catch {
      close();
    }
  };
}
