/* Generated from src/plan/steps.ts by scripts/gen-header.ts. Do not edit. */
#ifndef ISOLA_PLAN_STEPS_H
#define ISOLA_PLAN_STEPS_H

#define PLAN_MAGIC 0x504f5349u
#define PLAN_VERSION 2

#define SECTION_PRE 0
#define SECTION_PARENT 1
#define SECTION_STAGE1 2
#define SECTION_INIT 3

#define SECTION_COUNT 4

#define STEP_JOIN_CGROUP 1 /* tasksPath */
#define STEP_SETNS 2 /* path, nstype */
#define STEP_WRITE_FILE 3 /* path, content */
#define STEP_OPEN_EXEC_FIFO 4 /* path */
#define STEP_WRITE_CHILD_FILE 5 /* name, content */
#define STEP_RUN_CHILD_HELPER 6 /* argv... */
#define STEP_UNSHARE 7 /* flags */
#define STEP_SETSID 8 /* no arguments */
#define STEP_MOUNT 9 /* source, target, fstype, flags, data */
#define STEP_MOUNT_IN_ROOT 10 /* root, source, dest, fstype, flags, data, create */
#define STEP_REMOUNT_IN_ROOT 11 /* root, dest, flags, data */
#define STEP_MKNOD_IN_ROOT 12 /* root, dest, mode, major, minor, uid, gid */
#define STEP_SYMLINK_IN_ROOT 13 /* root, target, linkpath */
#define STEP_PIVOT_ROOT 14 /* root */
#define STEP_MOVE_ROOT 15 /* root */
#define STEP_MASK_PATH 16 /* path */
#define STEP_READONLY_PATH 17 /* path */
#define STEP_SETHOSTNAME 18 /* name */
#define STEP_SETDOMAINNAME 19 /* name */
#define STEP_SYNC 20 /* name */
#define STEP_RUN_HOOK 21 /* path, timeoutMs, argc, argv+env... */
#define STEP_RLIMIT 22 /* resource, soft, hard */
#define STEP_UMASK 23 /* mask */
#define STEP_CHDIR 24 /* path, create */
#define STEP_SESSION_KEYRING 25 /* name */
#define STEP_SETGROUPS 26 /* gids... */
#define STEP_SETGID 27 /* gid */
#define STEP_SETUID 28 /* uid */
#define STEP_CAPS 29 /* effective, permitted, inheritable, ambient */
#define STEP_NO_NEW_PRIVS 30 /* no arguments */
#define STEP_SECCOMP 31 /* flags, bpf */
#define STEP_CLOSE_FDS_FROM 32 /* from */
#define STEP_LOOKUP_EXEC 33 /* arg0, path */
#define STEP_READY 34 /* no arguments */
#define STEP_WAIT_EXEC_FIFO 35 /* no arguments */
#define STEP_EXEC 36 /* argc, argv+env... */
#define STEP_PDEATHSIG 37 /* signal */
#define STEP_MKDIR_IN_ROOT 38 /* root, dest, mode */
#define STEP_DUMPABLE 39 /* value */
#define STEP_WRITE_FILE_OPTIONAL 40 /* path, content */
#define STEP_CAPS_BOUNDING 41 /* mask */
#define STEP_MKFIFO 42 /* path, mode */
#define STEP_CONSOLE_CONNECT 43 /* path */
#define STEP_CONSOLE_PAIR 44 /* no arguments */
#define STEP_CONSOLE_SETUP 45 /* rows, cols */
#define STEP_LOOPBACK_UP 46 /* no arguments */
#define STEP_USERNS_FD 47 /* slot, uidMap, gidMap */
#define STEP_OPEN_TREE 48 /* slot, path, recursive */
#define STEP_IDMAP_TREE 49 /* slot, usernsSlot, recursive */
#define STEP_MOVE_MOUNT_IN_ROOT 50 /* root, slot, dest, create */
#define STEP_MOUNT_COPYUP_IN_ROOT 51 /* root, source, dest, fstype, flags, data, create */
#define STEP_SECCOMP_LISTENER_CONNECT 52 /* path */
#define STEP_SECCOMP_LISTENER_STATE 53 /* name */
#define STEP_LANDLOCK_RULESET 54 /* handledFs */
#define STEP_LANDLOCK_RULE 55 /* path, access */
#define STEP_LANDLOCK_RESTRICT 56 /* no arguments */
#define STEP_CLONE_INTO_CGROUP 57 /* dir */
#define STEP_PARENT_ON_REQUEST 58 /* no arguments */
#define STEP_REQUEST_PARENT 59 /* no arguments */
#define STEP_SETNS_LENIENT 60 /* path, nstype */
#define STEP_SETNS_PENDING 61 /* no arguments */
#define STEP_MOUNT_OR_BIND_IN_ROOT 62 /* root, source, dest, fstype, flags, data, create, bindSource */
#define STEP_SETNS_DEFER 63 /* path, nstype */
#define STEP_EXEC_FIFO_RELEASE 64 /* no arguments */
#define STEP_HOOK_STATE 65 /* index */
#define STEP_SETATTR_IN_ROOT 66 /* root, dest, attrSet, attrClr */
#define STEP_ATTACH_TREE_IN_ROOT 67 /* root, slot, source, dest, recursive, create, attrSet, attrClr, recAttrSet, recAttrClr, propagation... */
#define STEP_FS_IN_ROOT 68 /* root, source, dest, fstype, create, attrSet, attrClr, copyup, data, recAttrSet, recAttrClr, propagation... */
#define STEP_MAX 68

