/**
 * `create`: validate the bundle, make the state dir and cgroups, compile the plan and run the
 * launcher up to a created container. Loaded only by the verbs that create (container.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, parseSpec, validateId } from "../oci/validate.ts";
import type { Spec } from "../oci/types.ts";
import { bindSource, compilePlan, SECCOMP_LISTENER_SYNC, type HostFacts, type LaunchPlan } from "../plan/compile.ts";
import { cgroupsFor, resourceProblems, type ContainerCgroups } from "./cgroups.ts";
import { runHooks } from "./hooks.ts";
import { compileContainerSeccomp, listenerState, seccompPlan } from "./seccomp.ts";
import { landlockOfSpec } from "../oci/landlock.ts";
import { lsmProblems } from "./lsm.ts";
import { callerFacts, checkRootless } from "./rootless.ts";
import { launch, startLauncher, type StartedLauncher } from "./launch.ts";
import {
  ContainerError,
  OCI_VERSION,
  containerDir,
  createContainerDir,
  execFifoPath,
  killAndWait,
  ociState,
  procStat,
  writeRecord,
  type ContainerRecord,
} from "./state.ts";
import { debug, debugging, phaseClock, warn } from "./warn.ts";
import { capabilitiesForKernel } from "./caps.ts";

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** of preserveFds, the first ones are systemd's listening sockets (set by createContainer) */
  listenFds?: number;
}

export function loadSpec(bundle: string): Spec {
  const file = path.join(bundle, "config.json");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError([`${file}: not found (expected the bundle's config.json; create one with "isola-runtime spec")`]);
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`${file}: not valid JSON (${(e as Error).message})`]);
  }
  return parseSpec(raw);
}

/** Host facts the plan compiler needs; cheap reads only. */
export function hostFacts(spec: Spec, bundle: string): HostFacts {
  const sourceKinds: HostFacts["sourceKinds"] = {};
  for (const m of spec.mounts ?? []) {
    const src = bindSource(m, bundle);
    if (src === undefined) continue;
    try {
      sourceKinds[src] = fs.statSync(src).isDirectory() ? "dir" : "file";
    } catch {
      sourceKinds[src] = "missing";
    }
  }
  const lines = fs.readFileSync("/proc/self/cgroup", "utf8").trim().split("\n");
  const v1 = lines.map((l) => l.split(":")[1] ?? "").filter((c) => c !== "");
  const hasUnified = lines.some((l) => l.startsWith("0::"));
  const cgroupLayout = v1.length === 0 ? "v2" : hasUnified && fs.existsSync("/sys/fs/cgroup/unified") ? "hybrid" : "v1";
  const caller = callerFacts();
  return { sourceKinds, cgroupLayout, cgroupV1Hierarchies: v1, ...(caller ? { caller } : {}), detachedMounts: kernelAtLeast(5, 12) };
}

/** Whether the running kernel's version is at least major.minor (/proc/sys/kernel/osrelease). */
function kernelAtLeast(major: number, minor: number): boolean {
  try {
    const m = /^(\d+)\.(\d+)/.exec(fs.readFileSync("/proc/sys/kernel/osrelease", "utf8"));
    if (!m) return false;
    const [a, b] = [Number(m[1]), Number(m[2])];
    return a > major || (a === major && b >= minor);
  } catch {
    return false;
  }
}

function resolveRootfs(spec: Spec, bundle: string): string {
  const p = spec.root?.path ?? "";
  const rootfs = path.resolve(bundle, p);
  let st: fs.Stats;
  try {
    st = fs.statSync(rootfs);
  } catch {
    throw new ConfigError([`root.path: ${rootfs} does not exist (expected the container's root filesystem directory)`]);
  }
  if (!st.isDirectory()) throw new ConfigError([`root.path: ${rootfs} is not a directory`]);
  return fs.realpathSync(rootfs);
}

function writePidFile(file: string, pid: number) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, file);
}

export interface Created {
  rec: ContainerRecord;
  spec: Spec;
  /** foreground runs: the init's exit code */
  exit: Promise<number>;
}

/**
 * Socket activation, as runc does it: when systemd (or anything speaking its protocol) handed
 * us listening sockets — LISTEN_FDS=n and LISTEN_PID=our pid — fds 3..3+n-1 go to the
 * container first, before the --preserve-fds ones, and its process gets LISTEN_FDS=n and
 * LISTEN_PID=1 (it is pid 1 of its pid namespace). Zero when not activated.
 */
export function listenFds(env: Record<string, string | undefined> = process.env, pid = process.pid): number {
  const n = Number(env.LISTEN_FDS);
  if (!env.LISTEN_FDS || !Number.isInteger(n) || n <= 0) return 0;
  return Number(env.LISTEN_PID) === pid ? n : 0;
}

