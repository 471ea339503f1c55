// The cgroup manager: detects the host's layout (v1, v2 or hybrid) and drives the controller
// modules. All filesystem access goes through io.ts; controllers stay pure.
import * as fs from "node:fs";
import * as path from "node:path";
import { CgroupError, type LinuxResources } from "./resources.ts";
import type { Controller } from "./controller.ts";
import { applyWrites, exists, listDirs, listFiles, mkdirAll, rmdirIfUnused, rmdirTree, sleepSync, tryRead, writeFile } from "./io.ts";
import { parseProcCgroup, resolveCgroupPath, UNIFIED } from "./paths.ts";
import { emptyStats, parsePsi, readerOf, type Reader, type Stats } from "./stats.ts";
import { validateResources } from "./validate.ts";
import { recordIsFrozen } from "./frozen.ts";
import { watchOomFile } from "./oom.ts";
import { watchOomEventfd } from "./v1/oom_eventfd.ts";
import { effectiveDeviceRules, type DeviceRule } from "./devices.ts";
import { hugepageSizes, hugetlbStats } from "./v1/hugetlb.ts";
import { inheritWrites } from "./v1/cpuset.ts";
import { FREEZER_STATE, isFrozenV1 } from "./v1/freezer.ts";
import { FREEZE_FILE, isFrozenV2 } from "./v2/freezer.ts";
import { attachDeviceRules } from "./v2/devices.ts";
import { miscStats } from "./v2/misc.ts";
import { unifiedControllers, unifiedWrites } from "./v2/unified.ts";
import * as v1 from "./v1/mod.ts";
import { netCls as netClsV1 } from "./v1/net_cls.ts";
import { netPrio as netPrioV1 } from "./v1/net_prio.ts";
import * as v2 from "./v2/mod.ts";

export type Layout = "v1" | "v2" | "hybrid";

/** Where a container's cgroups are; JSON-serializable, kept in the container's state. */
export interface CgroupRecord {
  layout: Layout;
  /** controller (v1), "name=systemd", or "unified" → absolute directory. */
  paths: Record<string, string>;
  /** Parent directories isola made for this container (e.g. .../isola-runtime), removed on destroy when empty. */
  prune?: string[];
}

export interface CreateOptions {
  id: string;
  cgroupsPath?: string;
  resources?: unknown;
  rootless?: boolean;
  /** the device cgroup can't be set from here (a caller without root, or in a user namespace); default: rootless */
  skipDevices?: boolean;
}

export interface CgroupManager {
  readonly layout: Layout;
  /** Creates the container's cgroups and applies linux.resources; on failure removes what it made and throws CgroupError. */
  create(opts: CreateOptions): { record: CgroupRecord; procsFiles: string[] };
  /** Removes the container's cgroups (and sub-cgroups); waits briefly for the kernel to release them. Idempotent. */
  destroy(record: CgroupRecord): void;
  /** PIDs of every process in the container's cgroup tree. */
  pids(record: CgroupRecord): number[];
  /** Sends `signal` to every process (cgroup.kill for SIGKILL on v2; otherwise freeze, signal, thaw). */
  killAll(record: CgroupRecord, signal: number): void;
  freeze(record: CgroupRecord): void;
  thaw(record: CgroupRecord): void;
  isFrozen(record: CgroupRecord): boolean;
  /** Applies the given fields of linux.resources to a live container (fields left out are unchanged). */
  update(record: CgroupRecord, resources: unknown): void;
  /** runc's `events --stats` "data" object. */
  stats(record: CgroupRecord): Stats;
  /** Calls onOom on each OOM kill in the container; returns a function that stops watching. */
  watchOom(record: CgroupRecord, onOom: () => void): () => void;
}

export interface OpenOptions {
  /** Where the cgroup filesystems are mounted (default /sys/fs/cgroup). */
  root?: string;
  /** Text of /proc/self/cgroup (tests); read when a container is created otherwise. */
  procSelfCgroup?: string;
  /** Attaches a v2 device filter (tests replace it); default: compile to eBPF and attach with the native helper. */
  attachDevices?: (dir: string, rules: DeviceRule[]) => void;
}

