/**
 * Validation of an OCI runtime-spec config. Pure. Every error names the field,
 * what was expected and what was found, e.g.
 *   process.user.uid: must be an integer ≥ 0 (got -1)
 */
import type { IdMapping, Spec } from "./types.ts";
import { mappingProblems, maps } from "./idmap.ts";
import { CAPABILITIES } from "./capabilities.ts";
import { RLIMITS } from "./rlimits.ts";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? `invalid config: ${problems[0]}` : `invalid config:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export const NAMESPACE_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"] as const;
const PROPAGATIONS = ["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"];
const HOOK_NAMES = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];
export { validateId } from "./id.ts";

type Obj = Record<string, unknown>;
const show = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

class Checker {
  readonly problems: string[] = [];
  bad(path: string, expected: string, got: unknown) {
    this.problems.push(`${path}: ${expected} (got ${show(got)})`);
  }
  obj(path: string, v: unknown, required = false): v is Obj {
    if (v === undefined) {
      if (required) this.problems.push(`${path}: required`);
      return false;
    }
    if (!isObj(v)) {
      this.bad(path, "must be an object", v);
      return false;
    }
    return true;
  }
  str(path: string, v: unknown, required = false): v is string {
    if (v === undefined) {
      if (required) this.problems.push(`${path}: required`);
      return false;
    }
    if (typeof v !== "string") {
      this.bad(path, "must be a string", v);
      return false;
    }
    return true;
  }
  bool(path: string, v: unknown) {
    if (v !== undefined && typeof v !== "boolean") this.bad(path, "must be true or false", v);
  }
  int(path: string, v: unknown, opts: { min?: number; max?: number; required?: boolean } = {}): v is number {
    if (v === undefined) {
      if (opts.required) this.problems.push(`${path}: required`);
      return false;
    }
    const { min, max } = opts;
    if (!isInt(v) || (min !== undefined && v < min) || (max !== undefined && v > max)) {
      const range = min !== undefined && max !== undefined ? ` in ${min}..${max}` : min !== undefined ? ` ≥ ${min}` : "";
      this.bad(path, `must be an integer${range}`, v);
      return false;
    }
    return true;
  }
  arr(path: string, v: unknown): v is unknown[] {
    if (v === undefined) return false;
    if (!Array.isArray(v)) {
      this.bad(path, "must be an array", v);
      return false;
    }
    return true;
  }
  strings(path: string, v: unknown) {
    if (this.arr(path, v)) v.forEach((s, i) => this.str(`${path}[${i}]`, s));
  }
  absPath(path: string, v: unknown, required = false) {
    if (this.str(path, v, required) && !v.startsWith("/")) this.bad(path, "must be an absolute path", v);
  }
}

/** Returns every problem found in a parsed config.json (empty when valid). */
export function validateSpec(raw: unknown): string[] {
  const c = new Checker();
  if (!c.obj("config", raw, true)) return c.problems;
  const spec = raw as Obj;
  if (c.str("ociVersion", spec.ociVersion, true) && !/^1\.\d+\.\d+/.test(spec.ociVersion as string))
    c.bad("ociVersion", "must be a 1.x.y version", spec.ociVersion);

  if (c.obj("root", spec.root, true)) {
    const root = spec.root as Obj;
    if (c.str("root.path", root.path, true) && root.path === "") c.bad("root.path", "must not be empty", root.path);
    c.bool("root.readonly", root.readonly);
  }
  c.str("hostname", spec.hostname);
  c.str("domainname", spec.domainname);
  if (spec.annotations !== undefined && c.obj("annotations", spec.annotations))
    for (const [k, v] of Object.entries(spec.annotations as Obj)) c.str(`annotations.${k}`, v);

  checkProcess(c, spec.process);
  validateMounts(c, spec.mounts);
  validateHooks(c, spec.hooks);
  const nsTypes = validateLinux(c, spec.linux, spec.process);

  if (spec.hostname !== undefined && spec.hostname !== "" && !nsTypes.newUts)
    c.problems.push(`hostname: setting a hostname needs a new uts namespace (add {"type":"uts"} to linux.namespaces)`);
  if (spec.domainname !== undefined && spec.domainname !== "" && !nsTypes.newUts)
    c.problems.push(`domainname: setting a domainname needs a new uts namespace (add {"type":"uts"} to linux.namespaces)`);
  return c.problems;
}

/** The problems of a process object alone (exec's --process file), named as config.json's `process.*`. */
export function validateProcess(raw: unknown): string[] {
  const c = new Checker();
  checkProcess(c, raw);
  if (raw === undefined) c.problems.push("process: required");
  return c.problems;
}

function checkProcess(c: Checker, v: unknown) {
  if (!c.obj("process", v)) return;
  const p = v as Obj;
  c.bool("process.terminal", p.terminal);
  if (c.obj("process.consoleSize", p.consoleSize)) {
    const cs = p.consoleSize as Obj;
    c.int("process.consoleSize.height", cs.height, { min: 0, required: true });
    c.int("process.consoleSize.width", cs.width, { min: 0, required: true });
  }
  if (c.obj("process.user", p.user, true)) {
    const u = p.user as Obj;
    c.int("process.user.uid", u.uid, { min: 0, max: 0xfffffffe, required: true });
    c.int("process.user.gid", u.gid, { min: 0, max: 0xfffffffe, required: true });
    c.int("process.user.umask", u.umask, { min: 0, max: 0o777 });
    if (c.arr("process.user.additionalGids", u.additionalGids))
      (u.additionalGids as unknown[]).forEach((g, i) => c.int(`process.user.additionalGids[${i}]`, g, { min: 0, max: 0xfffffffe }));
  }
  if (p.args === undefined && p.commandLine === undefined) c.problems.push("process.args: required (the program to run)");
  if (c.arr("process.args", p.args)) {
    const args = p.args as unknown[];
    if (args.length === 0) c.problems.push("process.args: must name at least the program to run (got [])");
    args.forEach((a, i) => c.str(`process.args[${i}]`, a));
  }
  if (c.arr("process.env", p.env))
    (p.env as unknown[]).forEach((e, i) => {
      if (c.str(`process.env[${i}]`, e) && !e.includes("=")) c.bad(`process.env[${i}]`, "must be NAME=value", e);
    });
  c.absPath("process.cwd", p.cwd, true);
  if (c.obj("process.capabilities", p.capabilities)) {
    const caps = p.capabilities as Obj;
    for (const set of ["bounding", "effective", "inheritable", "permitted", "ambient"]) {
      const path = `process.capabilities.${set}`;
      if (c.arr(path, caps[set]))
        (caps[set] as unknown[]).forEach((name, i) => {
          if (c.str(`${path}[${i}]`, name) && !(name.toUpperCase() in CAPABILITIES))
            c.bad(`${path}[${i}]`, "is not a capability this runtime knows (expected a name like CAP_NET_BIND_SERVICE)", name);
        });
    }
  }
  if (c.arr("process.rlimits", p.rlimits)) {
    const seen = new Set<string>();
    (p.rlimits as unknown[]).forEach((r, i) => {
      const path = `process.rlimits[${i}]`;
      if (!c.obj(path, r)) return;
      const rl = r as Obj;
      if (c.str(`${path}.type`, rl.type, true)) {
        if (!(rl.type in RLIMITS)) c.bad(`${path}.type`, `must be one of ${Object.keys(RLIMITS).join(", ")}`, rl.type);
        if (seen.has(rl.type)) c.bad(`${path}.type`, "is set twice", rl.type);
        seen.add(rl.type);
      }
      const soft = c.int(`${path}.soft`, rl.soft, { min: 0, required: true });
      const hard = c.int(`${path}.hard`, rl.hard, { min: 0, required: true });
      if (soft && hard && (rl.soft as number) > (rl.hard as number))
        c.bad(`${path}.soft`, `must not exceed hard (${rl.hard})`, rl.soft);
    });
  }
  c.bool("process.noNewPrivileges", p.noNewPrivileges);
  c.int("process.oomScoreAdj", p.oomScoreAdj, { min: -1000, max: 1000 });
  c.str("process.apparmorProfile", p.apparmorProfile);
  c.str("process.selinuxLabel", p.selinuxLabel);
}

function validateMounts(c: Checker, v: unknown) {
  if (!c.arr("mounts", v)) return;
  (v as unknown[]).forEach((m, i) => {
    const path = `mounts[${i}]`;
    if (!c.obj(path, m)) return;
    const mount = m as Obj;
    if (c.str(`${path}.destination`, mount.destination, true) && !(mount.destination as string).startsWith("/"))
      c.bad(`${path}.destination`, "must be an absolute path inside the container", mount.destination);
    c.str(`${path}.source`, mount.source);
    c.str(`${path}.type`, mount.type);
    c.strings(`${path}.options`, mount.options);
    for (const key of ["uidMappings", "gidMappings"] as const) validateMappings(c, `${path}.${key}`, mount[key]);
  });
}

/** Checks a list of id mappings; returns it typed when every entry is well formed. */
function validateMappings(c: Checker, path: string, v: unknown): IdMapping[] | undefined {
  if (!c.arr(path, v)) return undefined;
  let ok = true;
  (v as unknown[]).forEach((m, i) => {
    if (!c.obj(`${path}[${i}]`, m)) return void (ok = false);
    const map = m as Obj;
    ok = c.int(`${path}[${i}].containerID`, map.containerID, { min: 0, max: 0xfffffffe, required: true }) && ok;
    ok = c.int(`${path}[${i}].hostID`, map.hostID, { min: 0, max: 0xfffffffe, required: true }) && ok;
    ok = c.int(`${path}[${i}].size`, map.size, { min: 1, max: 0xffffffff, required: true }) && ok;
  });
  if (!ok) return undefined;
  const list = v as IdMapping[];
  c.problems.push(...mappingProblems(path, list));
  return list;
}

function validateHooks(c: Checker, v: unknown) {
  if (!c.obj("hooks", v)) return;
  for (const [name, list] of Object.entries(v as Obj)) {
    if (!HOOK_NAMES.includes(name)) {
      c.bad(`hooks.${name}`, `is not a hook kind (expected one of ${HOOK_NAMES.join(", ")})`, name);
      continue;
    }
    if (!c.arr(`hooks.${name}`, list)) continue;
    (list as unknown[]).forEach((h, i) => {
      const path = `hooks.${name}[${i}]`;
      if (!c.obj(path, h)) return;
      const hook = h as Obj;
      c.absPath(`${path}.path`, hook.path, true);
      c.strings(`${path}.args`, hook.args);
      c.strings(`${path}.env`, hook.env);
      c.int(`${path}.timeout`, hook.timeout, { min: 1 });
    });
  }
}

/** The process's ids must exist in a new user namespace: the kernel refuses setuid/setgid to unmapped ids. */
function coverage(c: Checker, process: unknown, uidMaps: IdMapping[] | undefined, gidMaps: IdMapping[] | undefined) {
  if (!isObj(process) || !isObj(process.user)) return;
  const u = process.user;
  const shown = (list: IdMapping[]) => list.map((m) => `${m.containerID}..${m.containerID + m.size - 1}`).join(", ");
  if (uidMaps?.length && isInt(u.uid) && !maps(uidMaps, u.uid))
    c.problems.push(`process.user.uid: ${u.uid} is not mapped by linux.uidMappings (container ids ${shown(uidMaps)})`);
  if (!gidMaps?.length) return;
  if (isInt(u.gid) && !maps(gidMaps, u.gid))
    c.problems.push(`process.user.gid: ${u.gid} is not mapped by linux.gidMappings (container ids ${shown(gidMaps)})`);
  if (Array.isArray(u.additionalGids))
    u.additionalGids.forEach((g, i) => {
      if (isInt(g) && !maps(gidMaps, g))
        c.problems.push(`process.user.additionalGids[${i}]: ${g} is not mapped by linux.gidMappings (container ids ${shown(gidMaps)})`);
    });
}

interface NsSummary {
  newUts: boolean;
}

function validateLinux(c: Checker, v: unknown, process: unknown): NsSummary {
  const summary: NsSummary = { newUts: false };
  if (!c.obj("linux", v)) return summary;
  const l = v as Obj;
  const types = new Map<string, Obj>();
  if (c.arr("linux.namespaces", l.namespaces)) {
    (l.namespaces as unknown[]).forEach((n, i) => {
      const path = `linux.namespaces[${i}]`;
      if (!c.obj(path, n)) return;
      const ns = n as Obj;
      if (c.str(`${path}.type`, ns.type, true)) {
        if (!(NAMESPACE_TYPES as readonly string[]).includes(ns.type as string))
          c.bad(`${path}.type`, `is not a namespace type (expected one of ${NAMESPACE_TYPES.join(", ")})`, ns.type);
        else if (types.has(ns.type as string)) c.bad(`${path}.type`, "is listed twice", ns.type);
        types.set(ns.type as string, ns);
      }
      if (ns.path !== undefined) c.absPath(`${path}.path`, ns.path);
    });
  }
  summary.newUts = types.has("uts") && types.get("uts")?.path === undefined;
  const uidMaps = validateMappings(c, "linux.uidMappings", l.uidMappings);
  const gidMaps = validateMappings(c, "linux.gidMappings", l.gidMappings);
  const user = types.get("user");
  if (user && user.path === undefined) coverage(c, process, uidMaps, gidMaps);
  if (user && user.path === undefined) {
    if (!Array.isArray(l.uidMappings) || l.uidMappings.length === 0)
      c.problems.push("linux.uidMappings: a new user namespace needs at least one uid mapping");
    if (!Array.isArray(l.gidMappings) || l.gidMappings.length === 0)
      c.problems.push("linux.gidMappings: a new user namespace needs at least one gid mapping");
  }
  if ((l.uidMappings !== undefined || l.gidMappings !== undefined) && !user)
    c.problems.push(`linux.uidMappings: mappings need a new user namespace (add {"type":"user"} to linux.namespaces)`);

  if (c.obj("linux.timeOffsets", l.timeOffsets)) {
    if (!(types.has("time") && types.get("time")?.path === undefined))
      c.problems.push(`linux.timeOffsets: needs a new time namespace (add {"type":"time"} to linux.namespaces)`);
    for (const [clock, off] of Object.entries(l.timeOffsets as Obj)) {
      const path = `linux.timeOffsets.${clock}`;
      if (clock !== "monotonic" && clock !== "boottime") c.bad(path, "clock must be monotonic or boottime", clock);
      if (!c.obj(path, off)) continue;
      const o = off as Obj;
      c.int(`${path}.secs`, o.secs);
      c.int(`${path}.nanosecs`, o.nanosecs, { min: 0, max: 999_999_999 });
    }
  }
  if (c.arr("linux.devices", l.devices))
    (l.devices as unknown[]).forEach((d, i) => {
      const path = `linux.devices[${i}]`;
      if (!c.obj(path, d)) return;
      const dev = d as Obj;
      if (c.str(`${path}.type`, dev.type, true) && !["c", "b", "u", "p"].includes(dev.type as string))
        c.bad(`${path}.type`, "must be c, b, u or p", dev.type);
      c.absPath(`${path}.path`, dev.path, true);
      const needsNumbers = dev.type !== "p";
      c.int(`${path}.major`, dev.major, { min: 0, required: needsNumbers });
      c.int(`${path}.minor`, dev.minor, { min: 0, required: needsNumbers });
      c.int(`${path}.fileMode`, dev.fileMode, { min: 0, max: 0o7777 });
      c.int(`${path}.uid`, dev.uid, { min: 0 });
      c.int(`${path}.gid`, dev.gid, { min: 0 });
    });
  c.str("linux.cgroupsPath", l.cgroupsPath);
  if (c.str("linux.rootfsPropagation", l.rootfsPropagation) && !PROPAGATIONS.includes(l.rootfsPropagation as string))
    c.bad("linux.rootfsPropagation", `must be one of ${PROPAGATIONS.join(", ")}`, l.rootfsPropagation);
  for (const key of ["maskedPaths", "readonlyPaths"] as const)
    if (c.arr(`linux.${key}`, l[key])) (l[key] as unknown[]).forEach((p, i) => c.absPath(`linux.${key}[${i}]`, p));
  if (c.obj("linux.sysctl", l.sysctl))
    for (const [key, value] of Object.entries(l.sysctl as Obj)) {
      c.str(`linux.sysctl.${key}`, value);
      const need = sysctlNamespace(key);
      if (need === undefined) c.bad(`linux.sysctl.${key}`, "is not a namespaced sysctl (only kernel.msg*/sem*/shm*, fs.mqueue.*, net.*, kernel.hostname/domainname may be set)", key);
      else if (!types.has(need))
        c.bad(`linux.sysctl.${key}`, `needs a ${need} namespace of the container's own`, key);
    }
  return summary;
}

/** The namespace a sysctl belongs to, as runc decides it; undefined when it is host-wide. */
export function sysctlNamespace(key: string): "ipc" | "network" | "uts" | undefined {
  if (/^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(key) || key.startsWith("fs.mqueue."))
    return "ipc";
  if (key.startsWith("net.")) return "network";
  if (key === "kernel.hostname" || key === "kernel.domainname") return "uts";
  return undefined;
}

/** Throws ConfigError unless the config is valid; returns it typed. */
export function parseSpec(raw: unknown): Spec {
  const problems = validateSpec(raw);
  if (problems.length) throw new ConfigError(problems);
  return raw as Spec;
}
