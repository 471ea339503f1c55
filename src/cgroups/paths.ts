// Pure path logic: /proc/self/cgroup parsing and runc's cgroupsPath semantics.
import { CgroupError } from "./resources.ts";

/** Key of the cgroup2 hierarchy in maps keyed by controller. */
export const UNIFIED = "unified";

/**
 * Parses /proc/<pid>/cgroup into controller → path. v1 lines "4:memory:/a" give "memory";
 * co-mounted "2:cpu,cpuacct:/a" give both; named hierarchies keep their "name=systemd" key;
 * the cgroup2 line "0::/a" gives "unified".
 */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers === "") out[UNIFIED] = path;
    else for (const c of controllers.split(",")) out[c] = path;
  }
  return out;
}

/**
 * systemd's "slice:prefix:name" form mapped to a cgroup path the way systemd lays units out:
 * "a-b.slice" nests as /a.slice/a-b.slice, the unit is "<prefix>-<name>.scope" (or the name
 * itself when it ends in ".slice"). No D-Bus is involved: isola creates the directories itself.
 */
export function systemdPathOf(cgroupsPath: string, rootless = false): string {
  const parts = cgroupsPath.split(":");
  if (parts.length !== 3) {
    throw new CgroupError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} is not of the systemd form "slice:prefix:name"`, "linux.cgroupsPath");
  }
  const [slice = "", prefix = "", name = ""] = parts;
  if (name === "") throw new CgroupError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} has an empty unit name`, "linux.cgroupsPath");
  const sliceName = slice === "" ? (rootless ? "user.slice" : "system.slice") : slice;
  if (!sliceName.endsWith(".slice") || sliceName.includes("/")) {
    throw new CgroupError(`linux.cgroupsPath: slice ${JSON.stringify(sliceName)} must end in ".slice" and contain no "/"`, "linux.cgroupsPath");
  }
  const unit = name.endsWith(".slice") ? name : prefix === "" ? `${name}.scope` : `${prefix}-${name}.scope`;
  return `${expandSlice(sliceName)}/${unit}`;
}

/** "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. */
export function expandSlice(slice: string): string {
  if (slice === "-.slice") return "";
  const base = slice.slice(0, -".slice".length);
  const words = base.split("-");
  let path = "";
  let prefix = "";
  for (const w of words) {
    prefix = prefix === "" ? w : `${prefix}-${w}`;
    path += `/${prefix}.slice`;
  }
  return path;
}

/** True when cgroupsPath has the systemd "slice:prefix:name" shape. */
export function isSystemdPath(cgroupsPath: string): boolean {
  return /^[^/:]*:[^/:]*:[^/:]+$/.test(cgroupsPath);
}

/** Joins path pieces with single slashes, keeping a leading slash. */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/").replace(/\/+/g, "/");
  return joined.length > 1 ? joined.replace(/\/$/, "") : joined;
}

/**
 * The container's cgroup below one hierarchy, as runc resolves cgroupsPath: absolute paths are
 * used as they are under the mount; relative ones nest under the caller's own cgroup in that
 * hierarchy — on a cgroup2-only host under its parent (`besideCaller`), as runc's v2 driver does:
 * the caller's own cgroup holds processes (a session scope, say), so no controller could be
 * enabled below it; empty means `isola-runtime/<id>` relative.
 */
export function resolveCgroupPath(opts: { mount: string; callerPath: string; cgroupsPath: string | undefined; id: string; rootless?: boolean; besideCaller?: boolean }): string {
  let p = opts.cgroupsPath ?? "";
  if (p === "") p = `isola-runtime/${opts.id}`;
  else if (isSystemdPath(p)) p = systemdPathOf(p, opts.rootless ?? false);
  if (p.split("/").some((c) => c === "..")) {
    throw new CgroupError(`linux.cgroupsPath: ${JSON.stringify(opts.cgroupsPath)} must not contain ".."`, "linux.cgroupsPath");
  }
  if (p.replace(/\//g, "") === "") {
    throw new CgroupError(`linux.cgroupsPath: ${JSON.stringify(opts.cgroupsPath)} names the hierarchy root; a container needs its own cgroup`, "linux.cgroupsPath");
  }
  if (p.startsWith("/")) return joinPath(opts.mount, p);
  const base = opts.besideCaller ? opts.callerPath.replace(/\/+[^/]*\/*$/, "") : opts.callerPath;
  return joinPath(opts.mount, base, p);
}
