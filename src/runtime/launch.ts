/**
 * Runs the C launcher with a compiled plan and speaks its message protocol
 * (framing: u32 type, u32 length, payload; see native/launcher.c).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { LaunchPlan } from "../plan/compile.ts";
import { encodePlan } from "../plan/encode.ts";
import { Msg, Section, type SectionName } from "../plan/steps.ts";
import { errnoMessage } from "./errno.ts";

export class LaunchError extends Error {
  constructor(readonly field: string, message: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = "LaunchError";
  }
}

/** Finds the launcher beside the running binary, in the source tree, or installed. */
export function launcherPath(): string {
  const env = process.env.ISOLA_LAUNCHER;
  if (env) return env;
  const candidates = [
    path.join(path.dirname(process.execPath), "isola-launcher"),
    path.join(import.meta.dir, "../../bin/isola-launcher"),
    "/usr/local/libexec/isola/isola-launcher",
    "/usr/libexec/isola/isola-launcher",
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new LaunchError("", `isola-launcher not found (looked in ${candidates.join(", ")}); run npm run setup`);
}

/** The Landlock ABI version the kernel offers (0: none), as the launcher reads it. */
export function landlockAbi(): number {
  try {
    const r = Bun.spawnSync([launcherPath(), "--landlock-abi"], { stdout: "pipe", stderr: "ignore" });
    return r.exitCode === 0 ? Number(r.stdout.toString().trim()) || 0 : 0;
  } catch {
    return 0;
  }
}

class MessageReader {
  private buf = new Uint8Array(0);
  private reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> };
  constructor(fd: number) {
    this.reader = Bun.file(fd).stream().getReader() as unknown as MessageReader["reader"];
  }
  /** The next message, or undefined at end of stream. */
  async next(): Promise<{ type: number; payload: string } | undefined> {
    for (;;) {
      if (this.buf.length >= 8) {
        const dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
        const type = dv.getUint32(0, true);
        const len = dv.getUint32(4, true);
        if (this.buf.length >= 8 + len) {
          const payload = new TextDecoder().decode(this.buf.subarray(8, 8 + len));
          this.buf = this.buf.subarray(8 + len);
          return { type, payload };
        }
      }
      let chunk: { done: boolean; value?: Uint8Array };
      try {
        chunk = await this.reader.read();
      } catch {
        return undefined; // ECONNRESET: the launcher is gone
      }
      if (chunk.done || !chunk.value) return undefined;
      const merged = new Uint8Array(this.buf.length + chunk.value.length);
      merged.set(this.buf);
      merged.set(chunk.value, this.buf.length);
      this.buf = merged;
    }
  }
  cancel() {
    this.reader.cancel().catch(() => {});
  }
}

function frame(type: number, payload: string | Uint8Array = ""): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(8 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, body.length, true);
  out.set(body, 8);
  return out;
}

export interface LaunchHandlers {
  /** the init's host pid is known */
  onPid(pid: number): void | Promise<void>;
  /** a sync point: answer with the state JSON handed to in-container hooks */
  onSync(name: string): Promise<string>;
  /** the init is ready and waits on the exec fifo once this resolves */
  onReady(): Promise<void>;
}

export interface LaunchOptions {
  plan: LaunchPlan;
  /** stay alive as the init's parent and report its exit status */
  foreground: boolean;
  preserveFds: number;
  handlers: LaunchHandlers;
}

export interface Launched {
  pid: number;
  /** foreground only: the init's exit code (128+signal when killed) */
  exit: Promise<number>;
}

/** Turns a launcher error payload "section index errno message" into an error naming the config field. */
export function launcherError(plan: LaunchPlan, payload: string): LaunchError {
  const m = /^(-?\d+) (-?\d+) (-?\d+) ([\s\S]*)$/.exec(payload);
  if (!m) return new LaunchError("", payload);
  const [, sec, idx, errno, msg] = m;
  const name = (Object.keys(Section) as SectionName[]).find((k) => Section[k] === Number(sec));
  const step = name ? plan.sections[name][Number(idx)] : undefined;
  const err = Number(errno);
  return new LaunchError(step?.origin ?? "", err ? `${msg}: ${errnoMessage(err)}` : msg ?? "");
}

