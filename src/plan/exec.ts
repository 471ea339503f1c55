/**
 * Compiles the launch plan of `exec`: a new process that joins every namespace
 * and the cgroups of a running container, then gets the container's (or the
 * given) user, capabilities, no_new_privs and seccomp. Pure.
 */
import { RLIMITS } from "../oci/rlimits.ts";
import type { NamespaceType, Process } from "../oci/types.ts";
import type { LandlockPolicy } from "../oci/landlock.ts";
import { LANDLOCK_ANNOTATION } from "../oci/landlock.ts";
import {
  addCgroupJoinSteps, addJoinSteps, addConsoleConnect, addConsoleSetup, addExecStep, addIdentitySteps, addLandlockRuleset, addListenerConnect, addListenerState, addLookupStep, Builder,
  JOIN_ORDER, SECCOMP_LISTENER_SYNC, type ConsoleTarget, type LaunchPlan, type SeccompPlan,
} from "./compile.ts";

export interface ExecOptions {
  /** host pid of the container's init, whose namespaces are joined */
  initPid: number;
  /** namespaces to join: those the container doesn't share with the runtime's host */
  namespaces: NamespaceType[];
  /** the container's cgroup directories (record.paths), joined as create joins them */
  cgroupDirs: Record<string, string>;
  preserveFds?: number;
  seccomp?: SeccompPlan;
  /** the container's org.isola.landlock policy: exec'd processes get it too */
  landlock?: LandlockPolicy;
  console?: ConsoleTarget;
  /** the container's user namespace has setgroups "deny" (a rootless single-id map): no SETGROUPS */
  setgroupsDenied?: boolean;
}

const NS_FILE: Record<NamespaceType, string> = {
  ipc: "ipc",
  uts: "uts",
  network: "net",
  pid: "pid",
  cgroup: "cgroup",
  time: "time",
  mount: "mnt",
  user: "user",
};

export function compileExecPlan(proc: Process, opts: ExecOptions): LaunchPlan {
  const b = new Builder();
  const ns = (t: NamespaceType) => `/proc/${opts.initPid}/ns/${NS_FILE[t]}`;
  addCgroupJoinSteps(b, opts.cgroupDirs, "cgroup");
  if (proc.oomScoreAdj !== undefined) b.add("PRE", "WRITE_FILE", ["/proc/self/oom_score_adj", String(proc.oomScoreAdj)], "process.oomScoreAdj");
  addConsoleConnect(b, proc.terminal === true, opts.console);
  addListenerConnect(b, opts.seccomp);

  // stage 2 is forked not dumpable (until its execve): the container's processes can't open
  // its /proc/<pid>/fd or exe while it is the launcher
  b.add("STAGE1", "DUMPABLE", [0], "runtime");
  // with the container's user namespace in runc's three passes: it may also share host-owned
  // namespaces (a pod's netns), which only our own privileges can join
  const others = JOIN_ORDER.filter((t) => opts.namespaces.includes(t)).map((t) => ({ path: ns(t), type: t }));
  const user = opts.namespaces.includes("user") ? { path: ns("user"), origin: "user namespace" } : undefined;
  addJoinSteps(b, others, user, (t) => `${t} namespace`);

  b.add("INIT", "SETSID", [], "process");
  if (proc.terminal) addConsoleSetup(b, proc.consoleSize);
  (proc.rlimits ?? []).forEach((r, i) => b.add("INIT", "RLIMIT", [RLIMITS[r.type] ?? -1, BigInt(r.soft), BigInt(r.hard)], `process.rlimits[${i}]`));
  if (proc.user.umask !== undefined) b.add("INIT", "UMASK", [proc.user.umask], "process.user.umask");
  b.add("INIT", "CLOSE_FDS_FROM", [3 + (opts.preserveFds ?? 0)], "--preserve-fds");
  const syncs = addListenerState(b, opts.seccomp) ? [SECCOMP_LISTENER_SYNC] : [];
  addLandlockRuleset(b, opts.landlock);
  const nnp = proc.noNewPrivileges === true;
  if (opts.seccomp && !nnp) b.add("INIT", "SECCOMP", [opts.seccomp.flags, opts.seccomp.program], "linux.seccomp");
  addIdentitySteps(b, proc, { cwd: proc.cwd, setgroupsDenied: opts.setgroupsDenied ?? false });
  addLookupStep(b, proc);
  b.add("INIT", "READY", [], "process");
  if (opts.landlock) b.add("INIT", "LANDLOCK_RESTRICT", [], `annotations["${LANDLOCK_ANNOTATION}"]`);
  if (opts.seccomp && nnp) b.add("INIT", "SECCOMP", [opts.seccomp.flags, opts.seccomp.program], "linux.seccomp");
  addExecStep(b, proc);
  return { cloneFlags: 0, sections: b.sections, syncs };
}
