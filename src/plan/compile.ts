/**
 * Compiles a validated OCI spec into a launch plan: the ordered steps the C
 * launcher executes. Pure and deterministic; every decision (order, flags,
 * which devices, which paths are masked) is made here. Each step remembers the
 * config field it comes from, so a failing step becomes an error naming it.
 */
import { capabilityMask } from "../oci/capabilities.ts";
import { LANDLOCK_ANNOTATION, type LandlockPolicy } from "../oci/landlock.ts";
import { RLIMITS } from "../oci/rlimits.ts";
import type { Hook, Mount, NamespaceType, Process, Spec } from "../oci/types.ts";
import { bindMountAttrs, MS, parseMountOptions, propagationFlags, superblockFlagOptions } from "./mountopts.ts";
import { Create, type SectionName, type StepName } from "./steps.ts";

export type PlanArg = number | bigint | string | Uint8Array;

export interface PlanStep {
  step: StepName;
  args: PlanArg[];
  /** the config field this step implements, e.g. "mounts[2]" */
  origin: string;
}

export interface LaunchPlan {
  cloneFlags: number;
  sections: Record<SectionName, PlanStep[]>;
  /** sync points the runtime must answer, in order */
  syncs: string[];
}

/** What the runtime learned about the host for this plan (the compiler itself touches nothing). */
export interface HostFacts {
  /** kind of each bind-mount source, keyed by the absolute source path */
  sourceKinds: Record<string, "dir" | "file" | "missing">;
  cgroupLayout: "v1" | "v2" | "hybrid";
  /** v1 hierarchies as in /proc/self/cgroup, e.g. "cpu,cpuacct", "name=systemd" */
  cgroupV1Hierarchies: string[];
  /** who runs the runtime; absent means root (with every privilege over id maps) */
  caller?: CallerFacts;
  /** the kernel has open_tree, move_mount and mount_setattr (5.12+): binds are made detached */
  detachedMounts?: boolean;
}

/** An unprivileged caller: what it may write into a new user namespace's maps. */
export interface CallerFacts {
  uid: number;
  gid: number;
  /** setuid helpers from Debian's uidmap, when installed */
  newuidmap?: string;
  newgidmap?: string;
}

export interface CompileOptions {
  id: string;
  bundle: string;
  /** absolute path of the rootfs */
  rootfs: string;
  execFifo: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  /**
   * The container's own cgroup directories on the host, keyed by controller ("memory",
   * "name=systemd", "unified"): the launcher joins them before it creates namespaces, and
   * without a cgroup namespace a v1 "cgroup" mount binds these, as runc does, instead of
   * showing the host's whole hierarchy.
   */
  cgroupDirs?: Record<string, string>;
  /** a compiled seccomp filter, when linux.seccomp is set */
  seccomp?: SeccompPlan;
  /** the org.isola.landlock policy, when annotated */
  landlock?: LandlockPolicy;
  /** process.terminal: where the pty master goes (a console socket, or relayed by the launcher) */
  console?: ConsoleTarget;
  host: HostFacts;
}

export type ConsoleTarget = { socket: string } | { relay: true };

/** A compiled filter; listenerPath when a rule uses SCMP_ACT_NOTIFY (flags then hold NEW_LISTENER). */
export interface SeccompPlan {
  flags: number;
  program: Uint8Array;
  listenerPath?: string;
}

/** The sync point whose reply is the state JSON sent to the seccomp listener. */
export const SECCOMP_LISTENER_SYNC = "seccompListener";

export class PlanError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "PlanError";
  }
}

