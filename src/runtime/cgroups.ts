/** The runtime's view of a container's cgroups; the cgroups layer (src/cgroups) does the work. */
import { openCgroupManager, validateResources, type CgroupManager, type CgroupRecord } from "../cgroups/mod.ts";
import type { Spec } from "../oci/types.ts";

export interface ContainerCgroups {
  /** JSON-serialisable record kept in the container state */
  record: CgroupRecord;
  /** cgroup.procs files the launcher joins before it creates namespaces */
  procsFiles: string[];
  destroy(): void;
  pids(): number[];
  isFrozen(): boolean;
  freeze(): void;
  thaw(): void;
  killAll(signal: number): void;
  manager: CgroupManager;
}

let manager: CgroupManager | undefined;
/** The host's cgroup manager, opened on first use (it reads the hierarchy mounts). */
export function cgroupManager(): CgroupManager {
  manager ??= openCgroupManager();
  return manager;
}

/** Problems with linux.resources, found before anything is created. */
export function resourceProblems(spec: Spec): string[] {
  return spec.linux?.resources === undefined ? [] : validateResources(spec.linux.resources);
}

function wrap(m: CgroupManager, record: CgroupRecord, procsFiles: string[]): ContainerCgroups {
  return {
    record,
    procsFiles,
    manager: m,
    destroy: () => m.destroy(record),
    pids: () => m.pids(record),
    isFrozen: () => m.isFrozen(record),
    freeze: () => m.freeze(record),
    thaw: () => m.thaw(record),
    killAll: (signal) => m.killAll(record, signal),
  };
}

/**
 * Creates the container's cgroups with its resources. A caller that isn't root
 * can't create cgroups here (no delegated subtree): it gets none, with a warning.
 */
export function cgroupsFor(spec: Spec, id: string, warn: (msg: string) => void): ContainerCgroups | undefined {
  if ((process.getuid?.() ?? 0) !== 0) {
    warn("running without root: cgroups skipped (linux.resources and cgroupsPath are not applied)");
    return undefined;
  }
  const m = cgroupManager();
  const opts: Parameters<CgroupManager["create"]>[0] = { id };
  if (spec.linux?.cgroupsPath) opts.cgroupsPath = spec.linux.cgroupsPath;
  if (spec.linux?.resources !== undefined) opts.resources = spec.linux.resources;
  const { record, procsFiles } = m.create(opts);
  return wrap(m, record, procsFiles);
}

/** Re-opens the cgroups of an existing container from its record. */
export function cgroupsFromRecord(record: unknown): ContainerCgroups | undefined {
  if (!record || typeof record !== "object") return undefined;
  return wrap(cgroupManager(), record as CgroupRecord, []);
}
