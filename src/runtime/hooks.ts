/** Runs OCI hooks that execute in the runtime's namespace (prestart, createRuntime, poststart, poststop). */
import type { Hook, State } from "../oci/types.ts";

export class HookError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "HookError";
  }
}

/**
 * Runs hooks in order with the state on stdin; the first failure throws, naming the hook. With
 * `warn` (poststart, poststop: the spec has the runtime log their failures and go on) each
 * failure is passed to it and the remaining hooks still run.
 */
export async function runHooks(kind: string, hooks: readonly Hook[] | undefined, state: State, warn?: (msg: string) => void): Promise<void> {
  if (!hooks?.length) return;
  const input = JSON.stringify(state);
  for (const [i, hook] of hooks.entries()) {
    try {
      await runHook(`hooks.${kind}[${i}]`, hook, input);
    } catch (e) {
      if (!warn) throw e;
      warn((e as Error).message);
    }
  }
}

async function runHook(field: string, hook: Hook, input: string): Promise<void> {
  const argv = hook.args?.length ? hook.args : [hook.path];
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([hook.path, ...argv.slice(1)], {
      argv0: argv[0] ?? hook.path,
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
      stdin: new TextEncoder().encode(input),
      stdout: "inherit",
      stderr: "pipe",
    });
  } catch (e) {
    throw new HookError(field, `cannot run ${hook.path}: ${(e as Error).message}`);
  }
  let timedOut = false;
  const timer = hook.timeout
    ? setTimeout(() => {
        timedOut = true;
        proc.kill(9);
      }, hook.timeout * 1000)
    : undefined;
  const code = await proc.exited;
  if (timer) clearTimeout(timer);
  const stderr = proc.stderr instanceof ReadableStream ? (await new Response(proc.stderr).text()).trim() : "";
  if (timedOut) throw new HookError(field, `${hook.path} timed out after ${hook.timeout}s`);
  if (code !== 0)
    throw new HookError(field, `${hook.path} ${proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with status ${code}`}${stderr ? `: ${stderr}` : ""}`);
}
