/** `exec`: run a new process inside a running container. */
import * as fs from "node:fs";
import { CAPABILITIES } from "../oci/capabilities.ts";
import type { NamespaceType, Process } from "../oci/types.ts";
import { ConfigError, validateProcess } from "../oci/validate.ts";
import { compileExecPlan } from "../plan/exec.ts";
import { cgroupsFromRecord } from "./cgroups.ts";
import { launch } from "./launch.ts";
import { compileContainerSeccomp, listenerState, seccompPlan } from "./seccomp.ts";
import { parseLandlock } from "../oci/landlock.ts";
import { lsmProblems } from "./lsm.ts";
import { capabilitiesForKernel } from "./caps.ts";
import { SECCOMP_LISTENER_SYNC } from "../plan/compile.ts";
import { ContainerError, liveStatus, ociState, readRecord, type ContainerRecord } from "./state.ts";

export interface ExecOverrides {
  args?: string[];
  /** a full OCI process object (-p/--process); overrides the rest but tty/cwd/env/user flags */
  processFile?: string;
  tty?: boolean;
  cwd?: string;
  env?: string[];
  user?: string;
  additionalGids?: number[];
  caps?: string[];
  noNewPrivs?: boolean;
  /** --apparmor and --process-label: checked as process.apparmorProfile/selinuxLabel are */
  apparmor?: string;
  processLabel?: string;
}

export interface ExecRequest {
  root: string;
  id: string;
  overrides: ExecOverrides;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  ignorePaused?: boolean;
  /** runc's --cgroup: `[<controller>[,<controller>…]:]<path>` sub-cgroups of the container's to run in */
  subCgroups?: string[];
}

const NS_FILES: [NamespaceType, string][] = [
  ["user", "user"],
  ["ipc", "ipc"],
  ["uts", "uts"],
  ["network", "net"],
  ["pid", "pid"],
  ["cgroup", "cgroup"],
  ["time", "time"],
  ["mount", "mnt"],
];

