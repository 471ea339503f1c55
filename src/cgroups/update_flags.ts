// runc's `update` command line as OCI linux.resources (pure): the flags and `-r resources.json`
// become the changes to apply with CgroupManager.update, merged into the container's resources
// for its state.
import { CgroupError, type LinuxResources } from "./resources.ts";

/** runc's update flags that take a value (a leading "--" is optional in the keys given). */
export const UPDATE_FLAGS = [
  "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-shares", "cpu-rt-period", "cpu-rt-runtime", "cpu-idle",
  "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation", "memory-swap", "kernel-memory", "kernel-memory-tcp", "pids-limit",
] as const;

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** A size as runc's flags take it ("-1", "1024", "512m", "1.5g", "2GiB"; binary units). */
export function parseBytes(flag: string, s: string): number {
  if (s.trim() === "-1") return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new CgroupError(`--${flag}: ${JSON.stringify(s)} is not a size (like 1024, 512m, 2g, or -1 for no limit)`, `--${flag}`);
  return Math.floor(Number(m[1]) * (UNITS[(m[2] ?? "").toLowerCase()] ?? 1));
}

function parseInt(flag: string, s: string, min: number): number {
  if (!/^-?\d+$/.test(s.trim()) || Number(s) < min) {
    throw new CgroupError(`--${flag}: ${JSON.stringify(s)} must be an integer ≥ ${min}`, `--${flag}`);
  }
  return Number(s);
}

/** The changes the flags ask for, as linux.resources (only the fields given). */
export function resourcesFromFlags(flags: Record<string, string | undefined>): LinuxResources {
  const r: LinuxResources = {};
  const get = (name: string) => flags[name] ?? flags[`--${name}`];
  const cpu = () => (r.cpu ??= {});
  const memory = () => (r.memory ??= {});
  for (const name of UPDATE_FLAGS) {
    const v = get(name);
    if (v === undefined) continue;
    switch (name) {
      case "blkio-weight": r.blockIO = { weight: parseInt(name, v, 0) }; break;
      case "cpu-period": cpu().period = parseInt(name, v, 0); break;
      case "cpu-quota": cpu().quota = parseInt(name, v, -1); break;
      case "cpu-share": case "cpu-shares": cpu().shares = parseInt(name, v, 0); break;
      case "cpu-rt-period": cpu().realtimePeriod = parseInt(name, v, 0); break;
      case "cpu-rt-runtime": cpu().realtimeRuntime = parseInt(name, v, -1); break;
      case "cpu-idle": cpu().idle = parseInt(name, v, 0); break;
      case "cpuset-cpus": cpu().cpus = v; break;
      case "cpuset-mems": cpu().mems = v; break;
      case "memory": memory().limit = parseBytes(name, v); break;
      case "memory-reservation": memory().reservation = parseBytes(name, v); break;
      case "memory-swap": memory().swap = parseBytes(name, v); break;
      case "kernel-memory": memory().kernel = parseBytes(name, v); break;
      case "kernel-memory-tcp": memory().kernelTCP = parseBytes(name, v); break;
      case "pids-limit": r.pids = { limit: parseInt(name, v, -1) }; break;
    }
  }
  return r;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep merge of resources objects: objects merge key by key, arrays and values replace. */
export function mergeResources(base: LinuxResources, ...changes: LinuxResources[]): LinuxResources {
  const merge = (a: unknown, b: unknown): unknown => {
    if (!isObject(a) || !isObject(b)) return b === undefined ? a : b;
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
    return out;
  };
  return changes.reduce<LinuxResources>((acc, c) => merge(acc, c) as LinuxResources, base);
}

/**
 * runc update: `-r` file (parsed JSON) first, flags over it. Returns what to pass to
 * CgroupManager.update (`changes`) and what the container's state should say afterwards (`merged`).
 */
export function planUpdate(current: LinuxResources, opts: { file?: unknown; flags?: Record<string, string | undefined> }): { changes: LinuxResources; merged: LinuxResources } {
  if (opts.file !== undefined && !isObject(opts.file)) throw new CgroupError(`-r: the resources file must hold a JSON object (linux.resources)`, "-r");
  const changes = mergeResources((opts.file ?? {}) as LinuxResources, resourcesFromFlags(opts.flags ?? {}));
  return { changes, merged: mergeResources(current, changes) };
}

/**
 * Fields the kernel takes together, completed from the merged resources: a swap given alone
 * gets the memory limit it is compared with (v2's swap.max is swap − limit), a CPU quota or
 * period gets the other (v2's cpu.max holds both). `update --memory-swap 2g` alone then keeps
 * the limit it had, and `--cpu-quota` alone keeps a period of 50000 (as runc does).
 */
export function withLinkedFields(changes: LinuxResources, merged: LinuxResources): LinuxResources {
  const link: LinuxResources = {};
  const m = changes.memory;
  // a limit alone stays alone (runc: the swap is then unchanged; v1's kernel refuses a limit
  // above memory+swap itself); a swap alone takes the limit it is compared with
  if (m !== undefined && m.swap !== undefined && m.limit === undefined) {
    const both = { limit: merged.memory?.limit, swap: merged.memory?.swap };
    const defined = Object.fromEntries(Object.entries(both).filter(([, v]) => v !== undefined));
    if (Object.keys(defined).length > 0) link.memory = defined;
  }
  const c = changes.cpu;
  if (c !== undefined && (c.quota !== undefined || c.period !== undefined)) {
    const both = { quota: merged.cpu?.quota, period: merged.cpu?.period };
    const defined = Object.fromEntries(Object.entries(both).filter(([, v]) => v !== undefined));
    if (Object.keys(defined).length > 0) link.cpu = defined;
  }
  return mergeResources(changes, link);
}