export async function createContainer(opts: CreateOptions, foreground: boolean): Promise<Created> {
  const idProblem = validateId(opts.id);
  if (idProblem) throw new ContainerError(idProblem);
  const listen = listenFds();
  if (listen > 0) opts = { ...opts, preserveFds: listen + (opts.preserveFds ?? 0), listenFds: listen };
  // The launcher's exec overlaps our own set-up; it waits for its plan, and exits at once
  // if it never gets one.
  const started = startLauncher({ foreground, preserveFds: opts.preserveFds ?? 0 });
  try {
    return await createWith(opts, foreground, started);
  } catch (e) {
    started.cancel();
    throw e;
  }
}

async function createWith(opts: CreateOptions, foreground: boolean, started: StartedLauncher): Promise<Created> {
  const clock = debugging() ? phaseClock() : undefined;
  const bundle = path.resolve(opts.bundle);
  const spec = loadSpec(bundle);
  if (spec.process) {
    const known = capabilitiesForKernel(spec.process);
    for (const w of known.warnings) warn(w);
    spec.process = known.proc;
  }
  clock?.mark("config");
  const rootfs = resolveRootfs(spec, bundle);
  if (spec.process?.terminal && !opts.consoleSocket && !foreground)
    throw new ConfigError(["process.terminal: cannot allocate a terminal for a detached container without --console-socket"]);
  if (!spec.process?.terminal && opts.consoleSocket)
    throw new ConfigError(["--console-socket: given, but process.terminal is false (no terminal to send)"]);
  const resourceErrors = resourceProblems(spec);
  if (resourceErrors.length) throw new ConfigError(resourceErrors);
  const joinedMapErrors = joinedUsernsMapProblems(spec);
  if (joinedMapErrors.length) throw new ConfigError(joinedMapErrors);
  const seccomp = await compileContainerSeccomp(spec.linux?.seccomp, warn);
  const securityErrors: string[] = lsmProblems(spec.process, spec.linux);
  const landlock = landlockOfSpec(spec, securityErrors);
  if (securityErrors.length) throw new ConfigError(securityErrors);
  clock?.mark("checks+seccomp");
  const facts = hostFacts(spec, bundle);
  checkRootless(spec, facts.caller);
  if (fs.existsSync(containerDir(opts.root, opts.id))) throw new ContainerError(`container with id ${opts.id} already exists`);

  // Nothing on the host changes before this line; from here every failure undoes what was made.
  createContainerDir(opts.root, opts.id);
  const rec: ContainerRecord = {
    ociVersion: OCI_VERSION,
    id: opts.id,
    pid: 0,
    status: "creating",
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: "",
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
    ownPidNamespace: (spec.linux?.namespaces ?? []).some((n) => n.type === "pid" && !n.path),
    spec,
  };
  let cgroups: ContainerCgroups | undefined;
  let hooksBegan = false;
  try {
    writeRecord(opts.root, rec);
    clock?.mark("host facts+state");
    cgroups = cgroupsFor(spec, opts.id, warn);
    if (cgroups) {
      // recorded at once: a runtime killed from here on leaves cgroups that delete --force must find
      rec.cgroup = cgroups.record;
      writeRecord(opts.root, rec);
    }
    clock?.mark("cgroups");
    // the container's process learns about activation sockets as runc tells it
    const planSpec = opts.listenFds ? { ...spec, process: { ...spec.process!, env: [...(spec.process?.env ?? []), `LISTEN_FDS=${opts.listenFds}`, "LISTEN_PID=1"] } } : spec;
    const plan = compilePlan(planSpec, {
      id: opts.id,
      bundle,
      rootfs,
      execFifo: execFifoPath(opts.root, opts.id),
      noPivot: opts.noPivot ?? false,
      noNewKeyring: opts.noNewKeyring ?? false,
      preserveFds: opts.preserveFds ?? 0,
      ...(cgroups ? { cgroupDirs: cgroups.record.paths } : {}),
      host: facts,
      ...(seccomp ? { seccomp: seccompPlan(seccomp)! } : {}),
      ...(landlock ? { landlock } : {}),
      ...(spec.process?.terminal ? { console: opts.consoleSocket ? { socket: opts.consoleSocket } : { relay: true as const } } : {}),
    });
    addFifoCreation(plan, execFifoPath(opts.root, opts.id));
    const released: Record<number, string> = {};
    plan.sections.INIT.forEach((st, i) => {
      if (st.origin.startsWith("hooks.startContainer[")) released[i] = st.origin;
    });
    if (Object.keys(released).length) rec.releasedSteps = released;
    clock?.mark("plan");
    const launched = await launch({
      started,
      plan,
      foreground,
      preserveFds: opts.preserveFds ?? 0,
      handlers: {
        onPid(pid) {
          rec.pid = pid;
          const st = procStat(pid);
          if (st) rec.pidStartTime = st.startTime;
          writeRecord(opts.root, rec);
        },
        async onSync(name) {
          const state = ociState(rec, "creating");
          if (name === SECCOMP_LISTENER_SYNC) return listenerState(seccomp, rec.pid, state);
          hooksBegan = true;
          await runHooks("prestart", spec.hooks?.prestart, state);
          await runHooks("createRuntime", spec.hooks?.createRuntime, state);
          // the hooks the init runs see its pid in its own namespace (as runc's init, getpid):
          // createContainer while "creating", startContainer once "created"
          const nsPid = namespacePid(rec.pid);
          return `${JSON.stringify({ ...state, pid: nsPid })}\0${JSON.stringify({ ...state, status: "created", pid: nsPid })}`;
        },
        async onReady() {
          rec.status = "created";
          writeRecord(opts.root, rec);
          if (opts.pidFile) writePidFile(opts.pidFile, rec.pid);
          if (clock) {
            clock.mark("launcher");
            debug(`create ${opts.id}: ${clock.line()}`);
          }
        },
      },
    });
    return { rec, spec, exit: launched.exit };
  } catch (e) {
    if (rec.pid) killAndWait(rec.pid);
    // the spec: a create that fails after its hooks began goes on as a deletion would, poststop included
    if (hooksBegan) await runHooks("poststop", spec.hooks?.poststop, ociState(rec, "stopped"), warn);
    cgroups?.destroy();
    fs.rmSync(containerDir(opts.root, opts.id), { recursive: true, force: true });
    if (opts.pidFile) fs.rmSync(opts.pidFile, { force: true });
    throw e;
  }
}

