/** Runs a plugin executable per the CNI spec: CNI_* environment, config on stdin, result or error JSON on stdout. */
import { CniError, ErrorCode } from "./errors.ts";
import type { PluginCall } from "./plugin.ts";

export interface ExecOptions {
  timeoutMs: number;
}

/** Finds `type` in the plugin dirs; undefined when absent. */
export async function findPlugin(type: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const d of dirs) {
    const p = `${d}/${type}`;
    const f = Bun.file(p);
    if (await f.exists()) return p;
  }
  return undefined;
}

/** What a plugin call that ran out of time reports, exec'd or in-process. */
export function timeoutError(type: string, command: string, timeoutMs: number): CniError {
  return new CniError(ErrorCode.tryAgainLater, `plugin ${type} (${command}) timed out after ${timeoutMs} ms`);
}

export async function execPlugin(exe: string, call: PluginCall, opts: ExecOptions): Promise<unknown> {
  const type = exe.slice(exe.lastIndexOf("/") + 1);
  if (call.signal?.aborted) throw call.signal.reason;
  const env: Record<string, string> = {
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: call.args,
    CNI_PATH: call.path.join(":"),
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
  };
  if (call.command === "VERSION" || call.command === "STATUS" || call.command === "GC") {
    for (const k of ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]) if (!env[k]) delete env[k];
  }
  const proc = Bun.spawn([exe], {
    env,
    stdin: new TextEncoder().encode(JSON.stringify(call.config)),
    stdout: "pipe",
    stderr: "pipe",
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs);
  // the in-process plugin that runs this one (IPAM) timed out: this one stops too
  const stop = () => proc.kill("SIGKILL");
  call.signal?.addEventListener("abort", stop, { once: true });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  call.signal?.removeEventListener("abort", stop);
  const what = `plugin ${type} (${call.command})`;
  if (timedOut) throw timeoutError(type, call.command, opts.timeoutMs);
  if (call.signal?.aborted) throw call.signal.reason;
  if (code !== 0) {
    const e = parseErrorJson(out);
    if (e) throw new CniError(e.code, `${what} failed: ${e.msg}`, e.details);
    throw new CniError(ErrorCode.io, `${what} exited with status ${code}`, (err.trim() || out.trim()) || undefined);
  }
  if (out.trim() === "") return undefined;
  try {
    return JSON.parse(out);
  } catch {
    throw new CniError(ErrorCode.decoding, `${what} printed a result that is not JSON`, out.slice(0, 200));
  }
}

function parseErrorJson(out: string): { code: number; msg: string; details?: string } | undefined {
  try {
    const j = JSON.parse(out) as Record<string, unknown>;
    if (typeof j.code !== "number") return undefined;
    const msg = typeof j.msg === "string" ? j.msg : "error";
    return typeof j.details === "string" && j.details ? { code: j.code, msg, details: j.details } : { code: j.code, msg };
  } catch {
    return undefined;
  }
}
