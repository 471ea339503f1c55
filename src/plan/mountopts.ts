/** Mount option parsing as runc does it: flags, propagation, and the rest as fs data. Pure. */

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

/** option → [set, clear] */
const FLAG_OPTIONS: Record<string, [number, number]> = {
  ro: [MS.RDONLY, 0],
  rw: [0, MS.RDONLY],
  nosuid: [MS.NOSUID, 0],
  suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0],
  dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0],
  exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0],
  async: [0, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0],
  remount: [MS.REMOUNT, 0],
  mand: [MS.MANDLOCK, 0],
  nomand: [0, MS.MANDLOCK],
  noatime: [MS.NOATIME, 0],
  atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0],
  diratime: [0, MS.NODIRATIME],
  relatime: [MS.RELATIME, 0],
  norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0],
  nostrictatime: [0, MS.STRICTATIME],
  lazytime: [MS.LAZYTIME, 0],
  nolazytime: [0, MS.LAZYTIME],
  nosymfollow: [MS.NOSYMFOLLOW, 0],
  symfollow: [0, MS.NOSYMFOLLOW],
  bind: [MS.BIND, 0],
  rbind: [MS.BIND | MS.REC, 0],
  defaults: [0, 0],
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** mount_setattr(2)'s MOUNT_ATTR_* bits. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  /** the atime mode's mask: clear it to set one of the three below */
  ATIME: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

/**
 * runc's recursive options, applied to the mount and every mount below it with
 * mount_setattr(AT_RECURSIVE) after the mount: option → [set, clear]. An atime mode is set by
 * clearing the whole atime mask first, as the kernel requires.
 */
const RECURSIVE_OPTIONS: Record<string, [number, number]> = {
  rro: [MOUNT_ATTR.RDONLY, 0],
  rrw: [0, MOUNT_ATTR.RDONLY],
  rnosuid: [MOUNT_ATTR.NOSUID, 0],
  rsuid: [0, MOUNT_ATTR.NOSUID],
  rnodev: [MOUNT_ATTR.NODEV, 0],
  rdev: [0, MOUNT_ATTR.NODEV],
  rnoexec: [MOUNT_ATTR.NOEXEC, 0],
  rexec: [0, MOUNT_ATTR.NOEXEC],
  rnodiratime: [MOUNT_ATTR.NODIRATIME, 0],
  rdiratime: [0, MOUNT_ATTR.NODIRATIME],
  rrelatime: [MOUNT_ATTR.RELATIME, MOUNT_ATTR.ATIME],
  rnorelatime: [0, MOUNT_ATTR.ATIME],
  rnoatime: [MOUNT_ATTR.NOATIME, MOUNT_ATTR.ATIME],
  ratime: [0, MOUNT_ATTR.ATIME],
  rstrictatime: [MOUNT_ATTR.STRICTATIME, MOUNT_ATTR.ATIME],
  rnostrictatime: [0, MOUNT_ATTR.ATIME],
  rnosymfollow: [MOUNT_ATTR.NOSYMFOLLOW, 0],
  rsymfollow: [0, MOUNT_ATTR.NOSYMFOLLOW],
};

export interface ParsedMountOptions {
  flags: number;
  /** propagation changes to apply after the mount, in order */
  propagation: number[];
  /** fs-specific options joined for mount(2)'s data */
  data: string;
  bind: boolean;
  /** the options the kernel needs a bind remount for (ro, nosuid, ...) */
  remountFlags: number;
  /** "idmap"/"ridmap": an idmapped bind mount; ridmap idmaps the submounts too */
  idmap: boolean;
  recursiveIdmap: boolean;
  /** "tmpcopyup": a tmpfs starts with a copy of what its destination held (runc; ignored for other types) */
  copyUp: boolean;
  /** the flags options asked to clear (rw, suid, dev, exec, atime, diratime, symfollow) */
  clearedFlags: number;
  /** MOUNT_ATTR_* bits the recursive options (rro, rnosuid, rnoatime, ...) set and clear */
  recAttrSet: number;
  recAttrClr: number;
}