static const char *const step_names[] = {
  [1] = "JOIN_CGROUP",
  [2] = "SETNS",
  [3] = "WRITE_FILE",
  [4] = "OPEN_EXEC_FIFO",
  [5] = "WRITE_CHILD_FILE",
  [6] = "RUN_CHILD_HELPER",
  [7] = "UNSHARE",
  [8] = "SETSID",
  [9] = "MOUNT",
  [10] = "MOUNT_IN_ROOT",
  [11] = "REMOUNT_IN_ROOT",
  [12] = "MKNOD_IN_ROOT",
  [13] = "SYMLINK_IN_ROOT",
  [14] = "PIVOT_ROOT",
  [15] = "MOVE_ROOT",
  [16] = "MASK_PATH",
  [17] = "READONLY_PATH",
  [18] = "SETHOSTNAME",
  [19] = "SETDOMAINNAME",
  [20] = "SYNC",
  [21] = "RUN_HOOK",
  [22] = "RLIMIT",
  [23] = "UMASK",
  [24] = "CHDIR",
  [25] = "SESSION_KEYRING",
  [26] = "SETGROUPS",
  [27] = "SETGID",
  [28] = "SETUID",
  [29] = "CAPS",
  [30] = "NO_NEW_PRIVS",
  [31] = "SECCOMP",
  [32] = "CLOSE_FDS_FROM",
  [33] = "LOOKUP_EXEC",
  [34] = "READY",
  [35] = "WAIT_EXEC_FIFO",
  [36] = "EXEC",
  [37] = "PDEATHSIG",
  [38] = "MKDIR_IN_ROOT",
  [39] = "DUMPABLE",
  [40] = "WRITE_FILE_OPTIONAL",
  [41] = "CAPS_BOUNDING",
  [42] = "MKFIFO",
  [43] = "CONSOLE_CONNECT",
  [44] = "CONSOLE_PAIR",
  [45] = "CONSOLE_SETUP",
  [46] = "LOOPBACK_UP",
  [47] = "USERNS_FD",
  [48] = "OPEN_TREE",
  [49] = "IDMAP_TREE",
  [50] = "MOVE_MOUNT_IN_ROOT",
  [51] = "MOUNT_COPYUP_IN_ROOT",
  [52] = "SECCOMP_LISTENER_CONNECT",
  [53] = "SECCOMP_LISTENER_STATE",
  [54] = "LANDLOCK_RULESET",
  [55] = "LANDLOCK_RULE",
  [56] = "LANDLOCK_RESTRICT",
  [57] = "CLONE_INTO_CGROUP",
  [58] = "PARENT_ON_REQUEST",
  [59] = "REQUEST_PARENT",
  [60] = "SETNS_LENIENT",
  [61] = "SETNS_PENDING",
  [62] = "MOUNT_OR_BIND_IN_ROOT",
  [63] = "SETNS_DEFER",
  [64] = "EXEC_FIFO_RELEASE",
  [65] = "HOOK_STATE",
  [66] = "SETATTR_IN_ROOT",
  [67] = "ATTACH_TREE_IN_ROOT",
  [68] = "FS_IN_ROOT",
};

#define ARG_INT 0
#define ARG_BYTES 1

#define CREATE_NONE 0
#define CREATE_DIR 1
#define CREATE_FILE 2

#define MSG_ERROR 1
#define MSG_PID 2
#define MSG_SYNC 3
#define MSG_SYNC_REPLY 4
#define MSG_READY 5
#define MSG_ACK 6
#define MSG_EXIT 7
#define MSG_ABORT 8
#define MSG_RUN_PARENT 9

#endif