/** The namespaces of the init that differ from ours: the ones exec must join. */
function namespacesToJoin(pid: number): NamespaceType[] {
  const out: NamespaceType[] = [];
  for (const [type, file] of NS_FILES) {
    let theirs: string;
    try {
      theirs = fs.readlinkSync(`/proc/${pid}/ns/${file}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // kernel without this namespace type
      // e.g. EACCES: a created container's init is not dumpable until it execs
      throw new ContainerError(`cannot read the namespaces of the container's init (pid ${pid}): ${(e as Error).message}`);
    }
    if (theirs !== fs.readlinkSync(`/proc/self/ns/${file}`)) out.push(type);
  }
  return out;
}

function parseUser(text: string): { uid: number; gid?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new ConfigError([`--user: "${text}" is not uid[:gid] (numeric ids)`]);
  return m[2] !== undefined ? { uid: Number(m[1]), gid: Number(m[2]) } : { uid: Number(m[1]) };
}

/** Whether the init's user namespace denies setgroups (a rootless single-id map): exec can't set groups there either. */
function setgroupsDenied(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/setgroups`, "utf8").trim() === "deny";
  } catch {
    return false;
  }
}

/** The exec'd process: from --process, or the container's own process with the flags applied (as runc). */
export function execProcess(rec: ContainerRecord, o: ExecOverrides): Process {
  const base = rec.spec?.process;
  let proc: Process;
  if (o.processFile) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(o.processFile, "utf8"));
    } catch (e) {
      throw new ConfigError([`--process ${o.processFile}: ${(e as Error).message}`]);
    }
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError([`--process ${o.processFile}: must hold a JSON object (a config.json's process)`]);
    proc = raw as Process;
    // runc's defaults for what a process file may leave out, then the same checks as config.json's process
    proc.user ??= { uid: 0, gid: 0 };
    proc.cwd ??= "/";
    const problems = validateProcess(proc);
    if (problems.length) throw new ConfigError(problems.map((p) => `--process ${o.processFile}: ${p}`));
  } else {
    if (!o.args?.length) throw new ConfigError(["exec: the command to run is required (or --process FILE)"]);
    proc = {
      ...(base ? structuredClone(base) : { user: { uid: 0, gid: 0 }, cwd: "/" }),
      args: o.args,
      terminal: false,
    };
  }
  if (o.tty !== undefined) proc.terminal = o.tty;
  if (o.cwd) proc.cwd = o.cwd;
  if (o.env?.length) proc.env = [...(proc.env ?? []), ...o.env];
  if (o.user) {
    const u = parseUser(o.user);
    proc.user = { ...proc.user, uid: u.uid, gid: u.gid ?? proc.user.gid };
  }
  if (o.additionalGids?.length) proc.user = { ...proc.user, additionalGids: o.additionalGids };
  if (o.noNewPrivs) proc.noNewPrivileges = true;
  if (o.apparmor) proc.apparmorProfile = o.apparmor;
  if (o.processLabel) proc.selinuxLabel = o.processLabel;
  if (o.caps?.length) {
    for (const c of o.caps) if (!(c.toUpperCase() in CAPABILITIES)) throw new ConfigError([`--cap: "${c}" is not a capability (expected a name like CAP_NET_ADMIN)`]);
    const caps = { ...(proc.capabilities ?? {}) };
    for (const set of ["bounding", "effective", "permitted", "ambient", "inheritable"] as const) {
      if (set === "inheritable" && !caps.inheritable) continue;
      caps[set] = [...new Set([...(caps[set] ?? []), ...o.caps.map((c) => c.toUpperCase())])];
    }
    proc.capabilities = caps;
  }
  if (!proc.cwd.startsWith("/")) throw new ConfigError([`process.cwd: must be an absolute path (got "${proc.cwd}")`]);
  return proc;
}

/**
 * The cgroups an exec'd process joins: the container's, except on cgroup v2 when its directory
 * refuses processes: a container's own manager (systemd) moves its init into a leaf
 * (init.scope) and enables controllers for the children, after which cgroup v2 refuses new
 * processes in the container's directory itself (EBUSY). Then the init's own cgroup, when it is
 * below the container's, as runc falls back.
 */
export function execCgroupDirs(
  paths: Record<string, string>,
  initPid: number,
  procCgroup = (pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, "utf8"),
  subtreeControl = (dir: string) => fs.readFileSync(`${dir}/cgroup.subtree_control`, "utf8"),
): Record<string, string> {
  const unified = paths.unified;
  if (unified === undefined) return paths;
  // only when the container's directory refuses processes: controllers enabled for children
  try {
    if (subtreeControl(unified).trim() === "") return paths;
  } catch {
    return paths;
  }
  let rel: string | undefined;
  try {
    rel = procCgroup(initPid).split("\n").find((l) => l.startsWith("0::"))?.slice(3).trim();
  } catch {
    return paths; // the init is gone: the launcher reports it
  }
  if (!rel || rel === "/") return paths;
  // `unified` is the cgroup2 mount point followed by the container's path in the hierarchy,
  // of which the init's path is the same or a descendant
  for (let i = unified.indexOf("/", 1); i > 0; i = unified.indexOf("/", i + 1)) {
    const own = unified.slice(i);
    if (rel === own) return paths;
    if (rel.startsWith(`${own}/`)) return { ...paths, unified: unified.slice(0, i) + rel };
  }
  return paths;
}

/**
 * runc's `exec --cgroup`: the process runs in existing sub-cgroups of the container's. Each
 * argument is `<path>` (every hierarchy) or `<controller>[,<controller>…]:<path>` (those v1
 * hierarchies; "unified" names the cgroup2 one of a hybrid host). On a cgroup2-only host there
 * is one hierarchy, so no controller is named. Paths stay below the container's cgroup.
 */
export function subCgroupDirs(paths: Record<string, string>, layout: string, args: readonly string[], exists: (dir: string) => boolean = fs.existsSync): Record<string, string> {
  // as runc's getSubCgroupPaths: one path for every hierarchy, and paths per controller over it
  let generic: string | undefined;
  const specific = new Map<string, string>();
  for (const arg of args) {
    const colon = arg.indexOf(":");
    const controllers = colon < 0 ? [] : arg.slice(0, colon).split(",");
    const sub = (colon < 0 ? arg : arg.slice(colon + 1)).split("/").filter((p) => p !== "" && p !== ".");
    if (sub.length === 0 || sub.includes("..")) throw new ContainerError(`--cgroup ${JSON.stringify(arg)}: expected [<controller>:]<path> naming a sub-cgroup below the container's (no "..")`);
    if (controllers.some((c) => c === "")) throw new ContainerError(`--cgroup ${JSON.stringify(arg)}: an empty controller name`);
    if (layout === "v2" && controllers.length > 0) throw new ContainerError(`--cgroup ${JSON.stringify(arg)}: cgroup v2 has one hierarchy for every controller: give the path alone`);
    if (controllers.length === 0) {
      if (generic !== undefined) throw new ContainerError(`--cgroup ${JSON.stringify(arg)}: a path for every controller was given already`);
      generic = sub.join("/");
    }
    for (const c of controllers) {
      if (paths[c] === undefined) throw new ContainerError(`--cgroup ${JSON.stringify(arg)}: the container has no ${c} cgroup (it has: ${Object.keys(paths).sort().join(", ")})`);
      if (specific.has(c)) throw new ContainerError(`--cgroup ${JSON.stringify(arg)}: a second path for ${c}`);
      specific.set(c, sub.join("/"));
    }
  }
  // controllers mounted together (cpu,cpuacct) share a directory: a path for one is for all of them
  const byDir = new Map<string, string>();
  for (const [c, sub] of specific) {
    const dir = paths[c]!;
    const other = byDir.get(dir);
    if (other !== undefined && other !== sub) throw new ContainerError(`--cgroup: ${c} shares its hierarchy with another controller given another path (${other} and ${sub})`);
    byDir.set(dir, sub);
  }
  const out = { ...paths };
  for (const [key, dir] of Object.entries(paths)) {
    const sub = byDir.get(dir) ?? generic;
    if (sub === undefined) continue;
    const target = `${dir}/${sub}`;
    if (!exists(target)) throw new ContainerError(`--cgroup: ${target} does not exist (the sub-cgroup must be made first)`);
    out[key] = target;
  }
  return out;
}

/** Runs the process; in the foreground returns its exit code, detached returns 0 once it runs. */
export async function exec(req: ExecRequest, warn: (msg: string) => void = () => {}): Promise<number> {
  const rec = readRecord(req.root, req.id);
  const cg = cgroupsFromRecord(rec.cgroup);
  const status = liveStatus(req.root, rec, cg ? () => cg.isFrozen() : undefined);
  if (status === "paused" && !req.ignorePaused) throw new ContainerError(`cannot exec in a paused container ${req.id} (use --ignore-paused)`);
  if (status !== "running" && status !== "created" && status !== "paused") throw new ContainerError(`cannot exec in a ${status} container ${req.id}`);
  if (req.subCgroups?.length && !cg) throw new ContainerError(`--cgroup: container ${req.id} has no cgroups (rootless without a delegated subtree)`);
  const known = capabilitiesForKernel(execProcess(rec, req.overrides));
  for (const w of known.warnings) warn(w);
  const proc = known.proc;
  if (proc.terminal && !req.consoleSocket && req.detach) throw new ConfigError(["--tty: cannot allocate a terminal for a detached process without --console-socket"]);
  if (!proc.terminal && req.consoleSocket) throw new ConfigError(["--console-socket: given, but no terminal was asked for (--tty)"]);
  const seccomp = await compileContainerSeccomp(rec.spec?.linux?.seccomp, warn);
  const securityErrors: string[] = lsmProblems(proc, undefined);
  const landlock = parseLandlock(rec.spec?.annotations, securityErrors);
  if (landlock && proc.noNewPrivileges !== true && !proc.capabilities?.effective?.includes("CAP_SYS_ADMIN"))
    securityErrors.push("exec: the container has a Landlock policy, which the kernel applies only with no_new_privs (--no-new-privs) or CAP_SYS_ADMIN");
  if (securityErrors.length) throw new ConfigError(securityErrors);
  const plan = compileExecPlan(proc, {
    initPid: rec.pid,
    namespaces: namespacesToJoin(rec.pid),
    setgroupsDenied: setgroupsDenied(rec.pid),
    cgroupDirs: cg ? (req.subCgroups?.length ? subCgroupDirs(cg.record.paths, cg.record.layout, req.subCgroups) : execCgroupDirs(cg.record.paths, rec.pid)) : {},
    preserveFds: req.preserveFds ?? 0,
    ...(seccomp ? { seccomp: seccompPlan(seccomp)! } : {}),
    ...(landlock ? { landlock } : {}),
    ...(proc.terminal ? { console: req.consoleSocket ? { socket: req.consoleSocket } : { relay: true as const } } : {}),
  });
  let execPid = 0;
  const launched = await launch({
    plan,
    foreground: !req.detach,
    preserveFds: req.preserveFds ?? 0,
    handlers: {
      onPid(pid) {
        execPid = pid;
        if (req.pidFile) {
          const tmp = `${req.pidFile}.${process.pid}.tmp`;
          fs.writeFileSync(tmp, String(pid));
          fs.renameSync(tmp, req.pidFile);
        }
      },
      onSync: async (name) => (name === SECCOMP_LISTENER_SYNC ? listenerState(seccomp, execPid, ociState(rec, status)) : ""),
      onReady: async () => {},
    },
  });
  if (req.detach) return 0;
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(launched.pid, sig);
    } catch {
      // exited
    }
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;
  for (const s of signals) process.on(s, forward);
  try {
    return await launched.exit;
  } finally {
    for (const s of signals) process.off(s, forward);
  }
}
