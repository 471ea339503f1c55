// Pure validation of OCI `linux.resources`: every message names the field, the value and
// what was expected. Checks what can be decided without the kernel; the drivers turn a
// kernel rejection into an error of the same shape.

/** The kernel counts memory in pages; a limit below one page cannot hold a process. */
export const MIN_MEMORY_LIMIT = 4096;

const P = "linux.resources";

type Errors = string[];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
}

/** Checks `v` is an integer in [min, max] (inclusive) when present. */
function int(errs: Errors, field: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER * 2 ** 11, what?: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    errs.push(`${field}: must be ${what ?? `an integer ${max >= 2 ** 53 ? `≥ ${min}` : `from ${min} to ${max}`}`}, got ${show(v)}`);
    return false;
  }
  return true;
}

function object(errs: Errors, field: string, v: unknown): v is Record<string, unknown> {
  if (v === undefined) return false;
  if (!isObject(v)) {
    errs.push(`${field}: must be an object, got ${show(v)}`);
    return false;
  }
  return true;
}

function array(errs: Errors, field: string, v: unknown): v is unknown[] {
  if (v === undefined) return false;
  if (!Array.isArray(v)) {
    errs.push(`${field}: must be an array, got ${show(v)}`);
    return false;
  }
  return true;
}

/** A cpuset list as the kernel parses it: "0-3,5,7-8". */
export function isCpuList(s: string): boolean {
  if (s.trim() === "") return true;
  return s.trim().split(",").every((part) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    return m !== null && (m[2] === undefined || Number(m[2]) >= Number(m[1]));
  });
}

function cpuList(errs: Errors, field: string, v: unknown): void {
  if (v === undefined) return;
  if (typeof v !== "string" || !isCpuList(v)) errs.push(`${field}: must be a list like "0-3,5", got ${show(v)}`);
}

function validateMemory(errs: Errors, m: Record<string, unknown>): void {
  const f = `${P}.memory`;
  if (typeof m.limit === "number" && Number.isInteger(m.limit) && m.limit > 0 && m.limit < MIN_MEMORY_LIMIT) {
    errs.push(`${f}.limit: ${m.limit} is below the kernel minimum of one page (${MIN_MEMORY_LIMIT} bytes); use -1 for no limit`);
  } else int(errs, `${f}.limit`, m.limit, -1, undefined, "an integer number of bytes ≥ -1 (-1: no limit)");
  int(errs, `${f}.reservation`, m.reservation, -1, undefined, "an integer number of bytes ≥ -1 (-1: no reservation)");
  const swapOk = int(errs, `${f}.swap`, m.swap, -1, undefined, "an integer number of bytes ≥ -1 (memory+swap; -1: no limit)");
  if (swapOk && typeof m.limit === "number" && m.limit > 0 && (m.swap as number) > 0 && (m.swap as number) < m.limit) {
    errs.push(`${f}.swap: ${m.swap} is below memory.limit ${m.limit}; swap is memory+swap, so it must be ≥ the memory limit (or -1)`);
  }
  if (swapOk && (m.swap as number) > 0 && (m.limit === undefined || m.limit === 0 || m.limit === -1)) {
    errs.push(`${f}.swap: ${m.swap} needs a memory.limit too (swap is memory+swap)`);
  }
  int(errs, `${f}.kernel`, m.kernel, -1);
  int(errs, `${f}.kernelTCP`, m.kernelTCP, -1);
  int(errs, `${f}.swappiness`, m.swappiness, 0, 100);
  for (const k of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"] as const) {
    if (m[k] !== undefined && typeof m[k] !== "boolean") errs.push(`${f}.${k}: must be true or false, got ${show(m[k])}`);
  }
}

function validateCpu(errs: Errors, c: Record<string, unknown>): void {
  const f = `${P}.cpu`;
  if (c.shares !== undefined && c.shares !== 0) int(errs, `${f}.shares`, c.shares, 2, 262144, "an integer from 2 to 262144");
  if (c.quota !== undefined && c.quota !== 0 && c.quota !== -1) {
    int(errs, `${f}.quota`, c.quota, 1000, undefined, "-1 (no limit) or an integer number of microseconds ≥ 1000");
  }
  if (c.period !== undefined && c.period !== 0) {
    int(errs, `${f}.period`, c.period, 1000, 1_000_000, "an integer number of microseconds from 1000 to 1000000");
  }
  int(errs, `${f}.burst`, c.burst, 0);
  int(errs, `${f}.realtimeRuntime`, c.realtimeRuntime, -1);
  int(errs, `${f}.realtimePeriod`, c.realtimePeriod, 0);
  cpuList(errs, `${f}.cpus`, c.cpus);
  cpuList(errs, `${f}.mems`, c.mems);
  int(errs, `${f}.idle`, c.idle, 0, 1);
  if (typeof c.burst === "number" && c.burst > 0 && typeof c.quota === "number" && c.quota > 0 && c.burst > c.quota) {
    errs.push(`${f}.burst: ${c.burst} is above cpu.quota ${c.quota}; the kernel needs burst ≤ quota`);
  }
}

