/** The runtime's view of a container's cgroups; the cgroups layer (src/cgroups) does the work. */
import * as fs from "node:fs";
import { openCgroupManager, validateResources, type CgroupManager, type CgroupRecord } from "../cgroups/mod.ts";
import type { Spec } from "../oci/types.ts";
import { inUserNamespace, rootlessCgroups } from "./userns.ts";

export interface ContainerCgroups {
  /** JSON-serialisable record kept in the container state */
  record: CgroupRecord;
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

function wrap(m: CgroupManager, record: CgroupRecord): ContainerCgroups {
  return {
    record,
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
 * Where a caller without root may make its containers' cgroups: on a cgroup v2 only host, the
 * parent of the caller's own cgroup (relative paths go there, as runc's v2 driver puts them),
 * when the caller may write it and its cgroup.procs (delegated, as systemd does for everything
 * below user@.service: the caller in app.slice/x.scope, its containers in app.slice); else
 * undefined.
 */
export function delegatedCgroupDir(procSelfCgroup: string, access: (dir: string) => boolean, root = "/sys/fs/cgroup"): string | undefined {
  const lines = procSelfCgroup.trim().split("\n");
  const only = lines.length === 1 ? lines[0] : undefined;
  if (!only?.startsWith("0::/")) return undefined;
  // "/" too: inside a cgroup namespace that is the namespace's root, which can be delegated
  const own = only.slice(3).replace(/\/+$/, "");
  const dir = `${root}${own.replace(/\/[^/]*$/, "")}`;
  return access(dir) && access(`${dir}/cgroup.procs`) ? dir : undefined;
}

function writable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the container's cgroups with its resources. A caller that isn't root gets
 * cgroups only under a delegated, writable cgroup v2 subtree of its own; otherwise none,
 * with a warning.
 */
export function cgroupsFor(spec: Spec, id: string, warn: (msg: string) => void): ContainerCgroups | undefined {
  const unprivileged = (process.geteuid?.() ?? 0) !== 0;
  // root in a user namespace (rootless podman runs the runtime so): as runc, cgroups are tried
  // and left out where the kernel refuses them, as for any caller without root
  const userns = inUserNamespace();
  const rootless = unprivileged || rootlessCgroups(userns);
  // the device cgroup is left alone only where it can't be set (as runc's devices controller
  // skips only in a user namespace): --rootless=true as real root keeps it
  const skipDevices = unprivileged || userns;
  if (unprivileged && !delegatedCgroupDir(fs.readFileSync("/proc/self/cgroup", "utf8"), writable)) {
    warn("running without root and no writable delegated cgroup v2 subtree: cgroups skipped (linux.resources and cgroupsPath are not applied)");
    return undefined;
  }
  const m = cgroupManager();
  const opts: Parameters<CgroupManager["create"]>[0] = { id, ...(rootless ? { rootless: true } : {}), skipDevices };
  if (spec.linux?.cgroupsPath) opts.cgroupsPath = spec.linux.cgroupsPath;
  if (spec.linux?.resources !== undefined) opts.resources = spec.linux.resources;
  const { record, procsFiles } = m.create(opts);
  if (rootless && procsFiles.length === 0) {
    m.destroy(record);
    warn(unprivileged ? "running without root: the delegated cgroup subtree refused a cgroup for the container; cgroups skipped" : "running as root of a user namespace: the cgroup hierarchies refused a cgroup for the container; cgroups skipped");
    return undefined;
  }
  return wrap(m, record);
}

/** Re-opens the cgroups of an existing container from its record. */
export function cgroupsFromRecord(record: unknown): ContainerCgroups | undefined {
  if (!record || typeof record !== "object") return undefined;
  return wrap(cgroupManager(), record as CgroupRecord);
}
