/**
 * The launch-plan vocabulary shared with the C launcher. This file is the single
 * source of truth: `native/plan_steps.h` is generated from it (scripts/gen-header.ts)
 * and a test fails when the two drift apart.
 *
 * A plan has four sections, run by the launcher's fixed process skeleton:
 *   PRE    stage 0 (the launcher itself, host context) before it clones stage 1
 *   PARENT stage 0 after the clone (e.g. writing the child's id maps)
 *   STAGE1 stage 1: joins and unshares namespaces, then forks stage 2
 *   INIT   stage 2: the container's init, from mounts to exec
 * Steps run in order; each names its arguments in `STEP_ARGS` (documentation and
 * the encoder's arity check).
 */

export const PLAN_MAGIC = 0x504f5349; // "ISOP" little-endian
export const PLAN_VERSION = 2;

export const Section = {
  PRE: 0,
  PARENT: 1,
  STAGE1: 2,
  INIT: 3,
} as const;
export type SectionName = keyof typeof Section;

export const Step = {
  /**
   * move into a cgroup v1 directory: write "0" (the calling thread, the launcher's only one)
   * to its tasks file. Unlike a pid in cgroup.procs this takes no threadgroup lock, so it does
   * not wait for an RCU grace period (≈10 ms) (tasksPath)
   */
  JOIN_CGROUP: 1,
  /** setns(open(path), nstype) */
  SETNS: 2,
  /** write a file (path, content) */
  WRITE_FILE: 3,
  /** open the exec fifo O_PATH and keep it for WAIT_EXEC_FIFO (path) */
  OPEN_EXEC_FIFO: 4,
  /** write /proc/<child>/<name> (name, content) */
  WRITE_CHILD_FILE: 5,
  /** run a helper with "{pid}" replaced by the child's pid and wait (argv...) */
  RUN_CHILD_HELPER: 6,
  /** unshare(flags) */
  UNSHARE: 7,
  /** setsid() */
  SETSID: 8,
  /** mount(source, target, fstype, flags, data) with absolute host paths */
  MOUNT: 9,
  /** mount onto a destination resolved inside root (root, source, dest, fstype, flags, data, create, srcInRoot) */
  MOUNT_IN_ROOT: 10,
  /** change propagation / remount of a destination resolved inside root (root, dest, flags, data) */
  REMOUNT_IN_ROOT: 11,
  /** mknod inside root (root, dest, mode, major, minor, uid, gid) */
  MKNOD_IN_ROOT: 12,
  /** symlink inside root (root, target, linkpath) */
  SYMLINK_IN_ROOT: 13,
  /** pivot_root(root) and detach the old root */
  PIVOT_ROOT: 14,
  /** MS_MOVE root onto / and chroot (the --no-pivot path) (root) */
  MOVE_ROOT: 15,
  /** mask a path: /dev/null over a file, read-only tmpfs over a directory (path) */
  MASK_PATH: 16,
  /** bind a path onto itself read-only (path) */
  READONLY_PATH: 17,
  /** sethostname(name) */
  SETHOSTNAME: 18,
  /** setdomainname(name) */
  SETDOMAINNAME: 19,
  /** send a sync request to the runtime and wait for its reply, kept as hook state (name) */
  SYNC: 20,
  /** run a hook with the last sync reply on stdin (path, timeoutMs, argc, argv..., env...) */
  RUN_HOOK: 21,
  /** setrlimit(resource, soft, hard) */
  RLIMIT: 22,
  /** umask(mask) */
  UMASK: 23,
  /** chdir(path), creating it first when create != 0 (path, create) */
  CHDIR: 24,
  /** join a new anonymous session keyring (name) */
  SESSION_KEYRING: 25,
  /** setgroups(gids...) */
  SETGROUPS: 26,
  /** setresgid(gid) */
  SETGID: 27,
  /** setresuid(uid) keeping capabilities for CAPS (uid) */
  SETUID: 28,
  /** capability sets as bit masks, applied after SETUID (effective, permitted, inheritable, ambient) */
  CAPS: 29,
  /** prctl(PR_SET_NO_NEW_PRIVS) */
  NO_NEW_PRIVS: 30,
  /** install a seccomp filter (flags, bpf bytes) */
  SECCOMP: 31,
  /** mark every fd >= from close-on-exec (from) */
  CLOSE_FDS_FROM: 32,
  /** look the program up in PATH inside the container now, so create fails early (arg0, PATH) */
  LOOKUP_EXEC: 33,
  /** tell the runtime we are ready and wait for its acknowledgement */
  READY: 34,
  /** block until `start` opens the exec fifo, and keep it open for writing (EXEC_FIFO_RELEASE) */
  WAIT_EXEC_FIFO: 35,
  /** execve(resolved program, argv..., env...) (argc, argv..., env...) */
  EXEC: 36,
  /** prctl(PR_SET_PDEATHSIG, sig) */
  PDEATHSIG: 37,
  /** mkdir -p of a path inside root (root, dest, mode) */
  MKDIR_IN_ROOT: 38,
  /** prctl(PR_SET_DUMPABLE, value) */
  DUMPABLE: 39,
  /** write a file that is allowed to be missing (path, content) */
  WRITE_FILE_OPTIONAL: 40,
  /** drop every capability not in the bounding mask (needs CAP_SETPCAP: before SETUID) (mask) */
  CAPS_BOUNDING: 41,
  /** mkfifo(path, mode) on the host, replacing a stale one (path, mode) */
  MKFIFO: 42,
  /** connect to the console socket (runc's --console-socket) and keep it for CONSOLE_SETUP (path) */
  CONSOLE_CONNECT: 43,
  /** a socketpair whose far end stage 0 keeps to relay the terminal itself (foreground runs) */
  CONSOLE_PAIR: 44,
  /** open a pty in the container, send its master over the console socket, make the slave our stdio and ctty (rows, cols) */
  CONSOLE_SETUP: 45,
  /** bring the loopback interface of the (new) network namespace up (no arguments) */
  LOOPBACK_UP: 46,
  /** create a user namespace with these maps (by a short-lived child) and keep its fd in a slot (slot, uidMap, gidMap) */
  USERNS_FD: 47,
  /** open_tree(OPEN_TREE_CLONE) a host path into a detached mount kept in a slot (slot, path, recursive) */
  OPEN_TREE: 48,
  /** mount_setattr(MOUNT_ATTR_IDMAP) on the detached mount in slot with the user namespace in usernsSlot (slot, usernsSlot, recursive) */
  IDMAP_TREE: 49,
  /** move_mount the detached mount in slot onto a destination resolved inside root (root, slot, dest, create) */
  MOVE_MOUNT_IN_ROOT: 50,
  /** MOUNT_IN_ROOT, then copy what the destination held underneath into the new mount (tmpcopyup) (root, source, dest, fstype, flags, data, create) */
  MOUNT_COPYUP_IN_ROOT: 51,
  /** connect to the seccomp listener's unix socket (host path) and keep it for SECCOMP (path) */
  SECCOMP_LISTENER_CONNECT: 52,
  /** send a sync request; the reply is the state JSON sent with the listener fd, not hook state (name) */
  SECCOMP_LISTENER_STATE: 53,
  /** landlock_create_ruleset handling these filesystem rights, masked to the kernel's ABI (handledFs) */
  LANDLOCK_RULESET: 54,
  /** open a path (inside the container) O_PATH and allow these rights beneath it (path, access) */
  LANDLOCK_RULE: 55,
  /** landlock_restrict_self with the ruleset, then close it (no arguments) */
  LANDLOCK_RESTRICT: 56,
  /** clone stage 1 straight into this cgroup v2 directory (clone3 CLONE_INTO_CGROUP; a cgroup.procs write where the kernel lacks it) (dir) */
  CLONE_INTO_CGROUP: 57,
  /** stage 0 runs PARENT only when stage 1 asks (REQUEST_PARENT), not right after the clone (no arguments) */
  PARENT_ON_REQUEST: 58,
  /** ask stage 0 to run PARENT now (the id maps of the user namespace just made) and wait for it (no arguments) */
  REQUEST_PARENT: 59,
  /** setns, or keep it for SETNS_PENDING when not permitted yet (EPERM: owned by a user namespace not joined yet) (path, nstype) */
  SETNS_LENIENT: 60,
  /** the SETNS_LENIENT joins that were not permitted, again, now strictly (no arguments) */
  SETNS_PENDING: 61,
  /** MOUNT_IN_ROOT; when the kernel refuses it (EPERM), an rbind of a host path with the same flags instead (root, source, dest, fstype, flags, data, create, bindSource) */
  MOUNT_OR_BIND_IN_ROOT: 62,
  /** open a namespace file now and join it in SETNS_PENDING, after the ones kept before it (path, nstype) */
  SETNS_DEFER: 63,
  /** write the byte `start` waits for to the exec fifo and close it; from WAIT_EXEC_FIFO to here a failure is written there instead (no arguments) */
  EXEC_FIFO_RELEASE: 64,
  /** the following hooks get this part of the last sync reply (its states are NUL-separated) on stdin (index) */
  HOOK_STATE: 65,
  /** mount_setattr(AT_RECURSIVE) on a destination resolved inside root: the recursive mount options (root, dest, attrSet, attrClr) */
  SETATTR_IN_ROOT: 66,
  /** a bind made detached (open_tree of source, or the tree in slot when slot >= 0), its flags set (mount_setattr), attached at dest resolved inside root, then each propagation through its fd (root, slot, source, dest, recursive, create, attrSet, attrClr, recAttrSet, recAttrClr, propagation...) */
  ATTACH_TREE_IN_ROOT: 67,
  /** a new filesystem made detached (fsopen, one fsconfig per data option, fsmount), filled from dest when copyup (tmpcopyup), flagged, attached at dest resolved inside root, then each propagation through its fd (root, source, dest, fstype, create, attrSet, attrClr, copyup, data, recAttrSet, recAttrClr, propagation...) */
  FS_IN_ROOT: 68,
} as const;
export type StepName = keyof typeof Step;

