/**
 * runc's verbs on a live container's cgroups: update, pause, resume, ps, events.
 * The cgroups layer (src/cgroups) does the kernel work; this module checks the
 * container's status, keeps the record current and shapes the output as runc does.
 */
import * as fs from "node:fs";
import { CgroupError, formatEvent, planUpdate, validateResources, mergeResources, withLinkedFields, UPDATE_FLAGS, type LinuxResources } from "../cgroups/mod.ts";
import type { Status } from "../oci/types.ts";
import { cgroupsFromRecord, type ContainerCgroups } from "./cgroups.ts";
import { ContainerError, containerDir, initAlive, liveStatus, lockContainer, readRecord, writeRecord, type ContainerRecord } from "./state.ts";

/** The container's cgroups, or an error saying it has none (created without root). */
function requireCgroups(rec: ContainerRecord): ContainerCgroups {
  const cg = cgroupsFromRecord(rec.cgroup);
  if (!cg) throw new ContainerError(`container ${rec.id} has no cgroups (it was created without root)`);
  return cg;
}

/** The live status; a frozen container is "paused" even while its exec fifo exists (runc checks the freezer first). */
export function cgroupStatus(root: string, rec: ContainerRecord, cg: ContainerCgroups | undefined): Status {
  const status = liveStatus(root, rec);
  if ((status === "running" || status === "created") && cg) {
    try {
      if (cg.isFrozen()) return "paused";
    } catch (e) {
      if (!(e instanceof CgroupError)) throw e; // no freezer: never paused
    }
  }
  return status;
}

function withLock<T>(root: string, id: string, fn: (rec: ContainerRecord) => T): T {
  const release = lockContainer(root, id);
  try {
    return fn(readRecord(root, id));
  } finally {
    release();
  }
}

export interface UpdateRequest {
  /** `-r`: a file holding linux.resources JSON, or "-" for stdin; when given, the flags are ignored (as runc) */
  resourcesFile?: string;
  /** runc's update flags by name (without "--"), as given on the command line */
  flags: Record<string, string | undefined>;
}

function readResourcesFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new ContainerError(`-r: cannot read ${file === "-" ? "stdin" : file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ContainerError(`-r: ${file === "-" ? "stdin" : file} is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * runc update: applies the changes to the live cgroups and stores the merged
 * resources in the container's record (its spec's linux.resources). Returns the merged resources.
 */
export function update(root: string, id: string, req: UpdateRequest, warn: (msg: string) => void): LinuxResources {
  return withLock(root, id, (rec) => {
    const cg = requireCgroups(rec);
    const status = cgroupStatus(root, rec, cg);
    if (status === "stopped" || status === "creating") throw new ContainerError(`cannot update container ${id}: it is ${status}`);

    const given = Object.entries(req.flags).filter(([, v]) => v !== undefined);
    const flags: Record<string, string> = {};
    let file: unknown;
    let burst: LinuxResources | undefined;
    if (req.resourcesFile !== undefined) {
      file = readResourcesFile(req.resourcesFile);
      if (given.length) warn(`-r given: ignoring ${given.map(([k]) => `--${k}`).join(", ")} (as runc, the resources file replaces the flags)`);
    } else {
      for (const [name, value] of given) {
        // runc: the kernel memory limits are obsolete and ignored; 0 (runc's unset value) leaves these unchanged
        if (name === "kernel-memory" || name === "kernel-memory-tcp") warn(`Setting --${name} is ignored and will be removed`);
        else if ((name === "pids-limit" || name === "blkio-weight") && value!.trim() === "0") continue;
        else if (name === "cpu-burst") {
          if (!/^\d+$/.test(value!.trim())) throw new ContainerError(`--cpu-burst: ${JSON.stringify(value)} must be an integer ≥ 0 (microseconds)`);
          burst = { cpu: { burst: Number(value) } };
        } else if (name === "l3-cache-schema") throw new ContainerError("Intel RDT/CAT: l3 cache schema is not enabled");
        else if (name === "mem-bw-schema") throw new ContainerError("Intel RDT/MBA: memory bandwidth schema is not enabled");
        else if (!(UPDATE_FLAGS as readonly string[]).includes(name)) throw new ContainerError(`--${name}: not an update flag`);
        else flags[name] = value!;
      }
    }
    const current = (rec.spec?.linux?.resources ?? {}) as LinuxResources;
    let { changes, merged } = planUpdate(current, file === undefined ? { flags } : { file });
    if (burst) {
      changes = mergeResources(changes, burst);
      merged = mergeResources(merged, burst);
    }
    // runc: setting memory to unlimited without a swap value makes swap unlimited too (v1's memsw ≥ limit)
    if (changes.memory?.limit === -1 && changes.memory.swap === undefined) {
      changes = mergeResources(changes, { memory: { swap: -1 } });
      merged = mergeResources(merged, { memory: { swap: -1 } });
    }
    changes = withLinkedFields(changes, merged);
    const problems = validateResources(changes);
    if (problems.length) throw new ContainerError(problems.join("\n"));
    cg.manager.update(cg.record, changes);
    if (rec.spec) {
      rec.spec.linux = { ...(rec.spec.linux ?? {}), resources: merged as Record<string, unknown> };
      writeRecord(root, rec);
    }
    return merged;
  });
}