function validateBlockIO(errs: Errors, b: Record<string, unknown>): void {
  const f = `${P}.blockIO`;
  const weight = (field: string, v: unknown) => {
    if (v !== undefined && v !== 0) int(errs, field, v, 10, 1000);
  };
  weight(`${f}.weight`, b.weight);
  weight(`${f}.leafWeight`, b.leafWeight);
  const dev = (field: string, d: Record<string, unknown>) => {
    if (d.major === undefined) errs.push(`${field}.major: required`);
    if (d.minor === undefined) errs.push(`${field}.minor: required`);
    int(errs, `${field}.major`, d.major, 0, 2 ** 32 - 1);
    int(errs, `${field}.minor`, d.minor, 0, 2 ** 32 - 1);
  };
  if (array(errs, `${f}.weightDevice`, b.weightDevice)) {
    b.weightDevice.forEach((d, i) => {
      const g = `${f}.weightDevice[${i}]`;
      if (!object(errs, g, d)) return;
      dev(g, d);
      weight(`${g}.weight`, d.weight);
      weight(`${g}.leafWeight`, d.leafWeight);
    });
  }
  for (const k of ["throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"] as const) {
    if (!array(errs, `${f}.${k}`, b[k])) continue;
    (b[k] as unknown[]).forEach((d, i) => {
      const g = `${f}.${k}[${i}]`;
      if (!object(errs, g, d)) return;
      dev(g, d);
      if (d.rate === undefined) errs.push(`${g}.rate: required`);
      int(errs, `${g}.rate`, d.rate, 0);
    });
  }
}

/** "2MB", "1GB", "64KB": the hugetlb file-name form of a page size. */
export const HUGEPAGE_SIZE = /^[1-9]\d*(KB|MB|GB)$/;

function validateDevices(errs: Errors, list: unknown[]): void {
  list.forEach((d, i) => {
    const g = `${P}.devices[${i}]`;
    if (!object(errs, g, d)) return;
    if (typeof d.allow !== "boolean") errs.push(`${g}.allow: must be true or false, got ${show(d.allow)}`);
    if (d.type !== undefined && !["a", "b", "c"].includes(d.type as string)) {
      errs.push(`${g}.type: must be "a", "b" or "c", got ${show(d.type)}`);
    }
    for (const k of ["major", "minor"] as const) {
      if (d[k] !== undefined && d[k] !== null && d[k] !== -1) int(errs, `${g}.${k}`, d[k], 0, 2 ** 32 - 1);
    }
    if (d.access !== undefined && (typeof d.access !== "string" || !/^[rwm]*$/.test(d.access))) {
      errs.push(`${g}.access: must be a combination of "r", "w" and "m", got ${show(d.access)}`);
    }
  });
}

/** Validates OCI `linux.resources`; returns one message per problem (empty when valid). Pure. */
export function validateResources(resources: unknown): string[] {
  const errs: Errors = [];
  if (resources === undefined || resources === null) return errs;
  if (!object(errs, P, resources)) return errs;
  const r = resources;
  if (array(errs, `${P}.devices`, r.devices)) validateDevices(errs, r.devices);
  if (object(errs, `${P}.memory`, r.memory)) validateMemory(errs, r.memory);
  if (object(errs, `${P}.cpu`, r.cpu)) validateCpu(errs, r.cpu);
  if (object(errs, `${P}.pids`, r.pids)) {
    if (r.pids.limit === undefined) errs.push(`${P}.pids.limit: required`);
    int(errs, `${P}.pids.limit`, r.pids.limit, -1, undefined, "an integer ≥ -1 (0 or -1: no limit)");
  }
  if (object(errs, `${P}.blockIO`, r.blockIO)) validateBlockIO(errs, r.blockIO);
  if (array(errs, `${P}.hugepageLimits`, r.hugepageLimits)) {
    r.hugepageLimits.forEach((h, i) => {
      const g = `${P}.hugepageLimits[${i}]`;
      if (!object(errs, g, h)) return;
      if (typeof h.pageSize !== "string" || !HUGEPAGE_SIZE.test(h.pageSize)) {
        errs.push(`${g}.pageSize: must look like "2MB" or "1GB", got ${show(h.pageSize)}`);
      }
      if (h.limit === undefined) errs.push(`${g}.limit: required`);
      int(errs, `${g}.limit`, h.limit, 0);
    });
  }
  if (object(errs, `${P}.network`, r.network)) {
    int(errs, `${P}.network.classID`, r.network.classID, 0, 2 ** 32 - 1);
    if (array(errs, `${P}.network.priorities`, r.network.priorities)) {
      r.network.priorities.forEach((p, i) => {
        const g = `${P}.network.priorities[${i}]`;
        if (!object(errs, g, p)) return;
        if (typeof p.name !== "string" || !/^[^\s/]+$/.test(p.name)) errs.push(`${g}.name: must be an interface name, got ${show(p.name)}`);
        if (p.priority === undefined) errs.push(`${g}.priority: required`);
        int(errs, `${g}.priority`, p.priority, 0, 2 ** 32 - 1);
      });
    }
  }
  if (object(errs, `${P}.rdma`, r.rdma)) {
    for (const [dev, v] of Object.entries(r.rdma)) {
      const g = `${P}.rdma.${dev}`;
      if (!/^[^\s]+$/.test(dev)) errs.push(`${g}: the device name must not be empty or contain spaces`);
      if (!object(errs, g, v)) continue;
      int(errs, `${g}.hcaHandles`, v.hcaHandles, 0, 2 ** 32 - 1);
      int(errs, `${g}.hcaObjects`, v.hcaObjects, 0, 2 ** 32 - 1);
    }
  }
  if (object(errs, `${P}.unified`, r.unified)) {
    for (const [k, v] of Object.entries(r.unified)) {
      const g = `${P}.unified["${k}"]`;
      if (!/^[a-z_]+\.[A-Za-z0-9_.]+$/.test(k) || k.includes("..")) {
        errs.push(`${g}: must name a cgroup v2 file like "memory.high" (no "/"), got ${show(k)}`);
      } else if (k === "cgroup.procs" || k === "cgroup.threads" || k === "cgroup.subtree_control" || k === "cgroup.kill" || k === "cgroup.freeze") {
        errs.push(`${g}: ${k} is managed by the runtime and cannot be set through unified`);
      }
      if (typeof v !== "string") errs.push(`${g}: must be a string, got ${show(v)}`);
    }
  }
  return errs;
}