/** Argument names per step, in order; "..." marks a variadic tail. */
export const STEP_ARGS: Record<StepName, readonly string[]> = {
  JOIN_CGROUP: ["tasksPath"],
  SETNS: ["path", "nstype"],
  WRITE_FILE: ["path", "content"],
  OPEN_EXEC_FIFO: ["path"],
  WRITE_CHILD_FILE: ["name", "content"],
  RUN_CHILD_HELPER: ["argv..."],
  UNSHARE: ["flags"],
  SETSID: [],
  MOUNT: ["source", "target", "fstype", "flags", "data"],
  MOUNT_IN_ROOT: ["root", "source", "dest", "fstype", "flags", "data", "create"],
  REMOUNT_IN_ROOT: ["root", "dest", "flags", "data"],
  MKNOD_IN_ROOT: ["root", "dest", "mode", "major", "minor", "uid", "gid"],
  SYMLINK_IN_ROOT: ["root", "target", "linkpath"],
  PIVOT_ROOT: ["root"],
  MOVE_ROOT: ["root"],
  MASK_PATH: ["path"],
  READONLY_PATH: ["path"],
  SETHOSTNAME: ["name"],
  SETDOMAINNAME: ["name"],
  SYNC: ["name"],
  RUN_HOOK: ["path", "timeoutMs", "argc", "argv+env..."],
  RLIMIT: ["resource", "soft", "hard"],
  UMASK: ["mask"],
  CHDIR: ["path", "create"],
  SESSION_KEYRING: ["name"],
  SETGROUPS: ["gids..."],
  SETGID: ["gid"],
  SETUID: ["uid"],
  CAPS: ["effective", "permitted", "inheritable", "ambient"],
  NO_NEW_PRIVS: [],
  SECCOMP: ["flags", "bpf"],
  CLOSE_FDS_FROM: ["from"],
  LOOKUP_EXEC: ["arg0", "path"],
  READY: [],
  WAIT_EXEC_FIFO: [],
  EXEC: ["argc", "argv+env..."],
  PDEATHSIG: ["signal"],
  MKDIR_IN_ROOT: ["root", "dest", "mode"],
  DUMPABLE: ["value"],
  WRITE_FILE_OPTIONAL: ["path", "content"],
  CAPS_BOUNDING: ["mask"],
  MKFIFO: ["path", "mode"],
  CONSOLE_CONNECT: ["path"],
  CONSOLE_PAIR: [],
  CONSOLE_SETUP: ["rows", "cols"],
  LOOPBACK_UP: [],
  USERNS_FD: ["slot", "uidMap", "gidMap"],
  OPEN_TREE: ["slot", "path", "recursive"],
  IDMAP_TREE: ["slot", "usernsSlot", "recursive"],
  MOVE_MOUNT_IN_ROOT: ["root", "slot", "dest", "create"],
  MOUNT_COPYUP_IN_ROOT: ["root", "source", "dest", "fstype", "flags", "data", "create"],
  SECCOMP_LISTENER_CONNECT: ["path"],
  SECCOMP_LISTENER_STATE: ["name"],
  LANDLOCK_RULESET: ["handledFs"],
  LANDLOCK_RULE: ["path", "access"],
  LANDLOCK_RESTRICT: [],
  CLONE_INTO_CGROUP: ["dir"],
  PARENT_ON_REQUEST: [],
  REQUEST_PARENT: [],
  SETNS_LENIENT: ["path", "nstype"],
  SETNS_PENDING: [],
  MOUNT_OR_BIND_IN_ROOT: ["root", "source", "dest", "fstype", "flags", "data", "create", "bindSource"],
  SETNS_DEFER: ["path", "nstype"],
  EXEC_FIFO_RELEASE: [],
  HOOK_STATE: ["index"],
  SETATTR_IN_ROOT: ["root", "dest", "attrSet", "attrClr"],
  ATTACH_TREE_IN_ROOT: ["root", "slot", "source", "dest", "recursive", "create", "attrSet", "attrClr", "recAttrSet", "recAttrClr", "propagation..."],
  FS_IN_ROOT: ["root", "source", "dest", "fstype", "create", "attrSet", "attrClr", "copyup", "data", "recAttrSet", "recAttrClr", "propagation..."],
};

/** What MOUNT_IN_ROOT creates at a missing destination. */
export const Create = { NONE: 0, DIR: 1, FILE: 2 } as const;

/** Argument kinds on the wire. */
export const ArgKind = { INT: 0, BYTES: 1 } as const;

/** Messages from the launcher to the runtime (and the runtime's replies). */
export const Msg = {
  /** payload: "section index errno message" */
  ERROR: 1,
  /** payload: decimal pid of the container init (host view) */
  PID: 2,
  /** payload: sync point name; the runtime answers SYNC_REPLY */
  SYNC: 3,
  SYNC_REPLY: 4,
  /** container init is set up and waits for ACK before waiting on the exec fifo */
  READY: 5,
  ACK: 6,
  /** payload: decimal wait status of the container init (foreground runs) */
  EXIT: 7,
  /** the runtime failed: abort and kill everything */
  ABORT: 8,
  /** stage 1 → stage 0 (internal): run the PARENT section now; answered with ACK */
  RUN_PARENT: 9,
} as const;
export type MsgName = keyof typeof Msg;