/**
 * A user namespace joined by path comes with its own maps; mappings in the config as well (a
 * pod's next member, as containerd writes them) must be those maps, as runc 1.2 checks: they
 * can't be applied to a namespace that exists, so a difference is refused rather than ignored.
 */
function joinedUsernsMapProblems(spec: Spec): string[] {
  const user = spec.linux?.namespaces?.find((n) => n.type === "user");
  if (!user?.path || (spec.linux?.uidMappings === undefined && spec.linux?.gidMappings === undefined)) return [];
  let maps: { uid: string; gid: string };
  const owner = /^\/proc\/(\d+)\/ns\/user$/.exec(user.path);
  try {
    if (owner) {
      maps = { uid: fs.readFileSync(`/proc/${owner[1]}/uid_map`, "utf8"), gid: fs.readFileSync(`/proc/${owner[1]}/gid_map`, "utf8") };
    } else {
      // a namespace file bound elsewhere: read from a process inside it, keeping our ids (its
      // maps need not map 0), one map per read
      const read = (file: string) => {
        const r = Bun.spawnSync(["nsenter", `--user=${user.path}`, "--preserve-credentials", "--", "cat", file], { stdout: "pipe", stderr: "pipe" });
        if (r.exitCode !== 0) throw new Error(r.stderr.toString().trim() || `nsenter exited with status ${r.exitCode}`);
        return r.stdout.toString();
      };
      maps = { uid: read("/proc/self/uid_map"), gid: read("/proc/self/gid_map") };
    }
  } catch (e) {
    return [`linux.namespaces: cannot read the maps of the user namespace at ${user.path}: ${(e as Error).message}`];
  }
  const parse = (text: string) =>
    text.trim().split("\n").filter((l) => l.trim() !== "").map((l) => l.trim().split(/\s+/).map(Number)).map(([c, h, n]) => `${c} ${h} ${n}`).sort();
  const want = (list: { containerID: number; hostID: number; size: number }[] | undefined) => (list ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}`).sort();
  const problems: string[] = [];
  for (const [key, text] of [["uidMappings", maps.uid], ["gidMappings", maps.gid]] as const) {
    const given = spec.linux?.[key];
    if (given === undefined) continue;
    const have = parse(text);
    if (want(given).join(",") !== have.join(","))
      problems.push(`linux.${key}: ${JSON.stringify(given)} are not the maps of the user namespace joined at ${user.path} (${have.join(", ") || "none"}); give those or leave the mappings out`);
  }
  return problems;
}

/** A process's pid in its own pid namespace (the last NSpid of /proc/<pid>/status). */
function namespacePid(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("NSpid:"));
  const last = line?.trim().split(/\s+/).pop();
  return last !== undefined && /^\d+$/.test(last) ? Number(last) : pid;
}

function addFifoCreation(plan: LaunchPlan, fifo: string) {
  const pre = plan.sections.PRE;
  const at = pre.findIndex((s) => s.step === "OPEN_EXEC_FIFO");
  pre.splice(at, 0, { step: "MKFIFO", args: [fifo, 0o622], origin: "exec fifo" });
}