/** A launcher started ahead of its plan, so its exec overlaps the runtime's own set-up. */
export interface StartedLauncher {
  proc: ReturnType<typeof Bun.spawn>;
  sock: number;
  foreground: boolean;
  preserveFds: number;
  /** closes our end of the socket (once): a launcher without a plan then exits */
  cancel(): void;
}

export function startLauncher(opts: { foreground: boolean; preserveFds: number }): StartedLauncher {
  const syncIndex = 3 + opts.preserveFds;
  const preserved: number[] = [];
  for (let fd = 3; fd < syncIndex; fd++) preserved.push(fd);
  const proc = Bun.spawn([launcherPath(), String(syncIndex), ...(opts.foreground ? ["fg"] : [])], {
    stdio: ["inherit", "inherit", "inherit", ...preserved, "socket-fd"] as never,
  });
  const sock = (proc.stdio as unknown as (number | null)[])[syncIndex];
  if (typeof sock !== "number") {
    proc.kill(9);
    throw new LaunchError("", "could not create the launcher's sync socket");
  }
  let closed = false;
  return {
    proc,
    sock,
    foreground: opts.foreground,
    preserveFds: opts.preserveFds,
    cancel() {
      if (closed) return; // never close a number the process may have reused since
      closed = true;
      fs.closeSync(sock);
    },
  };
}

export async function launch(opts: LaunchOptions & { started?: StartedLauncher }): Promise<Launched> {
  const { plan, handlers } = opts;
  const started = opts.started ?? startLauncher({ foreground: opts.foreground, preserveFds: opts.preserveFds });
  const { proc, sock } = started;
  const send = (type: number, payload: string | Uint8Array = "") => fs.writeSync(sock, frame(type, payload));
  const reader = new MessageReader(sock);
  const encoded = encodePlan(plan);
  fs.writeSync(sock, encoded);

  let pid = 0;
  const fail = async (err: unknown): Promise<never> => {
    try {
      send(Msg.ABORT);
    } catch {
      // launcher already gone
    }
    if (pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await proc.exited;
    reader.cancel();
    started.cancel();
    throw err;
  };

  for (;;) {
    const msg = await reader.next();
    if (!msg) {
      const code = await proc.exited;
      return fail(new LaunchError("", `the launcher exited (status ${code}) before the container was ready`));
    }
    switch (msg.type) {
      case Msg.ERROR:
        return fail(launcherError(plan, msg.payload));
      case Msg.PID:
        pid = Number(msg.payload);
        try {
          await handlers.onPid(pid);
        } catch (e) {
          return fail(e);
        }
        break;
      case Msg.SYNC:
        try {
          send(Msg.SYNC_REPLY, await handlers.onSync(msg.payload));
        } catch (e) {
          return fail(e);
        }
        break;
      case Msg.READY: {
        if (!pid) return fail(new LaunchError("", "the launcher reported ready before the container's pid"));
        try {
          await handlers.onReady();
        } catch (e) {
          return fail(e);
        }
        send(Msg.ACK);
        const exit = (async () => {
          let status: number | undefined;
          if (opts.foreground) {
            const m = await reader.next();
            if (m?.type === Msg.EXIT) status = Number(m.payload);
          }
          const code = await proc.exited;
          reader.cancel();
          started.cancel();
          if (status === undefined) return code;
          return (status & 0x7f) === 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
        })();
        if (!opts.foreground) await exit;
        return { pid, exit };
      }
      default:
        return fail(new LaunchError("", `unexpected launcher message ${msg.type}`));
    }
  }
}