/**
 * The per-mount flags of a bind as mount_setattr bits: what the options set and what they ask
 * to clear (rw of a read-only source makes it writable, as runc 1.2 does); flags the options
 * don't name stay as the source has them (a bind remount would drop nosuid, say, where it is
 * not locked). An atime mode replaces the source's: strictatime over noatime, as mount(2).
 * Superblock flags (sync, dirsync, lazytime, mand) have no per-mount form and a bind remount
 * ignores them too.
 */
export function bindMountAttrs(flags: number, cleared = 0): { set: number; clr: number } {
  let set = 0;
  let clr = 0;
  const pairs: [number, number][] = [
    [MS.RDONLY, MOUNT_ATTR.RDONLY],
    [MS.NOSUID, MOUNT_ATTR.NOSUID],
    [MS.NODEV, MOUNT_ATTR.NODEV],
    [MS.NOEXEC, MOUNT_ATTR.NOEXEC],
    [MS.NODIRATIME, MOUNT_ATTR.NODIRATIME],
    [MS.NOSYMFOLLOW, MOUNT_ATTR.NOSYMFOLLOW],
  ];
  for (const [ms, attr] of pairs) {
    if (flags & ms) set |= attr;
    else if (cleared & ms) clr |= attr;
  }
  const atime =
    flags & MS.STRICTATIME ? MOUNT_ATTR.STRICTATIME : flags & MS.NOATIME ? MOUNT_ATTR.NOATIME : flags & MS.RELATIME || cleared & (MS.NOATIME | MS.STRICTATIME | MS.RELATIME) ? MOUNT_ATTR.RELATIME : undefined;
  if (atime !== undefined) {
    set |= atime;
    clr |= MOUNT_ATTR.ATIME;
  }
  return { set, clr };
}

/** The superblock flags among mount(2) flags, as the options fsconfig takes for them. */
export function superblockFlagOptions(flags: number): string[] {
  const out: string[] = [];
  if (flags & MS.SYNCHRONOUS) out.push("sync");
  if (flags & MS.DIRSYNC) out.push("dirsync");
  if (flags & MS.LAZYTIME) out.push("lazytime");
  if (flags & MS.MANDLOCK) out.push("mand");
  return out;
}

/** Every option the parser acts on itself (not passed on as filesystem data): `features` lists these. */
export const MOUNT_OPTION_NAMES: readonly string[] = [
  ...Object.keys(FLAG_OPTIONS),
  ...Object.keys(PROPAGATION_OPTIONS),
  ...Object.keys(RECURSIVE_OPTIONS),
  "idmap",
  "ridmap",
  "tmpcopyup",
].sort();

export function propagationFlags(name: string): number | undefined {
  return PROPAGATION_OPTIONS[name];
}

export function parseMountOptions(options: readonly string[] | undefined, type: string | undefined): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let idmap = false;
  let recursiveIdmap = false;
  let copyUp = false;
  let recAttrSet = 0;
  let recAttrClr = 0;
  let cleared = 0;
  for (const opt of options ?? []) {
    const rec = RECURSIVE_OPTIONS[opt];
    if (rec) {
      // a later option wins over an earlier one for the same bits
      recAttrSet = (recAttrSet & ~rec[1] & ~rec[0]) | rec[0];
      recAttrClr = (recAttrClr & ~rec[0]) | rec[1];
      continue;
    }
    if (opt === "tmpcopyup") {
      copyUp = true;
      continue;
    }
    if (opt === "idmap" || opt === "ridmap") {
      idmap = true;
      recursiveIdmap ||= opt === "ridmap";
      continue;
    }
    const flag = FLAG_OPTIONS[opt];
    if (flag) {
      flags = (flags | flag[0]) & ~flag[1];
      cleared = (cleared | flag[1]) & ~flag[0];
      continue;
    }
    const prop = PROPAGATION_OPTIONS[opt];
    if (prop !== undefined) {
      propagation.push(prop);
      continue;
    }
    data.push(opt);
  }
  const bind = (flags & MS.BIND) !== 0 || type === "bind";
  if (type === "bind") flags |= MS.BIND;
  const remountFlags = bind ? flags & ~(MS.BIND | MS.REC | MS.REMOUNT) : 0;
  return { flags, propagation, data: data.join(","), bind, remountFlags, idmap, recursiveIdmap, copyUp, recAttrSet, recAttrClr, clearedFlags: cleared };
}
