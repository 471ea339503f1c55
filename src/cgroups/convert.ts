// Pure conversions between OCI (cgroup v1 flavoured) values and cgroup v2 files.
import { CgroupError } from "./resources.ts";

/**
 * cpu.shares (2..262144, default 1024) to cpu.weight (1..10000, default 100), with the
 * quadratic-in-log formula crun and runc ≥ 1.3.2 use, so that 2→1, 1024→100, 262144→10000:
 * weight = 10^((log2(s)² + 125·log2(s) − 126) / 612), rounded up. 0 stays 0 (unset).
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l - 126) / 612;
  return Math.min(10000, Math.ceil(Math.pow(10, exponent) - 1e-9));
}

/** blkio.weight (10..1000) to io.weight (1..10000), linearly as runc does; 0 stays 0. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap (a v1 notion); v2 wants swap alone in memory.swap.max.
 * Returns -1 for "max", 0 for "unset" (write nothing), else bytes. Follows runc's rules.
 */
export function swapToV2(memorySwap: number, memory: number): number {
  if (memory === -1 && memorySwap === 0) return -1;
  if (memorySwap === -1 || memorySwap === 0) return memorySwap;
  if (memory === 0 || memory === -1) {
    throw new CgroupError(`linux.resources.memory.swap: ${memorySwap} needs a memory.limit too (swap is memory+swap)`, "linux.resources.memory.swap");
  }
  if (memorySwap < memory) {
    throw new CgroupError(
      `linux.resources.memory.swap: ${memorySwap} is below memory.limit ${memory}; swap is memory+swap, so it must be ≥ the memory limit`,
      "linux.resources.memory.swap",
    );
  }
  return memorySwap - memory;
}

/** "max" for -1 (and any negative), else the decimal number. */
export function maxOr(n: number): string {
  return n < 0 ? "max" : String(n);
}

/** The cpu.max line: "<quota|max> <period>", or undefined when neither is set. */
export function cpuMax(quota: number | undefined, period: number | undefined): string | undefined {
  const q = quota ?? 0;
  const p = period ?? 0;
  if (q === 0 && p === 0) return undefined;
  return `${q > 0 ? q : "max"} ${p > 0 ? p : 100000}`;
}

/** Parses a kernel cpu list ("0-3,5") into numbers. */
export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(",")) {
    if (part === "") continue;
    const [a, b] = part.split("-");
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

/** Bytes of a hugepage size as the hugetlb files name it ("2MB" → 2097152). */
export function hugepageBytes(size: string): number {
  const m = /^(\d+)(KB|MB|GB)$/.exec(size);
  if (!m) return NaN;
  const unit = m[2] === "KB" ? 1024 : m[2] === "MB" ? 1024 ** 2 : 1024 ** 3;
  return Number(m[1]) * unit;
}

/** The hugetlb file-name form of a size in bytes (2097152 → "2MB"), as in /sys/kernel/mm/hugepages. */
export function hugepageName(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3}GB`;
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}MB`;
  return `${bytes / 1024}KB`;
}

/** Parses "key value" lines (memory.stat, cpu.stat, memory.events…) into numbers. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = v === "max" ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  return out;
}

/** Parses a single number file; "max" becomes `max` (defaults to 0). */
export function parseNumber(text: string, max = 0): number {
  const t = text.trim();
  if (t === "max") return max;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}
