/**
 * rtnetlink from Bun through libc (bun:ffi): a NETLINK_ROUTE socket opened inside any
 * network namespace (setns on this thread just for the socket() call, then back), and
 * LinkOps sent one request at a time with their ACKs. No process is spawned.
 */
import { closeSync, openSync } from "node:fs";
import { encodeGetLink, encodeOp, decodeReplies, NLMSG_ERROR, RTM, type Resolve } from "./encode.ts";
import { renderIp, type LinkOp } from "../linkops.ts";

const CLONE_NEWNET = 0x40000000;
const AF_NETLINK = 16;
const SOCK_RAW_CLOEXEC = 3 | 0x80000;
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;

interface Libc {
  socket(d: number, t: number, p: number): number;
  setns(fd: number, nstype: number): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number | bigint;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number | bigint;
  close(fd: number): number;
  setsockopt(fd: number, level: number, name: number, val: Uint8Array, len: number): number;
  errno(): number;
  strerror(e: number): string;
}

let libc: Libc | null | undefined;

/** libc via FFI, or null where it cannot be loaded (then callers fall back to `ip`). */
export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const { symbols: s } = ffi.dlopen("libc.so.6", {
      socket: { args: ["i32", "i32", "i32"], returns: "i32" },
      setns: { args: ["i32", "i32"], returns: "i32" },
      send: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
      recv: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
      close: { args: ["i32"], returns: "i32" },
      setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
      __errno_location: { args: [], returns: "ptr" },
      strerror: { args: ["i32"], returns: "cstring" },
    });
    libc = {
      socket: (d, t, p) => s.socket(d, t, p) as number,
      setns: (fd, t) => s.setns(fd, t) as number,
      send: (fd, b, l, f) => Number(s.send(fd, b, l, f)),
      recv: (fd, b, l, f) => Number(s.recv(fd, b, l, f)),
      close: (fd) => s.close(fd) as number,
      setsockopt: (fd, l, n, v, len) => s.setsockopt(fd, l, n, v, len) as number,
      errno: () => ffi.read.i32(s.__errno_location() as import("bun:ffi").Pointer, 0),
      strerror: (e) => String(s.strerror(e)),
    };
  } catch {
    libc = null;
  }
  return libc;
}

export class NetlinkError extends Error {
  constructor(
    readonly op: string,
    readonly errno: number,
    text: string,
  ) {
    super(`${op}: ${text}`);
    this.name = "NetlinkError";
  }
}

export class RouteSocket {
  private seq = 1;
  private readonly rbuf = new Uint8Array(65536);
  private readonly indexes = new Map<string, number>();
  private readonly nsFds = new Map<string, number>();

  private constructor(
    private readonly c: Libc,
    private readonly fd: number,
  ) {
    // A kernel that never answers must not hang the process: recv gives up after 10 s.
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setBigInt64(0, 10n, true);
    c.setsockopt(fd, 1 /* SOL_SOCKET */, 20 /* SO_RCVTIMEO */, tv, 16);
  }

  /** A socket in `netns` (a path), or in this thread's namespace. */
  static open(c: Libc, netns?: string, protocol = NETLINK_ROUTE): RouteSocket {
    if (!netns) {
      const fd = c.socket(AF_NETLINK, SOCK_RAW_CLOEXEC, protocol);
      if (fd < 0) throw new NetlinkError("socket", c.errno(), c.strerror(c.errno()));
      return new RouteSocket(c, fd);
    }
    const self = openSync("/proc/thread-self/ns/net", "r");
    let target: number;
    try {
      target = openSync(netns, "r");
    } catch (e) {
      closeSync(self);
      throw e;
    }
    try {
      if (c.setns(target, CLONE_NEWNET) !== 0) throw new NetlinkError(`setns ${netns}`, c.errno(), c.strerror(c.errno()));
      const fd = c.socket(AF_NETLINK, SOCK_RAW_CLOEXEC, protocol);
      const err = c.errno();
      if (c.setns(self, CLONE_NEWNET) !== 0) {
        // This thread would stay in the container's namespace: nothing after this is safe.
        process.stderr.write("isola: cannot return to the host network namespace after setns; aborting\n");
        process.abort();
      }
      if (fd < 0) throw new NetlinkError("socket", err, c.strerror(err));
      return new RouteSocket(c, fd);
    } finally {
      closeSync(self);
      closeSync(target);
    }
  }

