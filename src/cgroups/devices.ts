// Device rules, shared by the v1 devices controller and the v2 eBPF filter. Pure.
import type { LinuxDeviceCgroup } from "./resources.ts";

/** A normalized rule: type "a" (any), "b" or "c"; -1 is the wildcard for major/minor. */
export interface DeviceRule {
  allow: boolean;
  type: "a" | "b" | "c";
  major: number;
  minor: number;
  access: string;
}

const rule = (type: "b" | "c", major: number, minor: number, access: string): DeviceRule => ({ allow: true, type, major, minor, access });

/**
 * The devices every container may use, appended after the spec's rules as runc does
 * (specconv.AllowedDevices): mknod of any node, the standard character devices, ptys, and
 * /dev/net/tun (runc 1.1 and again since 1.2.4: rootless network helpers open it; its node is
 * not made, only the cgroup allows it).
 */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceRule[] = [
  rule("c", -1, -1, "m"),
  rule("b", -1, -1, "m"),
  rule("c", 1, 3, "rwm"), // /dev/null
  rule("c", 1, 8, "rwm"), // /dev/random
  rule("c", 1, 7, "rwm"), // /dev/full
  rule("c", 5, 0, "rwm"), // /dev/tty
  rule("c", 1, 5, "rwm"), // /dev/zero
  rule("c", 1, 9, "rwm"), // /dev/urandom
  rule("c", 136, -1, "rwm"), // /dev/pts/*
  rule("c", 5, 2, "rwm"), // /dev/ptmx
  rule("c", 10, 200, "rwm"), // /dev/net/tun
];

/** Normalizes one OCI rule: missing type is "a", missing major/minor are wildcards, missing access is "rwm". */
export function normalizeRule(d: LinuxDeviceCgroup): DeviceRule {
  const access = [..."rwm"].filter((c) => (d.access ?? "rwm").includes(c)).join("");
  return {
    allow: d.allow,
    type: d.type === "b" || d.type === "c" ? d.type : "a",
    major: d.major === undefined || d.major === null ? -1 : d.major,
    minor: d.minor === undefined || d.minor === null ? -1 : d.minor,
    access,
  };
}

/** The rules the kernel gets: the spec's, then runc's default allow list. */
export function effectiveDeviceRules(spec: LinuxDeviceCgroup[] | undefined, withDefaults = true): DeviceRule[] {
  const rules = (spec ?? []).map(normalizeRule);
  return withDefaults ? [...rules, ...DEFAULT_ALLOWED_DEVICES] : rules;
}

/** True for "a *:* rwm": a rule that matches every device and every access. */
export function isWildcardAll(r: DeviceRule): boolean {
  return r.type === "a" && r.major === -1 && r.minor === -1 && r.access === "rwm";
}

/**
 * Reduces rules to a default action plus the rules that follow the last match-everything rule
 * (a later rule wins, and "a *:* rwm" overrides everything before it). Default is allow, as a
 * fresh cgroup is, until a deny-all appears.
 */
export function reduceRules(rules: DeviceRule[]): { defaultAllow: boolean; rules: DeviceRule[] } {
  let defaultAllow = true;
  let start = 0;
  rules.forEach((r, i) => {
    if (isWildcardAll(r)) {
      defaultAllow = r.allow;
      start = i + 1;
    }
  });
  // Empty-access rules match nothing.
  return { defaultAllow, rules: rules.slice(start).filter((r) => r.access !== "") };
}

/** The v1 devices.allow / devices.deny writes for a rule list. */
export function v1DeviceWrites(rules: DeviceRule[]): { file: string; value: string; field: string }[] {
  const { defaultAllow, rules: rest } = reduceRules(rules);
  const field = "linux.resources.devices";
  const out = [{ file: defaultAllow ? "devices.allow" : "devices.deny", value: "a", field: `${field} (default ${defaultAllow ? "allow" : "deny"})` }];
  const num = (n: number) => (n < 0 ? "*" : String(n));
  for (const r of rest) {
    // v1 reads a leading "a" as "all devices", so a typed-any rule with numbers becomes b + c.
    const types = r.type === "a" ? (r.major === -1 && r.minor === -1 ? ["a"] : ["b", "c"]) : [r.type];
    for (const t of types) {
      const value = t === "a" ? "a" : `${t} ${num(r.major)}:${num(r.minor)} ${r.access}`;
      out.push({ file: r.allow ? "devices.allow" : "devices.deny", value, field: `${field} (${r.allow ? "allow" : "deny"} ${value})` });
    }
  }
  return out;
}