/** runc pause: freezes a running (or created) container. */
export function pause(root: string, id: string): void {
  withLock(root, id, (rec) => {
    const cg = requireCgroups(rec);
    const status = cgroupStatus(root, rec, cg);
    if (status !== "running" && status !== "created") throw new ContainerError(`cannot pause container ${id}: it is ${status} (only a running or created container can be paused)`);
    cg.freeze();
  });
}

/** runc resume: thaws a paused container. */
export function resume(root: string, id: string): void {
  withLock(root, id, (rec) => {
    const cg = requireCgroups(rec);
    const status = cgroupStatus(root, rec, cg);
    if (status !== "paused") throw new ContainerError(`cannot resume container ${id}: it is ${status}, not paused`);
    cg.thaw();
  });
}

/** PIDs (host) of every process of the container, from its cgroups (runc ps --format json). */
export function processes(root: string, id: string): number[] {
  const rec = readRecord(root, id);
  return requireCgroups(rec).pids();
}

/** Keeps the header and the rows of `ps` output whose PID column is one of `pids`, as runc ps does. */
export function filterPsOutput(output: string, pids: readonly number[]): string {
  const lines = output.split("\n");
  const header = lines[0] ?? "";
  const pidIndex = header.trim().split(/\s+/).indexOf("PID");
  if (pidIndex < 0) throw new ContainerError(`couldn't find PID field in ps output (header: ${JSON.stringify(header)})`);
  const wanted = new Set(pids);
  const out = [header];
  for (const line of lines.slice(1)) {
    if (line.trim() === "") continue;
    const field = line.trim().split(/\s+/)[pidIndex] ?? "";
    if (!/^\d+$/.test(field)) throw new ContainerError(`unable to parse pid ${JSON.stringify(field)} in ps output line ${JSON.stringify(line)}`);
    if (wanted.has(Number(field))) out.push(line);
  }
  return out.join("\n") + "\n";
}

/** runc ps (table): runs the host's `ps` with `psArgs` (default -ef) and keeps the container's rows. */
export function psTable(root: string, id: string, psArgs: string[]): string {
  const pids = processes(root, id);
  const r = Bun.spawnSync(["ps", ...(psArgs.length ? psArgs : ["-ef"])], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const output = r.stdout.toString();
  if (r.exitCode !== 0) throw new ContainerError(`ps ${psArgs.join(" ")} exited with status ${r.exitCode}: ${(output + r.stderr.toString()).trim()}`);
  return filterPsOutput(output, pids);
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "250ms", "1m30s", "1.5h") in milliseconds, as runc's --interval takes it. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  const body = s.startsWith("+") ? s.slice(1) : s;
  if (body === "0") return 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  if (body === "" || at !== body.length) throw new ContainerError(`invalid duration ${JSON.stringify(s)} (expected a number with a unit, like 5s, 250ms or 1m30s)`);
  return total;
}

/** The container's cgroups once it is known to be alive (events needs a running or paused container). */
function liveCgroups(root: string, id: string): { rec: ContainerRecord; cg: ContainerCgroups } {
  const rec = readRecord(root, id);
  const cg = requireCgroups(rec);
  const status = cgroupStatus(root, rec, cg);
  if (status === "stopped" || status === "creating") throw new ContainerError(`container ${id} is not running`);
  return { rec, cg };
}

/** runc events --stats: one stats event line (no newline). */
export function statsEvent(root: string, id: string): string {
  const { cg } = liveCgroups(root, id);
  return formatEvent("stats", id, cg.manager.stats(cg.record));
}

/** How often the event stream checks whether the container is still there. */
const ALIVE_POLL_MS = 100;

/**
 * runc events: a stats event every `intervalMs` and an oom event on each OOM kill,
 * until the container stops (or its state is deleted). Resolves then.
 */
export function streamEvents(root: string, id: string, opts: { intervalMs: number; write: (line: string) => void; warn: (msg: string) => void }): Promise<void> {
  if (!(opts.intervalMs > 0)) throw new ContainerError(`--interval: must be greater than 0 (got ${opts.intervalMs} ms)`);
  const { rec, cg } = liveCgroups(root, id);
  const stopOom = cg.manager.watchOom(cg.record, () => opts.write(formatEvent("oom", id)));
  return new Promise((resolve) => {
    const stats = setInterval(() => {
      try {
        opts.write(formatEvent("stats", id, cg.manager.stats(cg.record)));
      } catch (e) {
        opts.warn((e as Error).message); // as runc: log and keep going
      }
    }, opts.intervalMs);
    const alive = setInterval(() => {
      if (initAlive(rec) && fs.existsSync(containerDir(root, id))) return;
      clearInterval(alive);
      clearInterval(stats);
      // An OOM kill may be what stopped the container: give the OOM watcher a few polls to report it.
      setTimeout(() => {
        stopOom();
        resolve();
      }, 3 * ALIVE_POLL_MS);
    }, ALIVE_POLL_MS);
  });
}