/** Pids in a cgroup directory and the cgroups below it. */
function procsBelow(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    for (const line of (tryRead(`${d}/cgroup.procs`) ?? "").split("\n")) if (line.trim() !== "") out.push(Number(line));
    for (const e of listDirs(d)) walk(`${d}/${e}`);
  };
  walk(dir);
  return out;
}

/**
 * A v1 directory of the container (on a hybrid host the launcher's stage 0 is in the v1
 * hierarchies only: it joins them itself, its children are cloned into the cgroup2 one).
 */
function v1Dir(record: CgroupRecord): string | undefined {
  const p = record.paths;
  return p.pids ?? p.freezer ?? p.memory ?? p.devices ?? p.cpu ?? Object.entries(p).find(([k]) => k !== UNIFIED)?.[1];
}

/** v1 hierarchies isola joins, in runc's order. "name=systemd" is joined but never configured. */
const V1_JOIN = ["cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb", "net_cls", "net_prio", "perf_event", "freezer", "rdma", "misc", "name=systemd"];

/** v2 controllers isola enables for its cgroups on a pure v2 host (as runc, every one it knows). */
const V2_ENABLE = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"];

/** The spec field each controller serves, for "not available" errors. */
const FIELD_OF: Record<string, string> = {
  memory: "linux.resources.memory",
  cpu: "linux.resources.cpu",
  cpuset: "linux.resources.cpu.cpus/mems",
  pids: "linux.resources.pids",
  blkio: "linux.resources.blockIO",
  io: "linux.resources.blockIO",
  hugetlb: "linux.resources.hugepageLimits",
  net_cls: "linux.resources.network.classID",
  net_prio: "linux.resources.network.priorities",
  rdma: "linux.resources.rdma",
};

interface Mounts {
  layout: Layout;
  /** v1 controller → hierarchy mount directory. */
  v1: Map<string, string>;
  /** The cgroup2 mount (v2 and hybrid). */
  unified?: string;
}

/** Finds the cgroup hierarchies under `root`: cgroup2 at the root (v2), at root/unified (hybrid), or none (v1). */
export function detectMounts(root: string): Mounts {
  if (exists(`${root}/cgroup.controllers`)) return { layout: "v2", v1: new Map(), unified: root };
  const v1Mounts = new Map<string, string>();
  let unified: string | undefined;
  for (const name of listFiles(root).sort()) {
    const full = `${root}/${name}`;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(full);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue; // co-mount symlinks ("cpu" → "cpu,cpuacct") are covered by the real dir
    if (name === "unified") {
      if (exists(`${full}/cgroup.controllers`)) unified = full;
      continue;
    }
    if (!exists(`${full}/cgroup.procs`)) continue;
    for (const c of name.split(",")) v1Mounts.set(c === "systemd" ? "name=systemd" : c, full);
  }
  if (v1Mounts.size === 0 && unified === undefined) {
    throw new CgroupError(`no cgroup hierarchy found under ${root}: is /sys/fs/cgroup mounted?`);
  }
  return unified !== undefined ? { layout: "hybrid", v1: v1Mounts, unified } : { layout: "v1", v1: v1Mounts };
}

/** Opens the manager for the host's layout; reads the mounts now, /proc/self/cgroup at first create. */
export function openCgroupManager(opts: OpenOptions = {}): CgroupManager {
  const root = (opts.root ?? "/sys/fs/cgroup").replace(/\/+$/, "");
  return new Manager(detectMounts(root), opts.procSelfCgroup, opts.attachDevices ?? attachDeviceRules);
}

const reader = (dir: string): Reader => readerOf(dir, tryRead);

