// runc's `events --stats` data shape (runc/types/events.go), built without zero-valued
// `omitempty` fields so the JSON matches runc's byte for byte in key order and presence.

/** Reads a file of the cgroup relative to its directory; undefined when missing. */
export type Reader = (file: string) => string | undefined;

export interface PsiData { avg10: number; avg60: number; avg300: number; total: number }
export interface PsiStats { some: PsiData; full: PsiData }
export interface MemoryEntry { limit: number; usage?: number; max?: number; failcnt: number }
export interface BlkioEntry { major?: number; minor?: number; op?: string; value?: number }

export interface Stats {
  cpu: {
    usage: { total?: number; percpu?: number[]; percpu_kernel?: number[]; percpu_user?: number[]; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
    psi?: PsiStats;
  };
  cpuset: {
    cpus?: number[];
    cpu_exclusive: number;
    mems?: number[];
    mem_hardwall: number;
    mem_exclusive: number;
    memory_migrate: number;
    memory_spread_page: number;
    memory_spread_slab: number;
    memory_pressure: number;
    memory_pressure_enabled: number;
    sched_load_balance: number;
    sched_relax_domain_level: number;
  };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
    psi?: PsiStats;
  };
  pids: { current?: number; limit?: number };
  blkio: {
    ioServiceBytesRecursive?: BlkioEntry[];
    ioServicedRecursive?: BlkioEntry[];
    ioQueueRecursive?: BlkioEntry[];
    ioServiceTimeRecursive?: BlkioEntry[];
    ioWaitTimeRecursive?: BlkioEntry[];
    ioMergedRecursive?: BlkioEntry[];
    ioTimeRecursive?: BlkioEntry[];
    sectorsRecursive?: BlkioEntry[];
    psi?: PsiStats;
  };
  hugetlb: Record<string, { usage?: number; max?: number; failcnt: number }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
  /** isola extension (not in runc): misc controller usage, v2 only. */
  misc?: Record<string, { usage: number; max: number }>;
}

export function emptyStats(): Stats {
  return {
    cpu: { usage: { kernel: 0, user: 0 }, throttling: {} },
    cpuset: {
      cpu_exclusive: 0, mem_hardwall: 0, mem_exclusive: 0, memory_migrate: 0, memory_spread_page: 0,
      memory_spread_slab: 0, memory_pressure: 0, memory_pressure_enabled: 0, sched_load_balance: 0, sched_relax_domain_level: 0,
    },
    memory: { usage: { limit: 0, failcnt: 0 }, swap: { limit: 0, failcnt: 0 }, kernel: { limit: 0, failcnt: 0 }, kernelTCP: { limit: 0, failcnt: 0 } },
    pids: {},
    blkio: {},
    hugetlb: {},
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** An entry of runc's shape: `limit` and `failcnt` always, `usage` and `max` only when non-zero. */
export function memoryEntry(usage: number, max: number, limit: number, failcnt: number): MemoryEntry {
  const e: MemoryEntry = { limit, failcnt };
  if (usage) e.usage = usage;
  if (max) e.max = max;
  // Key order as runc: limit, usage, max, failcnt.
  return { limit: e.limit, ...(e.usage ? { usage: e.usage } : {}), ...(e.max ? { max: e.max } : {}), failcnt: e.failcnt };
}

/** Sets obj[key] = value only when value is non-zero (Go's omitempty). */
export function putNonZero<T extends object, K extends keyof T>(obj: T, key: K, value: number): void {
  if (value) (obj as Record<K, number>)[key] = value;
}

/** Parses a PSI file ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0", "full …"). */
export function parsePsi(text: string | undefined): PsiStats | undefined {
  if (text === undefined) return undefined;
  const zero = (): PsiData => ({ avg10: 0, avg60: 0, avg300: 0, total: 0 });
  const out: PsiStats = { some: zero(), full: zero() };
  for (const line of text.split("\n")) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== "some" && kind !== "full") continue;
    for (const f of fields) {
      const [k, v] = f.split("=");
      if (k === "avg10" || k === "avg60" || k === "avg300" || k === "total") out[kind][k] = Number(v);
    }
  }
  return out;
}

/** A reader of files below `dir` through `read`. */
export function readerOf(dir: string, read: (path: string) => string | undefined): Reader {
  return (file) => read(`${dir}/${file}`);
}