export const CLONE = {
  NEWTIME: 0x80,
  NEWNS: 0x20000,
  NEWCGROUP: 0x2000000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const NAMESPACE_FLAGS: Record<NamespaceType, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** The devices every container gets (runc's list). */
export const DEFAULT_DEVICES = [
  { path: "/dev/null", major: 1, minor: 3 },
  { path: "/dev/zero", major: 1, minor: 5 },
  { path: "/dev/full", major: 1, minor: 7 },
  { path: "/dev/random", major: 1, minor: 8 },
  { path: "/dev/urandom", major: 1, minor: 9 },
  { path: "/dev/tty", major: 5, minor: 0 },
] as const;

const DEV_SYMLINKS: [string, string][] = [
  ["/proc/self/fd", "/dev/fd"],
  ["/proc/self/fd/0", "/dev/stdin"],
  ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"],
];

export class Builder {
  readonly sections: Record<SectionName, PlanStep[]> = { PRE: [], PARENT: [], STAGE1: [], INIT: [] };
  add(section: SectionName, step: StepName, args: PlanArg[], origin: string) {
    this.sections[section].push({ step, args, origin });
  }
}

function hookArgs(hook: Hook): PlanArg[] {
  const argv = hook.args && hook.args.length ? hook.args : [hook.path];
  return [hook.path, (hook.timeout ?? 0) * 1000, argv.length, ...argv, ...(hook.env ?? [])];
}

function containerPath(p: string): string {
  // normalise "a//b/../c" inside the container without touching the host
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

function joinHost(base: string, p: string): string {
  if (p.startsWith("/")) return p;
  return `${base.replace(/\/+$/, "")}/${p}`;
}

/** Resolves a mount's host source the way the spec says: bind sources relative to the bundle. */
export function bindSource(mount: Mount, bundle: string): string | undefined {
  const opts = parseMountOptions(mount.options, mount.type);
  if (!opts.bind) return undefined;
  return joinHost(bundle, mount.source ?? "");
}

export function compilePlan(spec: Spec, opts: CompileOptions): LaunchPlan {
  const b = new Builder();
  const linux = spec.linux ?? {};
  const process = spec.process;
  if (!process) throw new PlanError("process", "required to create a container");
  const namespaces = new Map((linux.namespaces ?? []).map((n) => [n.type, n]));
  const isNew = (t: NamespaceType) => namespaces.has(t) && !namespaces.get(t)?.path;
  const newUser = isNew("user");
  const inUserNs = namespaces.has("user");
  const newMount = isNew("mount");
  const syncs: string[] = [];
  const rootfs = opts.rootfs;
  if (!newMount) throw new PlanError("linux.namespaces", `a new mount namespace is required for a private root filesystem (add {"type":"mount"})`);

  // ---- stage 0, before the clone ----
  addCgroupJoinSteps(b, opts.cgroupDirs ?? {}, "linux.cgroupsPath");
  const userNs = namespaces.get("user");
  if (process.oomScoreAdj !== undefined)
    b.add("PRE", "WRITE_FILE", ["/proc/self/oom_score_adj", String(process.oomScoreAdj)], "process.oomScoreAdj");
  b.add("PRE", "OPEN_EXEC_FIFO", [opts.execFifo], "exec fifo");
  addConsoleConnect(b, process.terminal === true, opts.console);
  addListenerConnect(b, opts.seccomp);

  // ---- stage 0 after the clone: id maps of a new user namespace ----
  // With namespaces joined by path as well, stage 1 joins them first, while it still has the
  // privileges of the caller's user namespace that owns them, and only then makes the new
  // user namespace (unshare) and asks stage 0 for its maps: runc's order. Otherwise the user
  // namespace comes with the clone.
  const joined = JOIN_ORDER.filter((t) => namespaces.get(t)?.path).map((t) => ({ path: namespaces.get(t)!.path!, type: t }));
  const lateUser = newUser && joined.length > 0;
  let cloneFlags = 0;
  let setgroupsDenied = false;
  if (newUser) {
    if (lateUser) b.add("PRE", "PARENT_ON_REQUEST", [], "linux.namespaces[user]");
    else cloneFlags |= CLONE.NEWUSER;
    addIdMap(b, "uid", linux.uidMappings ?? [], opts.host.caller);
    setgroupsDenied = addIdMap(b, "gid", linux.gidMappings ?? [], opts.host.caller);
  }

  // ---- stage 1: join namespaces, become root of the user namespace, create the rest ----
  // A user namespace joined by path comes with the joins (see addJoinSteps); a new one after
  // them (lateUser) or, without joins, from the clone.
  const joinedUser = !newUser && userNs?.path ? { path: userNs.path, origin: "linux.namespaces[user].path" } : undefined;
  addJoinSteps(b, joined, joinedUser, (t) => `linux.namespaces[${t}].path`);
  if (lateUser) {
    b.add("STAGE1", "UNSHARE", [CLONE.NEWUSER], "linux.namespaces[user]");
    b.add("STAGE1", "REQUEST_PARENT", [], "linux.uidMappings");
  }
  if (newUser) {
    const mapsRoot = (maps: { containerID: number; size: number }[] | undefined) =>
      (maps ?? []).some((m) => m.containerID === 0 && m.size > 0);
    if (mapsRoot(linux.gidMappings)) b.add("STAGE1", "SETGID", [0], "linux.gidMappings");
    if (mapsRoot(linux.uidMappings)) b.add("STAGE1", "SETUID", [0], "linux.uidMappings");
  } else if (joinedUser) {
    // Our host ids are unmapped there (files we create would fail with EOVERFLOW); become its
    // root, as runc does. Its maps must cover 0.
    b.add("STAGE1", "SETGID", [0], joinedUser.origin);
    b.add("STAGE1", "SETUID", [0], joinedUser.origin);
  }
  let unshareFlags = 0;
  for (const t of ["mount", "uts", "ipc", "network", "pid", "cgroup", "time"] as NamespaceType[])
    if (isNew(t)) unshareFlags |= NAMESPACE_FLAGS[t];
  if (unshareFlags) b.add("STAGE1", "UNSHARE", [unshareFlags], "linux.namespaces");
  if (linux.timeOffsets) {
    const lines = Object.entries(linux.timeOffsets)
      .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
      .join("");
    if (lines) b.add("STAGE1", "WRITE_FILE", ["/proc/self/timens_offsets", lines], "linux.timeOffsets");
  }

  // ---- stage 2: the container init ----
  // Not dumpable until its execve (which resets it): other processes in the container can't
  // open the init's /proc/<pid>/fd (host fds such as the exec fifo) or exe (CVE-2019-5736,
  // CVE-2024-21626). Not earlier: stage 0 writes stage 1's id maps through /proc.
  b.add("INIT", "DUMPABLE", [0], "runtime");
  b.add("INIT", "SETSID", [], "process");
  // runc brings a new network namespace's loopback up; nothing else is configured here
  if (isNew("network")) b.add("INIT", "LOOPBACK_UP", [], "linux.namespaces[network]");
  const rootProp = linux.rootfsPropagation ? propagationFlags(linux.rootfsPropagation) : undefined;
  const initialProp = rootProp !== undefined && (rootProp & MS.PRIVATE) ? rootProp : MS.SLAVE | MS.REC;
  b.add("INIT", "MOUNT", ["", "/", "", initialProp, ""], "linux.rootfsPropagation");
  b.add("INIT", "MOUNT", [rootfs, rootfs, "", MS.BIND | MS.REC, ""], "root.path");

  const mounts = spec.mounts ?? [];
  const idmap: IdmapContext = { steps: [], nextSlot: 0, ...(newUser ? { uidMappings: linux.uidMappings ?? [], gidMappings: linux.gidMappings ?? [] } : {}) };
  mounts.forEach((m, i) => compileMount(b, m, `mounts[${i}]`, opts, { newUser, inUserNs, newCgroup: isNew("cgroup"), newNet: isNew("network"), foreignIpc: newUser && !!namespaces.get("ipc")?.path, idmap }));
  // Idmapped trees are made first in stage 0, while it is still in the initial user namespace.
  b.sections.PRE.unshift(...idmap.steps);

  const devBound = mounts.some((m) => containerPath(m.destination) === "/dev" && parseMountOptions(m.options, m.type).bind);
  if (!devBound) compileDevices(b, spec, rootfs, inUserNs);

  const hooks = spec.hooks ?? {};
  const needsState = ["prestart", "createRuntime", "createContainer", "startContainer"].some(
    (k) => (hooks[k as keyof typeof hooks] ?? []).length > 0,
  );
  if (needsState) {
    b.add("INIT", "SYNC", ["createRuntime"], "hooks.createRuntime");
    syncs.push("createRuntime");
  }
  (hooks.createContainer ?? []).forEach((h, i) => b.add("INIT", "RUN_HOOK", hookArgs(h), `hooks.createContainer[${i}]`));

  const cwd = containerPath(process.cwd);
  if (cwd !== "/") b.add("INIT", "MKDIR_IN_ROOT", [rootfs, cwd, 0o755], "process.cwd");
  if (opts.noPivot) b.add("INIT", "MOVE_ROOT", [rootfs], "--no-pivot");
  else b.add("INIT", "PIVOT_ROOT", [rootfs], "root.path");
  if (rootProp !== undefined && !(rootProp & MS.PRIVATE))
    b.add("INIT", "MOUNT", ["", "/", "", rootProp, ""], "linux.rootfsPropagation");

  for (const [key, value] of Object.entries(linux.sysctl ?? {}))
    b.add("INIT", "WRITE_FILE", [`/proc/sys/${key.replace(/\./g, "/")}`, value], `linux.sysctl.${key}`);
  (linux.readonlyPaths ?? []).forEach((p, i) => b.add("INIT", "READONLY_PATH", [p], `linux.readonlyPaths[${i}]`));
  (linux.maskedPaths ?? []).forEach((p, i) => b.add("INIT", "MASK_PATH", [p], `linux.maskedPaths[${i}]`));
  if (spec.root?.readonly)
    b.add("INIT", "REMOUNT_IN_ROOT", ["/", "/", MS.BIND | MS.REMOUNT | MS.RDONLY, ""], "root.readonly");
  if (process.terminal) addConsoleSetup(b, process.consoleSize);
  if (spec.hostname) b.add("INIT", "SETHOSTNAME", [spec.hostname], "hostname");
  if (spec.domainname) b.add("INIT", "SETDOMAINNAME", [spec.domainname], "domainname");

  // ---- the process ----
  (process.rlimits ?? []).forEach((r, i) =>
    b.add("INIT", "RLIMIT", [RLIMITS[r.type] ?? -1, BigInt(r.soft), BigInt(r.hard)], `process.rlimits[${i}]`),
  );
  if (!opts.noNewKeyring) b.add("INIT", "SESSION_KEYRING", [`_ses.${opts.id}`], "--no-new-keyring");
  b.add("INIT", "UMASK", [process.user.umask ?? 0o022], "process.user.umask");
  b.add("INIT", "CLOSE_FDS_FROM", [3 + (opts.preserveFds ?? 0)], "--preserve-fds");
  if (addListenerState(b, opts.seccomp)) syncs.push(SECCOMP_LISTENER_SYNC);
  addLandlockRuleset(b, opts.landlock);

  const nnp = process.noNewPrivileges === true;
  const seccompStep = opts.seccomp ? () => b.add("INIT", "SECCOMP", [opts.seccomp!.flags, opts.seccomp!.program], "linux.seccomp") : undefined;
  // Without no_new_privs installing a filter needs CAP_SYS_ADMIN: do it before dropping privileges.
  if (seccompStep && !nnp) seccompStep();

  addIdentitySteps(b, process, { cwd, setgroupsDenied });
  addLookupStep(b, process);
  b.add("INIT", "READY", [], "process");
  b.add("INIT", "WAIT_EXEC_FIFO", [], "start");
  // startContainer hooks see the second state of the createRuntime sync reply ("created", the
  // init's pid in its namespace), and run before `start` learns it worked: a failure is its error
  if (hooks.startContainer?.length) b.add("INIT", "HOOK_STATE", [1], "hooks.startContainer");
  (hooks.startContainer ?? []).forEach((h, i) => b.add("INIT", "RUN_HOOK", hookArgs(h), `hooks.startContainer[${i}]`));
  b.add("INIT", "EXEC_FIFO_RELEASE", [], "start");
  if (opts.landlock) b.add("INIT", "LANDLOCK_RESTRICT", [], `annotations["${LANDLOCK_ANNOTATION}"]`);
  if (seccompStep && nnp) seccompStep();
  addExecStep(b, process);

  return { cloneFlags, sections: b.sections, syncs };
}

/** The order in which stage 1 joins namespaces by path (the mount namespace last). */
export const JOIN_ORDER: NamespaceType[] = ["ipc", "uts", "network", "pid", "cgroup", "time", "mount"];

/**
 * Stage 1 joins namespaces by path (in JOIN_ORDER). Together with a user namespace joined by
 * path, in runc's three passes: every other namespace our privileges allow (SETNS_LENIENT
 * keeps those refused with EPERM), the user namespace, then the refused ones again
 * (SETNS_PENDING). Shared by create and exec.
 */
export function addJoinSteps(b: Builder, others: { path: string; type: NamespaceType }[], user: { path: string; origin: string } | undefined, origin: (t: NamespaceType) => string) {
  if (!user) {
    for (const ns of others) b.add("STAGE1", "SETNS", [ns.path, NAMESPACE_FLAGS[ns.type]], origin(ns.type));
    return;
  }
  // The mount namespace is joined last of all (once in it, /proc/<pid>/ns/... would be looked up
  // in the container's /proc; it is owned by the container's user namespace anyway), but its
  // file is opened before the user namespace, while we can still open a non-dumpable init's.
  const early = others.filter((ns) => ns.type !== "mount");
  for (const ns of early) b.add("STAGE1", "SETNS_LENIENT", [ns.path, NAMESPACE_FLAGS[ns.type]], origin(ns.type));
  for (const ns of others) if (ns.type === "mount") b.add("STAGE1", "SETNS_DEFER", [ns.path, NAMESPACE_FLAGS.mount], origin(ns.type));
  b.add("STAGE1", "SETNS", [user.path, CLONE.NEWUSER], user.origin);
  if (others.length) b.add("STAGE1", "SETNS_PENDING", [], "linux.namespaces");
}

/**
 * Into the container's cgroups before stage 1 is cloned (so every later process is born in
 * them, and a new cgroup namespace is rooted there), without the ≈10 ms RCU grace period a
 * pid written to cgroup.procs costs (cgroup_threadgroup_rwsem): stage 0, single-threaded,
 * moves itself into each v1 hierarchy through its tasks file, and stage 1 is cloned straight
 * into the cgroup v2 directory (CLONE_INTO_CGROUP). Shared by create and exec.
 */
export function addCgroupJoinSteps(b: Builder, dirs: Record<string, string>, origin: string) {
  const v1 = new Set(Object.entries(dirs).filter(([key]) => key !== "unified").map(([, dir]) => dir));
  for (const dir of v1) b.add("PRE", "JOIN_CGROUP", [`${dir}/tasks`], origin);
  if (dirs.unified !== undefined) b.add("PRE", "CLONE_INTO_CGROUP", [dirs.unified], origin);
}

/**
 * Who the process is: supplementary groups (exactly additionalGids: no host groups leak
 * in), bounding set, gid, uid, capability sets, cwd, no_new_privs. Shared by create and exec.
 */
export function addIdentitySteps(b: Builder, proc: Process, opts: { cwd: string; setgroupsDenied?: boolean }) {
  const caps = proc.capabilities;
  const additionalGids = proc.user.additionalGids ?? [];
  if (opts.setgroupsDenied && additionalGids.length)
    throw new PlanError("process.user.additionalGids", "can't be set: the user namespace maps only your own gid, so the kernel denies setgroups (map gids from /etc/subgid with newgidmap to use groups)");
  if (!opts.setgroupsDenied) b.add("INIT", "SETGROUPS", [...additionalGids], "process.user.additionalGids");
  if (caps) b.add("INIT", "CAPS_BOUNDING", [capabilityMask(caps.bounding)], "process.capabilities.bounding");
  b.add("INIT", "SETGID", [proc.user.gid], "process.user.gid");
  b.add("INIT", "SETUID", [proc.user.uid], "process.user.uid");
  if (caps) {
    const permitted = capabilityMask(caps.permitted);
    const inheritable = capabilityMask(caps.inheritable);
    // The kernel raises an ambient capability only when it is permitted and inheritable;
    // like runc, others listed as ambient are left out rather than failing the start.
    const ambient = capabilityMask(caps.ambient) & permitted & inheritable;
    b.add("INIT", "CAPS", [capabilityMask(caps.effective), permitted, inheritable, ambient], "process.capabilities");
  } else if (proc.user.uid !== 0) b.add("INIT", "CAPS", [0n, 0n, 0n, 0n], "process.capabilities");
  b.add("INIT", "CHDIR", [opts.cwd, 0], "process.cwd");
  if (proc.noNewPrivileges === true) b.add("INIT", "NO_NEW_PRIVS", [], "process.noNewPrivileges");
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Resolves the program in the container's PATH before READY, so a missing one fails create/exec. */
export function addLookupStep(b: Builder, proc: Process) {
  const pathEnv = (proc.env ?? []).filter((e) => e.startsWith("PATH=")).pop()?.slice(5) ?? DEFAULT_PATH;
  b.add("INIT", "LOOKUP_EXEC", [proc.args?.[0] ?? "", pathEnv], "process.args[0]");
}

export function addExecStep(b: Builder, proc: Process) {
  const args = proc.args ?? [];
  b.add("INIT", "EXEC", [args.length, ...args, ...(proc.env ?? [])], "process.args");
}

/** Stage 0 connects to the console socket (or makes the relay pair) while it can still reach host paths. */
export function addConsoleConnect(b: Builder, terminal: boolean, target: ConsoleTarget | undefined) {
  if (!terminal) return;
  if (!target) throw new PlanError("process.terminal", "true needs a console socket (--console-socket) unless the runtime stays in the foreground");
  if ("socket" in target) b.add("PRE", "CONSOLE_CONNECT", [target.socket], "--console-socket");
  else b.add("PRE", "CONSOLE_PAIR", [], "process.terminal");
}

/** Stage 0 connects to the seccomp listener while it can still reach host paths. */
export function addListenerConnect(b: Builder, seccomp: SeccompPlan | undefined) {
  if (seccomp?.listenerPath !== undefined) b.add("PRE", "SECCOMP_LISTENER_CONNECT", [seccomp.listenerPath], "linux.seccomp.listenerPath");
}

/** Before READY (the channel closes there) the runtime answers with the state the listener gets. */
export function addListenerState(b: Builder, seccomp: SeccompPlan | undefined): boolean {
  if (seccomp?.listenerPath === undefined) return false;
  b.add("INIT", "SECCOMP_LISTENER_STATE", [SECCOMP_LISTENER_SYNC], "linux.seccomp.listenerPath");
  return true;
}

/**
 * Landlock (isola extension): the ruleset and its rules are made before READY, so a bad path
 * fails create; paths are opened inside the container. LANDLOCK_RESTRICT applies it just before exec.
 */
export function addLandlockRuleset(b: Builder, policy: LandlockPolicy | undefined) {
  if (!policy) return;
  const F = `annotations["${LANDLOCK_ANNOTATION}"]`;
  b.add("INIT", "LANDLOCK_RULESET", [policy.handled], `${F}.handled`);
  policy.rules.forEach((r, i) => b.add("INIT", "LANDLOCK_RULE", [r.path, r.access], `${F}.rules[${i}]`));
}

/** The init opens its pty inside the container (its own devpts) and hands the master over. */
export function addConsoleSetup(b: Builder, size: { height: number; width: number } | undefined) {
  b.add("INIT", "CONSOLE_SETUP", [size?.height ?? 0, size?.width ?? 0], "process.terminal");
}

type IdMapping = { containerID: number; hostID: number; size: number };

/**
 * Writes a new user namespace's uid or gid map from stage 0. Root writes it directly;
 * an unprivileged caller may write only its own id (and, for gids, must deny setgroups
 * first, as the kernel requires), anything else goes through newuidmap/newgidmap,
 * which check /etc/subuid and /etc/subgid. Returns whether setgroups ends up denied.
 */
function addIdMap(b: Builder, kind: "uid" | "gid", maps: IdMapping[], caller: CallerFacts | undefined): boolean {
  const origin = `linux.${kind}Mappings`;
  const text = maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
  if (!caller || caller.uid === 0) {
    b.add("PARENT", "WRITE_CHILD_FILE", [`${kind}_map`, text], origin);
    return false;
  }
  const own = kind === "uid" ? caller.uid : caller.gid;
  const only = maps[0];
  if (maps.length === 1 && only && only.size === 1 && only.hostID === own) {
    if (kind === "gid") b.add("PARENT", "WRITE_CHILD_FILE", ["setgroups", "deny"], origin);
    b.add("PARENT", "WRITE_CHILD_FILE", [`${kind}_map`, text], origin);
    return kind === "gid";
  }
  const helper = kind === "uid" ? caller.newuidmap : caller.newgidmap;
  if (!helper)
    throw new PlanError(origin, `mapping more than your own ${kind} ${own} without root needs new${kind}map (Debian package uidmap); or map only your own id: [{"containerID":0,"hostID":${own},"size":1}]`);
  b.add("PARENT", "RUN_CHILD_HELPER", [helper, "{pid}", ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])], origin);
  return false;
}

/** Idmapped mounts: their stage-0 steps and the launcher fd slots they use. */
interface IdmapContext {
  steps: PlanStep[];
  nextSlot: number;
  /** the container's own mappings, the default for "idmap" without mount mappings */
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

interface NsContext {
  idmap: IdmapContext;
  newUser: boolean;
  inUserNs: boolean;
  newCgroup: boolean;
  newNet: boolean;
  /** a new user namespace joins an ipc namespace by path: it can never own that one */
  foreignIpc: boolean;
}

function compileMount(b: Builder, m: Mount, origin: string, opts: CompileOptions, ns: NsContext) {
  const dest = containerPath(m.destination);
  const parsed = parseMountOptions(m.options, m.type);
  if (!parsed.bind && (parsed.idmap || m.uidMappings || m.gidMappings))
    throw new PlanError(`${origin}.options`, "idmapped mounts are supported for bind mounts only (add \"rbind\" or \"bind\")");
  if (m.type === "mqueue" && ns.foreignIpc)
    throw new PlanError(
      `${origin}.type`,
      "mqueue can't be mounted: a new user namespace never owns the ipc namespace it joins by path, and the kernel mounts mqueue only for the owner's root (drop the mount, or join the user namespace that owns the ipc namespace)",
    );
  const root = opts.rootfs;
  const propagate = () => {
    for (const p of parsed.propagation) b.add("INIT", "REMOUNT_IN_ROOT", [root, dest, p, ""], origin);
    // the recursive options last, as runc applies them: to this mount and every one below it
    if (parsed.recAttrSet || parsed.recAttrClr) b.add("INIT", "SETATTR_IN_ROOT", [root, dest, parsed.recAttrSet, parsed.recAttrClr], origin);
  };

  if (parsed.bind) {
    const source = joinHost(opts.bundle, m.source ?? "");
    const kind = opts.host.sourceKinds[source];
    if (!kind || kind === "missing") throw new PlanError(`${origin}.source`, `${source} does not exist (expected a file or directory to bind)`);
    const create = kind === "dir" ? Create.DIR : Create.FILE;
    const slot = compileIdmap(m, parsed, source, origin, opts, ns.idmap);
    if (opts.host.detachedMounts) {
      // made detached, flagged, attached, propagated through its own fd: nothing looks the
      // destination up again after the mount (a swapped destination can't redirect a remount)
      addAttachTree(b, origin, { root, dest, create, ...(slot !== undefined ? { slot } : { source }), recursive: (parsed.flags & MS.REC) !== 0, attrs: bindMountAttrs(parsed.remountFlags, parsed.clearedFlags), parsed });
      return;
    }
    if (slot !== undefined) b.add("INIT", "MOVE_MOUNT_IN_ROOT", [root, slot, dest, create], origin);
    else b.add("INIT", "MOUNT_IN_ROOT", [root, source, dest, "", MS.BIND | (parsed.flags & MS.REC), "", create], origin);
    if (parsed.remountFlags)
      b.add("INIT", "REMOUNT_IN_ROOT", [root, dest, MS.BIND | MS.REMOUNT | parsed.remountFlags, ""], origin);
    propagate();
    return;
  }

  const type = m.type ?? "";
  if (type === "" && !(parsed.flags & MS.REMOUNT)) throw new PlanError(`${origin}.type`, "required for a mount that is not a bind mount");
  if (type === "cgroup") {
    compileCgroupMount(b, m, dest, parsed.flags, origin, opts, ns);
    propagate();
    return;
  }
  if (type === "sysfs" && ns.newUser && !ns.newNet) {
    // sysfs can't be mounted from a user namespace that doesn't own the network namespace: bind the host's.
    if (opts.host.detachedMounts) {
      addAttachTree(b, origin, { root, dest, create: Create.DIR, source: "/sys", recursive: true, attrs: bindMountAttrs(parsed.flags & ~MS.REC, parsed.clearedFlags), parsed });
      return;
    }
    b.add("INIT", "MOUNT_IN_ROOT", [root, "/sys", dest, "", MS.BIND | MS.REC, "", Create.DIR], origin);
    if (parsed.flags & ~MS.REC) b.add("INIT", "REMOUNT_IN_ROOT", [root, dest, MS.BIND | MS.REMOUNT | (parsed.flags & ~MS.REC), ""], origin);
    propagate();
    return;
  }
  if (type === "sysfs" && ns.inUserNs && !ns.newUser && !ns.newNet) {
    // A joined user namespace and a joined network namespace: whether the one owns the other
    // shows only when mounting (a pod's own netns: yes; one the host made: no); bind the
    // host's /sys when the kernel refuses, as runc does.
    b.add("INIT", "MOUNT_OR_BIND_IN_ROOT", [root, m.source ?? type, dest, type, parsed.flags, parsed.data, Create.DIR, "/sys"], origin);
    propagate();
    return;
  }
  if (type === "tmpfs" && opts.host.detachedMounts && !(parsed.flags & MS.REMOUNT)) {
    // made detached, filled (tmpcopyup), flagged, attached, propagated through its own fd
    const attrs = bindMountAttrs(parsed.flags, parsed.clearedFlags);
    const data = [parsed.data, ...superblockFlagOptions(parsed.flags)].filter((d) => d !== "").join(",");
    b.add("INIT", "FS_IN_ROOT", [root, m.source ?? type, dest, type, Create.DIR, attrs.set, attrs.clr, parsed.copyUp ? 1 : 0, data, parsed.recAttrSet, parsed.recAttrClr, ...parsed.propagation], origin);
    return;
  }
  const step = type === "tmpfs" && parsed.copyUp ? "MOUNT_COPYUP_IN_ROOT" : "MOUNT_IN_ROOT";
  b.add("INIT", step, [root, m.source ?? type, dest, type, parsed.flags, parsed.data, Create.DIR], origin);
  propagate();
}

/**
 * A bind made detached (ATTACH_TREE_IN_ROOT): cloned from `source` (or the idmapped tree in
 * `slot`), its own flags and then the recursive options set, attached at `dest`, then the
 * propagation of `parsed` changed through its fd.
 */
function addAttachTree(
  b: Builder,
  origin: string,
  t: { root: string; dest: string; create: number; slot?: number; source?: string; recursive: boolean; attrs: { set: number; clr: number }; parsed?: ReturnType<typeof parseMountOptions> },
) {
  const p = t.parsed;
  b.add("INIT", "ATTACH_TREE_IN_ROOT", [t.root, t.slot ?? -1, t.source ?? "", t.dest, t.recursive ? 1 : 0, t.create, t.attrs.set, t.attrs.clr, p?.recAttrSet ?? 0, p?.recAttrClr ?? 0, ...(p?.propagation ?? [])], origin);
}

/**
 * An idmapped bind mount (runtime-spec 1.2: mounts[].uidMappings/gidMappings, options
 * idmap/ridmap): stage 0 makes a user namespace with the mount's maps, clones the source
 * tree detached and idmaps it; the init moves it into place. Returns the tree's slot,
 * or undefined for a plain bind.
 */
function compileIdmap(m: Mount, parsed: ReturnType<typeof parseMountOptions>, source: string, origin: string, opts: CompileOptions, ctx: IdmapContext): number | undefined {
  const given = m.uidMappings !== undefined || m.gidMappings !== undefined;
  if (!given && !parsed.idmap) return undefined;
  if (given && (!m.uidMappings?.length || !m.gidMappings?.length))
    throw new PlanError(`${origin}.${m.uidMappings?.length ? "gidMappings" : "uidMappings"}`, "an idmapped mount needs both uidMappings and gidMappings");
  const uids = m.uidMappings?.length ? m.uidMappings : ctx.uidMappings;
  const gids = m.gidMappings?.length ? m.gidMappings : ctx.gidMappings;
  if (!uids?.length || !gids?.length)
    throw new PlanError(`${origin}.options`, `"idmap" without mount mappings uses the container's, which needs a new user namespace (or set ${origin}.uidMappings/gidMappings)`);
  if (opts.host.caller && opts.host.caller.uid !== 0)
    throw new PlanError(`${origin}.uidMappings`, "idmapped mounts need root: the kernel idmaps a host filesystem only for a caller privileged over it");
  const text = (list: IdMapping[]) => list.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join("");
  const userns = ctx.nextSlot++;
  const tree = ctx.nextSlot++;
  const recursive = (parsed.flags & MS.REC) !== 0 ? 1 : 0;
  ctx.steps.push(
    { step: "USERNS_FD", args: [userns, text(uids), text(gids)], origin },
    { step: "OPEN_TREE", args: [tree, source, recursive], origin },
    { step: "IDMAP_TREE", args: [tree, userns, parsed.recursiveIdmap ? 1 : 0], origin },
  );
  return tree;
}

function compileCgroupMount(b: Builder, m: Mount, dest: string, flags: number, origin: string, opts: CompileOptions, ns: NsContext) {
  const root = opts.rootfs;
  const host = opts.host;
  if (ns.inUserNs && (host.cgroupLayout !== "v2" || !ns.newCgroup)) {
    // From a user namespace the kernel mounts only cgroup2, and only with a cgroup namespace of its own: bind the host's.
    b.add("INIT", "MOUNT_IN_ROOT", [root, "/sys/fs/cgroup", dest, "", MS.BIND | MS.REC, "", Create.DIR], origin);
    b.add("INIT", "REMOUNT_IN_ROOT", [root, dest, MS.BIND | MS.REMOUNT | (flags & ~MS.REC), ""], origin);
    return;
  }
  if (host.cgroupLayout === "v2") {
    b.add("INIT", "MOUNT_IN_ROOT", [root, "cgroup2", dest, "cgroup2", flags, "", Create.DIR], origin);
    return;
  }
  const base = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  // Without a cgroup namespace a fresh v1 mount shows the host's whole hierarchy: bind the
  // container's own cgroup of each hierarchy instead (runc does the same).
  const own = (key: string) => (ns.newCgroup ? undefined : opts.cgroupDirs?.[key]);
  const bindOwn = (hostDir: string, at: string) => {
    if (host.detachedMounts) {
      // flagged (ro) before it is attached: a swapped destination can't leave it writable
      addAttachTree(b, origin, { root, dest: at, create: Create.DIR, source: hostDir, recursive: true, attrs: bindMountAttrs(flags & ~MS.REC) });
      return;
    }
    b.add("INIT", "MOUNT_IN_ROOT", [root, hostDir, at, "", MS.BIND | MS.REC, "", Create.DIR], origin);
    b.add("INIT", "REMOUNT_IN_ROOT", [root, at, MS.BIND | MS.REMOUNT | (flags & ~MS.REC), ""], origin);
  };
  b.add("INIT", "MOUNT_IN_ROOT", [root, "tmpfs", dest, "tmpfs", base, "mode=755", Create.DIR], origin);
  for (const h of host.cgroupV1Hierarchies) {
    const named = h.startsWith("name=");
    const dir = named ? h.slice(5) : h;
    const data = named ? `none,${h}` : h;
    const ownDir = own(named ? h : (h.split(",")[0] ?? h));
    if (ownDir) bindOwn(ownDir, `${dest}/${dir}`);
    else b.add("INIT", "MOUNT_IN_ROOT", [root, "cgroup", `${dest}/${dir}`, "cgroup", flags, data, Create.DIR], origin);
    if (!named && h.includes(","))
      for (const part of h.split(",")) b.add("INIT", "SYMLINK_IN_ROOT", [root, dir, `${dest}/${part}`], origin);
  }
  if (host.cgroupLayout === "hybrid") {
    const ownDir = own("unified");
    if (ownDir) bindOwn(ownDir, `${dest}/unified`);
    else b.add("INIT", "MOUNT_IN_ROOT", [root, "cgroup2", `${dest}/unified`, "cgroup2", flags, "", Create.DIR], origin);
  }
  if (flags & MS.RDONLY) b.add("INIT", "REMOUNT_IN_ROOT", [root, dest, MS.REMOUNT | MS.RDONLY | base, "mode=755"], origin);
}

function compileDevices(b: Builder, spec: Spec, root: string, inUserNs: boolean) {
  const devices = spec.linux?.devices ?? [];
  const custom = new Set(devices.map((d) => containerPath(d.path)));
  const all = [
    ...DEFAULT_DEVICES.filter((d) => !custom.has(d.path)).map((d) => ({
      origin: "default devices",
      path: d.path,
      type: "c" as const,
      major: d.major,
      minor: d.minor,
      fileMode: 0o666,
      uid: 0,
      gid: 0,
    })),
    ...devices.map((d, i) => ({
      origin: `linux.devices[${i}]`,
      path: containerPath(d.path),
      type: d.type,
      major: d.major ?? 0,
      minor: d.minor ?? 0,
      fileMode: d.fileMode ?? 0o666,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
    })),
  ];
  for (const d of all) {
    if (inUserNs) {
      // mknod is not allowed in a user namespace: bind the host's node instead, as runc does
      if (d.type === "p") throw new PlanError(d.origin, "a fifo device can't be created in a user namespace");
      b.add("INIT", "MOUNT_IN_ROOT", [root, d.path, d.path, "", MS.BIND, "", Create.FILE], d.origin);
      continue;
    }
    const typeBits = d.type === "b" ? S_IFBLK : d.type === "p" ? S_IFIFO : S_IFCHR;
    b.add("INIT", "MKNOD_IN_ROOT", [root, d.path, typeBits | (d.fileMode & 0o7777), d.major, d.minor, d.uid, d.gid], d.origin);
  }
  for (const [target, link] of DEV_SYMLINKS) b.add("INIT", "SYMLINK_IN_ROOT", [root, target, link], "default devices");
  if (!custom.has("/dev/ptmx")) {
    b.add("INIT", "MKDIR_IN_ROOT", [root, "/dev/pts", 0o755], "default devices");
    b.add("INIT", "SYMLINK_IN_ROOT", [root, "pts/ptmx", "/dev/ptmx"], "default devices");
  }
}