function resourcesOf(resources: unknown): LinuxResources {
  const errs = validateResources(resources);
  if (errs.length > 0) throw new CgroupError(errs.join("; "), errs[0]?.split(":")[0]);
  return (resources ?? {}) as LinuxResources;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

class Manager implements CgroupManager {
  readonly layout: Layout;

  constructor(
    private readonly mounts: Mounts,
    private readonly procSelfCgroup: string | undefined,
    private readonly attachDevices: (dir: string, rules: DeviceRule[]) => void,
  ) {
    this.layout = mounts.layout;
  }

  create(opts: CreateOptions): { record: CgroupRecord; procsFiles: string[] } {
    const r = resourcesOf(opts.resources);
    const caller = parseProcCgroup(this.procSelfCgroup ?? fs.readFileSync("/proc/self/cgroup", "utf8"));
    const record: CgroupRecord = { layout: this.layout, paths: {} };
    const created: string[] = [];
    const prune = new Set<string>();
    const resolve = (mount: string, key: string) =>
      resolveCgroupPath({ mount, callerPath: caller[key] ?? "/", cgroupsPath: opts.cgroupsPath, id: opts.id, rootless: opts.rootless ?? false, besideCaller: this.layout === "v2" });
    const make = (dir: string): string[] | undefined => {
      try {
        const made = mkdirAll(dir);
        created.push(...made);
        return made;
      } catch (e) {
        const code = errno(e);
        if (opts.rootless && (code === "EACCES" || code === "EPERM" || code === "EROFS")) return undefined;
        throw new CgroupError(`cgroup ${dir}: cannot create it: ${code ?? String(e)}`);
      }
    };
    try {
      if (this.layout === "v1" && Object.keys(r.unified ?? {}).length > 0) {
        const key = Object.keys(r.unified ?? {})[0];
        throw new CgroupError(`linux.resources.unified["${key}"]: cannot be applied: this host has only cgroup v1 (no cgroup2 hierarchy)`, "linux.resources.unified");
      }
      for (const c of V1_JOIN) {
        const mount = this.mounts.v1.get(c);
        if (mount === undefined) continue;
        const dir = resolve(mount, c);
        const made = Object.values(record.paths).includes(dir) ? [] : make(dir);
        if (made === undefined) continue; // rootless without access: not joined
        if (c === "cpuset") this.initCpuset(mount, dir);
        record.paths[c] = dir;
        if (!opts.cgroupsPath) prune.add(path.dirname(dir));
      }
      if (this.mounts.unified !== undefined) {
        const dir = resolve(this.mounts.unified, UNIFIED);
        const made = make(dir);
        if (made !== undefined) {
          record.paths[UNIFIED] = dir;
          if (!opts.cgroupsPath) prune.add(path.dirname(dir));
          this.enableControllers(dir, this.v2Wanted(r), this.v2Needed(r), (c) => this.fieldOf(c, r));
        }
      }
      for (const d of created) if (!Object.values(record.paths).includes(d)) prune.add(d);
      if (prune.size > 0) record.prune = [...prune].sort((a, b) => b.length - a.length);
      this.apply(record, r, false, opts.rootless ?? false, opts.skipDevices ?? opts.rootless ?? false);
    } catch (e) {
      for (const d of [...created].reverse()) rmdirIfUnused(d);
      throw e;
    }
    const procsFiles = [...new Set(Object.values(record.paths))].map((d) => `${d}/cgroup.procs`);
    return { record, procsFiles };
  }

  /** A v1 cpuset starts with no CPUs and no memory nodes: give every empty one on the way its parent's. */
  private initCpuset(mount: string, dir: string): void {
    let cur = mount;
    for (const part of path.relative(mount, dir).split("/").filter((p) => p !== "")) {
      const next = `${cur}/${part}`;
      applyWrites(next, inheritWrites(reader(cur), reader(next)));
      cur = next;
    }
  }

  /** Controllers isola wants enabled for its v2 cgroup. */
  private v2Wanted(r: LinuxResources): string[] {
    return this.layout === "v2" ? V2_ENABLE : this.v2Needed(r);
  }

  /** Controllers that these resources need on the cgroup2 hierarchy (on hybrid: only those v1 lacks). */
  private v2Needed(r: LinuxResources): string[] {
    const need = new Set(unifiedControllers(r));
    for (const m of v2.CONTROLLERS) if (m.needs(r) && !this.servedByV1(m.name)) need.add(m.name);
    return [...need];
  }

  /**
   * The spec field that asks for a cgroup2 controller: a typed field, or the unified key naming
   * it — then said when a hybrid host has that controller on a v1 hierarchy, where no cgroup2
   * directory can have it.
   */
  private fieldOf(controller: string, r: LinuxResources): string {
    const typed = v2.CONTROLLERS.some((m) => m.name === controller && m.needs(r)) && !this.servedByV1(controller);
    const key = Object.keys(r.unified ?? {}).find((k) => k.split(".")[0] === controller);
    if (typed || key === undefined) return FIELD_OF[controller] ?? `controller ${controller}`;
    const bound = this.layout === "hybrid" && this.servedByV1(controller) ? ` (${controller} is bound to cgroup v1 on this host: use linux.resources.${controller} instead)` : "";
    return `linux.resources.unified[${JSON.stringify(key)}]${bound}`;
  }

  private servedByV1(controller: string): boolean {
    if (this.layout === "v2") return false;
    return this.mounts.v1.has(controller === "io" ? "blkio" : controller);
  }

  /** Enables controllers in cgroup.subtree_control of every ancestor of `dir` below the mount, as runc does. */
  private enableControllers(dir: string, wanted: string[], needed: string[], fieldOf: (controller: string) => string): void {
    const mount = this.mounts.unified as string;
    const rel = path.relative(mount, dir).split("/").filter((p) => p !== "");
    let cur = mount;
    for (const part of rel) {
      // A cgroup with processes of its own (the caller's, for a relative cgroupsPath; a user's
      // delegated one) takes no domain controllers, and enabling the threaded ones there (pids,
      // cpuset) would make it a thread root whose domain children refuse processes (EOPNOTSUPP):
      // leave it as it is. A controller needed below then fails naming it, at the next level.
      if (cur !== mount && (tryRead(`${cur}/cgroup.procs`) ?? "").trim() !== "") {
        cur = `${cur}/${part}`;
        continue;
      }
      const available = (tryRead(`${cur}/cgroup.controllers`) ?? "").split(/\s+/);
      const enabled = (tryRead(`${cur}/cgroup.subtree_control`) ?? "").split(/\s+/);
      for (const c of wanted) {
        if (enabled.includes(c)) continue;
        if (!available.includes(c)) {
          if (needed.includes(c)) throw new CgroupError(`${fieldOf(c)}: the ${c} controller is not available in ${cur} (cgroup.controllers: ${available.join(" ").trim() || "none"})`);
          continue;
        }
        try {
          writeFile(`${cur}/cgroup.subtree_control`, `+${c}`);
        } catch (e) {
          if (needed.includes(c)) {
            const why = errno(e) === "EBUSY" ? "the cgroup has processes of its own (cgroup v2 allows controllers only for cgroups without them)" : String(errno(e));
            throw new CgroupError(`${fieldOf(c)}: cannot enable the ${c} controller in ${cur}: ${why}`);
          }
        }
      }
      cur = `${cur}/${part}`;
    }
  }

  private apply(record: CgroupRecord, r: LinuxResources, updating: boolean, rootless: boolean, skipDevices = rootless): void {
    for (const m of record.layout === "v2" ? [] : v1.CONTROLLERS) {
      const dir = record.paths[m.name];
      const isDevices = m.name === "devices";
      const wanted = isDevices ? (!updating || r.devices !== undefined) && !skipDevices : m.needs(r);
      if (!wanted) continue;
      if (dir === undefined) {
        // On hybrid, cgroup2 serves what v1 lacks when it has the controller (blkio's is io).
        const v2name = m.name === "blkio" ? "io" : m.name;
        if (isDevices || (this.layout === "hybrid" && v2.CONTROLLERS.some((c) => c.name === v2name))) continue;
        throw new CgroupError(`${FIELD_OF[m.name]}: cannot be applied: the ${m.name} controller is not available on this host`, FIELD_OF[m.name]);
      }
      applyWrites(dir, m.writes(r, { current: reader(dir), updating }));
    }
    const udir = record.paths[UNIFIED];
    if (record.layout === "v1") {
      if (Object.keys(r.unified ?? {}).length > 0) {
        throw new CgroupError(`linux.resources.unified: cannot be applied: this host has only cgroup v1`, "linux.resources.unified");
      }
      return;
    }
    if (udir === undefined) {
      if (!rootless && (this.v2Needed(r).length > 0 || record.layout === "v2")) throw new CgroupError(`cgroup v2: the container has no cgroup2 directory`);
      return;
    }
    if (record.layout === "v2") {
      for (const m of [netClsV1, netPrioV1]) {
        if (m.needs(r)) throw new CgroupError(`${FIELD_OF[m.name]}: cannot be applied: ${m.name} is a cgroup v1 controller and this host has cgroup v2 only`, FIELD_OF[m.name]);
      }
    }
    const enabled = (tryRead(`${udir}/cgroup.controllers`) ?? "").split(/\s+/);
    for (const m of v2.CONTROLLERS) {
      if (!m.needs(r) || this.servedByV1(m.name)) continue;
      if (!enabled.includes(m.name)) {
        throw new CgroupError(`${FIELD_OF[m.name]}: cannot be applied: the ${m.name} controller is not enabled for ${udir}`, FIELD_OF[m.name]);
      }
      applyWrites(udir, m.writes(r, { current: reader(udir), updating }));
    }
    if (record.layout === "v2" && (!updating || r.devices !== undefined) && !skipDevices) {
      this.attachDevices(udir, effectiveDeviceRules(r.devices));
    }
    applyWrites(udir, unifiedWrites(r));
  }

  update(record: CgroupRecord, resources: unknown): void {
    const r = resourcesOf(resources);
    const udir = record.paths[UNIFIED];
    // An update may ask for a cgroup2 controller the create did not need (hybrid hosts).
    if (udir !== undefined && this.mounts.unified !== undefined) this.enableControllers(udir, this.v2Needed(r), this.v2Needed(r), (c) => this.fieldOf(c, r));
    this.apply(record, r, true, false);
  }

  destroy(record: CgroupRecord): void {
    const dirs = [...new Set(Object.values(record.paths))].sort((a, b) => b.length - a.length);
    let first: unknown;
    for (const d of dirs) {
      try {
        rmdirTree(d);
      } catch (e) {
        first ??= e;
      }
    }
    for (const d of record.prune ?? []) rmdirIfUnused(d);
    if (first !== undefined) throw first;
  }

  pids(record: CgroupRecord): number[] {
    // On a hybrid host the cgroup2 directory and a v1 one: the launcher's stage 0 joins the v1
    // hierarchies itself (tasks) and only its children are cloned into the cgroup2 directory.
    const p = record.paths;
    const dirs = [...new Set([p[UNIFIED], v1Dir(record)].filter((d): d is string => d !== undefined))];
    return [...new Set(dirs.flatMap(procsBelow))].sort((a, b) => a - b);
  }

  killAll(record: CgroupRecord, signal: number): void {
    const udir = record.paths[UNIFIED];
    if (signal === 9 && udir !== undefined && exists(`${udir}/cgroup.kill`)) {
      // cgroup.kill reaches everything in the cgroup2 directory; what is only in the v1
      // hierarchies (a hybrid host's stage 0) gets the signal directly (read first: those
      // processes live on, so their pids can't be reused meanwhile)
      const v1 = v1Dir(record);
      const inUnified = new Set(procsBelow(udir));
      const onlyV1 = v1 === undefined ? [] : procsBelow(v1).filter((pid) => !inUnified.has(pid));
      writeFile(`${udir}/cgroup.kill`, "1");
      for (const pid of onlyV1) {
        try {
          process.kill(pid, 9);
        } catch (e) {
          if (errno(e) !== "ESRCH") throw e;
        }
      }
      return;
    }
    let frozen = false;
    try {
      this.freeze(record);
      frozen = true;
    } catch {
      // no freezer: signal what we see
    }
    try {
      for (const pid of this.pids(record)) {
        try {
          process.kill(pid, signal);
        } catch (e) {
          if (errno(e) !== "ESRCH") throw e;
        }
      }
    } finally {
      if (frozen) this.thaw(record);
    }
  }

  /** Which freezer: v1's freezer.state, else cgroup.freeze on the cgroup2 directory. */
  private freezer(record: CgroupRecord): { dir: string; v2: boolean } {
    const f = record.paths.freezer;
    if (f !== undefined) return { dir: f, v2: false };
    const u = record.paths[UNIFIED];
    if (u !== undefined && exists(`${u}/${FREEZE_FILE}`)) return { dir: u, v2: true };
    throw new CgroupError("the container's cgroups have no freezer (neither freezer.state nor cgroup.freeze)");
  }

  freeze(record: CgroupRecord): void {
    this.setFrozen(record, true);
  }

  thaw(record: CgroupRecord): void {
    this.setFrozen(record, false);
  }

  private setFrozen(record: CgroupRecord, frozen: boolean): void {
    const { dir, v2 } = this.freezer(record);
    const file = v2 ? `${dir}/${FREEZE_FILE}` : `${dir}/${FREEZER_STATE}`;
    const value = v2 ? (frozen ? "1" : "0") : frozen ? "FROZEN" : "THAWED";
    const done = () => {
      if (v2) return isFrozenV2(tryRead(`${dir}/cgroup.events`)) === frozen;
      const state = tryRead(file);
      return frozen ? isFrozenV1(state) : (state ?? "").trim() === "THAWED";
    };
    // The kernel freezes asynchronously (v1 can stall in FREEZING); write again now and then.
    for (let i = 0; i < 2000; i++) {
      if (i % 50 === 0) writeFile(file, value);
      if (done()) return;
      sleepSync(i < 20 ? 0.1 : 1);
    }
    if (frozen) writeFile(file, v2 ? "0" : "THAWED");
    throw new CgroupError(`${frozen ? "freezing" : "thawing"} ${dir} did not finish within 2 s`);
  }

  isFrozen(record: CgroupRecord): boolean {
    return recordIsFrozen(record);
  }

  stats(record: CgroupRecord): Stats {
    const s = emptyStats();
    for (const m of v1.CONTROLLERS) {
      const dir = record.paths[m.name];
      if (dir === undefined) continue;
      m.stats(reader(dir), s);
      if (m.name === "hugetlb") hugetlbStats(reader(dir), hugepageSizes(listFiles(dir)), s, false);
    }
    const udir = record.paths[UNIFIED];
    if (udir !== undefined) {
      const read = reader(udir);
      for (const m of v2.CONTROLLERS) {
        if (this.servedByV1(m.name)) continue;
        m.stats(read, s);
        if (m.name === "hugetlb") hugetlbStats(read, hugepageSizes(listFiles(udir)), s, true);
      }
      if (record.layout === "hybrid") {
        // v1 controllers did the numbers; cgroup2 still adds pressure stall information.
        const cpu = parsePsi(read("cpu.pressure"));
        const mem = parsePsi(read("memory.pressure"));
        const io = parsePsi(read("io.pressure"));
        if (cpu) s.cpu.psi = cpu;
        if (mem) s.memory.psi = mem;
        if (io) s.blkio.psi = io;
      }
      miscStats(read, s);
    }
    return s;
  }

  watchOom(record: CgroupRecord, onOom: () => void): () => void {
    const mem = record.paths.memory;
    if (mem !== undefined) {
      try {
        return watchOomEventfd(mem, onOom);
      } catch {
        return watchOomFile(`${mem}/memory.oom_control`, false, onOom); // no eventfd: poll the counters
      }
    }
    const u = record.paths[UNIFIED];
    if (u !== undefined && exists(`${u}/memory.events`)) return watchOomFile(`${u}/memory.events`, true, onOom);
    return () => {};
  }
}

export type { Controller };