  close(): void {
    this.c.close(this.fd);
    for (const fd of this.nsFds.values()) closeSync(fd);
    this.nsFds.clear();
  }

  private roundTrip(msg: Uint8Array, what: string): number | undefined {
    const seq = new DataView(msg.buffer, msg.byteOffset).getUint32(8, true);
    if (Number(this.c.send(this.fd, msg, msg.length, 0)) < 0) throw new NetlinkError(what, this.c.errno(), this.c.strerror(this.c.errno()));
    for (;;) {
      const n = Number(this.c.recv(this.fd, this.rbuf, this.rbuf.length, 0));
      if (n < 0) throw new NetlinkError(what, this.c.errno(), this.c.strerror(this.c.errno()));
      for (const r of decodeReplies(this.rbuf.subarray(0, n))) {
        if (r.seq !== seq) continue;
        if (r.type === NLMSG_ERROR) {
          if (r.error) throw new NetlinkError(what, -r.error, this.c.strerror(-r.error));
          return undefined;
        }
        if (r.type === RTM.NEWLINK) return r.index;
      }
    }
  }

  index(dev: string): number {
    const hit = this.indexes.get(dev);
    if (hit) return hit;
    const i = this.roundTrip(encodeGetLink(dev, this.seq++), `link show ${dev}`);
    if (!i) throw new NetlinkError(`link show ${dev}`, 19, "No such device");
    this.indexes.set(dev, i);
    return i;
  }

  private netnsFd(path: string): number {
    let fd = this.nsFds.get(path);
    if (fd === undefined) {
      fd = openSync(path, "r");
      this.nsFds.set(path, fd);
    }
    return fd;
  }

  /**
   * Sends one nfnetlink batch and waits for the answer to every sequence number in
   * `seqs`; throws the first error with `line` = its 1-based position in `seqs`.
   */
  batch(bytes: Uint8Array, seqs: readonly number[], render: (i: number) => string): void {
    if (Number(this.c.send(this.fd, bytes, bytes.length, 0)) < 0) throw new NetlinkError("nft", this.c.errno(), this.c.strerror(this.c.errno()));
    const pending = new Set(seqs);
    let first: { i: number; errno: number } | undefined;
    while (pending.size) {
      const n = Number(this.c.recv(this.fd, this.rbuf, this.rbuf.length, 0));
      if (n < 0) throw new NetlinkError("nft", this.c.errno(), this.c.strerror(this.c.errno()));
      for (const r of decodeReplies(this.rbuf.subarray(0, n))) {
        if (r.type !== NLMSG_ERROR) continue;
        if (!pending.has(r.seq)) {
          // an error on the batch framing itself: no per-element answers will follow
          if (r.error) throw new NetlinkError("nft batch", -r.error, this.c.strerror(-r.error));
          continue;
        }
        pending.delete(r.seq);
        const i = seqs.indexOf(r.seq);
        if (r.error && (!first || i < first.i)) first = { i, errno: -r.error };
      }
    }
    if (first) throw Object.assign(new NetlinkError(render(first.i), first.errno, this.c.strerror(first.errno)), { line: first.i + 1 });
  }

  nextSeq(n: number): number {
    const s = this.seq;
    this.seq += n;
    return s;
  }

  /** Applies ops in order; the first failure throws (naming the op as an `ip` command) unless `force`. */
  apply(ops: readonly LinkOp[], force = false): void {
    const r: Resolve = { index: (d) => this.index(d), netnsFd: (p) => this.netnsFd(p) };
    ops.forEach((o, i) => {
      const what = renderIp([o])[0]!;
      try {
        this.roundTrip(encodeOp(o, this.seq++, r), what);
        if (o.op === "link-del" || o.op === "link-rename") this.indexes.delete(o.dev);
      } catch (e) {
        if (!force) throw Object.assign(e as Error, { line: i + 1 });
      }
    });
  }
}
