/** Compiles a container's seccomp profile, cached on disk by content hash. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { CompiledSeccomp, SeccompCache, SeccompStore } from "../seccomp/mod.ts";
import { ConfigError } from "../oci/validate.ts";
import type { SeccompPlan } from "../plan/compile.ts";
import type { State } from "../oci/types.ts";
import { kernelSeccompFlags } from "./seccomp_probe.ts";
import { OCI_VERSION } from "./state.ts";

/** $ISOLA_CACHE_DIR/seccomp when set (the test suite keeps its own), else /var/cache/isola/seccomp for root, the XDG cache otherwise. */
function cacheDir(): string {
  if (process.env.ISOLA_CACHE_DIR) return path.join(process.env.ISOLA_CACHE_DIR, "seccomp");
  if ((process.getuid?.() ?? 0) === 0) return "/var/cache/isola/seccomp";
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "isola", "seccomp");
}

const diskStore: SeccompStore = {
  get(key) {
    try {
      return fs.readFileSync(path.join(cacheDir(), key), "utf8");
    } catch {
      return undefined;
    }
  },
  set(key, value) {
    try {
      const dir = cacheDir();
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = path.join(dir, `.${key}.${process.pid}`);
      fs.writeFileSync(tmp, value, { mode: 0o600 });
      fs.renameSync(tmp, path.join(dir, key));
    } catch {
      // a cache that can't be written only costs a recompile next time
    }
  },
};

let cache: SeccompCache | undefined;

/** Whether a profile's flags matter to the kernel: it lists some, or a rule notifies (NEW_LISTENER). */
function asksForFlags(profile: unknown): boolean {
  if (!profile || typeof profile !== "object") return false;
  const p = profile as { flags?: unknown; syscalls?: unknown };
  if (Array.isArray(p.flags) && p.flags.length > 0) return true;
  return Array.isArray(p.syscalls) && p.syscalls.some((r) => (r as { action?: unknown } | null)?.action === "SCMP_ACT_NOTIFY");
}

/**
 * The compiled filter for linux.seccomp, or undefined when the config has none; throws
 * ConfigError naming the rule, or the flag this kernel lacks (`probeFlags`: the kernel's
 * SECCOMP_FILTER_FLAG_* bits, asked only for profiles that use flags). The compiler and
 * its syscall tables load only when needed.
 */
export async function compileContainerSeccomp(
  profile: unknown,
  warn: (msg: string) => void,
  probeFlags: () => number | undefined = kernelSeccompFlags,
): Promise<CompiledSeccomp | undefined> {
  if (profile === undefined) return undefined;
  const { SeccompCache, SeccompConfigError, SUPPLEMENT_KERNEL } = await import("../seccomp/mod.ts");
  cache ??= new SeccompCache(diskStore);
  const kernelFlags = asksForFlags(profile) ? probeFlags() : undefined;
  let compiled: CompiledSeccomp;
  try {
    compiled = cache.compile(profile, { nativeArch: process.arch, ...(kernelFlags !== undefined ? { kernelFlags } : {}) });
  } catch (e) {
    if (e instanceof SeccompConfigError) throw new ConfigError([...e.errors]);
    throw e;
  }
  if (compiled.unknownNames.length) warn(`linux.seccomp: syscalls isola's syscall tables do not know (misspelt, or newer than Linux ${SUPPLEMENT_KERNEL}) are ignored: ${compiled.unknownNames.join(", ")}`);
  return compiled;
}

/** What the launcher needs: the program, and where the notify fd goes when a rule uses SCMP_ACT_NOTIFY. */
export function seccompPlan(compiled: CompiledSeccomp | undefined): SeccompPlan | undefined {
  if (!compiled) return undefined;
  return { flags: compiled.flags, program: compiled.program, ...(compiled.notify ? { listenerPath: compiled.notify.listenerPath } : {}) };
}

/**
 * The runtime spec's containerProcessState, sent with the notify fd to listenerPath: the
 * fd's name, the pid of the process that installed the filter, listenerMetadata, the state.
 */
export function listenerState(compiled: CompiledSeccomp | undefined, pid: number, state: State): string {
  const metadata = compiled?.notify?.listenerMetadata ?? "";
  return JSON.stringify({ ociVersion: OCI_VERSION, fds: ["seccompFd"], pid, ...(metadata ? { metadata } : {}), state });
}

/**
 * The `linux.seccomp` part of `features`: what the compiler knows, and of the flags, those
 * this kernel accepts (TSYNC always: the launcher is single-threaded and drops it).
 */
export async function seccompFeatures(probeFlags: () => number | undefined = kernelSeccompFlags): Promise<{
  actions: string[]; operators: string[]; archs: string[]; flags: string[]; supportedFlags: string[];
}> {
  const { ACTIONS, ARCHES, FILTER_FLAG_TSYNC, FLAGS, OPERATORS } = await import("../seccomp/mod.ts");
  const kernel = probeFlags() ?? 0;
  const flags = Object.keys(FLAGS).sort();
  return {
    actions: Object.keys(ACTIONS).sort(),
    operators: [...OPERATORS].sort(),
    archs: Object.keys(ARCHES).sort(),
    flags,
    supportedFlags: flags.filter((f) => FLAGS[f] === FILTER_FLAG_TSYNC || ((FLAGS[f] as number) & kernel) !== 0),
  };
}