/**
 * What a v1 devices cgroup allows, as the kernel keeps it: a default and the exceptions to it,
 * each "type major:minor" with its access bits. Rules are applied as the kernel applies writes:
 * an "a" resets both; in a deny-default cgroup an allow adds bits to its exact entry and a deny
 * removes bits from it.
 */
export interface V1DeviceState {
  defaultAllow: boolean;
  exceptions: Map<string, string>;
}

const ACCESS_ORDER = "rwm";
const bits = (a: string) => [...ACCESS_ORDER].filter((c) => a.includes(c)).join("");

/** Parses devices.list: "a *:* rwm" alone means allow-all; otherwise the allowed exceptions. */
export function parseDevicesList(text: string): V1DeviceState | undefined {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length === 1 && lines[0] === "a *:* rwm") return { defaultAllow: true, exceptions: new Map() };
  const exceptions = new Map<string, string>();
  for (const l of lines) {
    const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(l);
    if (!m) return undefined; // not a list we understand: no transition, the full rewrite
    exceptions.set(`${m[1]} ${m[2]}:${m[3]}`, bits(m[4]!));
  }
  return { defaultAllow: false, exceptions };
}

/** The state a v1 rule list leaves (the writes of v1DeviceWrites, applied as the kernel does). */
export function v1DeviceState(rules: DeviceRule[]): V1DeviceState {
  const state: V1DeviceState = { defaultAllow: true, exceptions: new Map() };
  for (const w of v1DeviceWrites(rules)) {
    if (w.value === "a") {
      state.defaultAllow = w.file === "devices.allow";
      state.exceptions.clear();
      continue;
    }
    const [type, nums, access = ""] = w.value.split(" ");
    const key = `${type} ${nums}`;
    // in a deny-default cgroup allows add exceptions and denies remove bits (an allow-default one: the reverse)
    const adds = (w.file === "devices.allow") !== state.defaultAllow;
    const cur = state.exceptions.get(key) ?? "";
    const next = adds ? bits(cur + access) : [...cur].filter((c) => !access.includes(c)).join("");
    if (next === "") state.exceptions.delete(key);
    else state.exceptions.set(key, next);
  }
  return state;
}

/**
 * The v1 writes that take a live cgroup from `current` to what `rules` describe without a
 * moment in which it allows less than both (runc's transition, not deny-all then re-allow: a
 * running container would get EPERM on /dev/null meanwhile). Only when both are deny-default;
 * otherwise undefined, and the full rewrite applies.
 */
export function v1DeviceTransition(current: V1DeviceState, rules: DeviceRule[]): { file: string; value: string; field: string }[] | undefined {
  const target = v1DeviceState(rules);
  if (current.defaultAllow || target.defaultAllow) return undefined;
  const field = "linux.resources.devices";
  const out: { file: string; value: string; field: string }[] = [];
  // first what the target adds, then what it takes away
  for (const [key, access] of target.exceptions) {
    const have = current.exceptions.get(key) ?? "";
    const add = [...access].filter((c) => !have.includes(c)).join("");
    if (add) out.push({ file: "devices.allow", value: `${key} ${add}`, field: `${field} (allow ${key} ${add})` });
  }
  for (const [key, have] of current.exceptions) {
    const keep = target.exceptions.get(key) ?? "";
    const drop = [...have].filter((c) => !keep.includes(c)).join("");
    if (drop) out.push({ file: "devices.deny", value: `${key} ${drop}`, field: `${field} (deny ${key} ${drop})` });
  }
  return out;
}
