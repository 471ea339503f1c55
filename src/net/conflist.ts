/**
 * Loading network configuration lists (.conflist) and single configs (.conf) from text,
 * with validation that names the bad field. Pure.
 */
import { CniError, configError, ErrorCode } from "./errors.ts";
import { cidrExpectation, formatPrefix, parseAddr, parseCidr, prefixContains, type Prefix } from "./ip.ts";
import type { NetConfList, PluginConf } from "./types.ts";
import { parseVersion, pickConfigVersion, requireVersion, SUPPORTED_VERSIONS } from "./version.ts";

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const TYPE_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function decode(text: string, source: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniError(ErrorCode.decoding, `${source}: not valid JSON`, (e as Error).message);
  }
  if (!isObject(raw)) throw configError(source, "expected a JSON object");
  return raw;
}

/** Parses and validates a .conflist. `source` prefixes field names in errors (a file name). */
export function parseConfList(text: string, source = "conflist"): NetConfList {
  const raw = decode(text, source);
  return validateConfList(raw, text, source);
}

/** Parses a single-plugin .conf and wraps it into a list, as libcni does. */
export function parseConf(text: string, source = "conf"): NetConfList {
  const raw = decode(text, source);
  const list = { cniVersion: raw.cniVersion, name: raw.name, plugins: [raw] };
  return validateConfList(list, JSON.stringify(list), source);
}

/** Parses either form, by file name (".conflist" vs ".conf"/".json") or by content. */
export function parseNetworkConfig(text: string, source: string): NetConfList {
  if (source.endsWith(".conflist")) return parseConfList(text, source);
  const raw = decode(text, source);
  return "plugins" in raw ? parseConfList(text, source) : parseConf(text, source);
}

function validateConfList(raw: Record<string, unknown>, bytes: string, source: string): NetConfList {
  const at = (f: string) => f;
  const version = raw.cniVersion;
  if (typeof version !== "string" || !parseVersion(version))
    throw configError(at("cniVersion"), `${JSON.stringify(version)} is not a version (expected "x.y.z", e.g. "1.1.0")`);
  let cniVersions: string[] | undefined;
  if (raw.cniVersions !== undefined) {
    if (!Array.isArray(raw.cniVersions)) throw configError("cniVersions", "expected an array of versions");
    raw.cniVersions.forEach((v, i) => {
      if (typeof v !== "string" || !parseVersion(v))
        throw configError(`cniVersions[${i}]`, `${JSON.stringify(v)} is not a version (expected "x.y.z")`);
    });
    cniVersions = raw.cniVersions as string[];
  }
  const name = raw.name;
  if (typeof name !== "string" || !NAME_RE.test(name))
    throw configError("name", `${JSON.stringify(name)} is not a network name (expected letters, digits, "_", "." or "-", starting with a letter or digit)`);
  for (const flag of ["disableCheck", "disableGC", "loadOnlyInlinedPlugins"]) {
    if (raw[flag] !== undefined && typeof raw[flag] !== "boolean")
      throw configError(flag, `expected true or false, found ${JSON.stringify(raw[flag])}`);
  }
  if (!Array.isArray(raw.plugins) || raw.plugins.length === 0)
    throw configError("plugins", "expected a non-empty array of plugin configurations");
  const plugins = raw.plugins.map((p, i) => validatePlugin(p, `plugins[${i}]`));
  void source;
  const picked = pickConfigVersion(version, cniVersions);
  // the runtime reads results in the 0.3+ shape and speaks up to CURRENT_VERSION
  requireVersion(picked, SUPPORTED_VERSIONS, cniVersions ? `isola's CNI runtime, nor is any of cniVersions ${cniVersions.join(", ")}` : "isola's CNI runtime");
  const list: NetConfList = {
    cniVersion: picked,
    name,
    plugins,
    bytes,
  };
  if (cniVersions) list.cniVersions = cniVersions;
  if (raw.disableCheck === true) list.disableCheck = true;
  if (raw.disableGC === true) list.disableGC = true;
  return list;
}

function validatePlugin(p: unknown, field: string): PluginConf {
  if (!isObject(p)) throw configError(field, "expected a plugin configuration object");
  if (typeof p.type !== "string" || !TYPE_RE.test(p.type))
    throw configError(`${field}.type`, `${JSON.stringify(p.type)} is not a plugin type (expected a plugin executable name such as "bridge")`);
  if (p.capabilities !== undefined) {
    if (!isObject(p.capabilities)) throw configError(`${field}.capabilities`, "expected an object of name: true|false");
    for (const [k, v] of Object.entries(p.capabilities))
      if (typeof v !== "boolean") throw configError(`${field}.capabilities.${k}`, `expected true or false, found ${JSON.stringify(v)}`);
  }
  if (p.ipam !== undefined) {
    if (!isObject(p.ipam)) throw configError(`${field}.ipam`, "expected an object with a \"type\"");
    if (typeof p.ipam.type !== "string" || !TYPE_RE.test(p.ipam.type))
      throw configError(`${field}.ipam.type`, `${JSON.stringify(p.ipam.type)} is not a plugin type`);
    if (p.ipam.type === "isola-ipam" || p.ipam.type === "host-local") validateRanges(p.ipam, `${field}.ipam`);
  }
  if (p.mtu !== undefined && (!Number.isInteger(p.mtu) || (p.mtu as number) < 68 || (p.mtu as number) > 65535))
    throw configError(`${field}.mtu`, `${JSON.stringify(p.mtu)} is not an MTU (expected an integer 68-65535)`);
  if (p.type === "isola-bridge" && p.bridge !== undefined && (typeof p.bridge !== "string" || !/^[a-zA-Z0-9_.-]{1,15}$/.test(p.bridge)))
    throw configError(`${field}.bridge`, `${JSON.stringify(p.bridge)} is not an interface name (expected 1-15 letters, digits, "_", "." or "-")`);
  return p as PluginConf;
}

export interface IpRange {
  subnet: Prefix;
  rangeStart?: bigint;
  rangeEnd?: bigint;
  gateway?: bigint;
}

/** Validates host-local style `ranges` (or the legacy `subnet`) and returns them parsed. */
export function validateRanges(ipam: Record<string, unknown>, field: string): IpRange[][] {
  let sets: unknown;
  let setField: (i: number, j: number) => string;
  if (ipam.ranges !== undefined) {
    sets = ipam.ranges;
    setField = (i, j) => `${field}.ranges[${i}][${j}]`;
    if (!Array.isArray(sets) || sets.length === 0) throw configError(`${field}.ranges`, "expected a non-empty array of range sets");
  } else if (ipam.subnet !== undefined) {
    sets = [[{ subnet: ipam.subnet, rangeStart: ipam.rangeStart, rangeEnd: ipam.rangeEnd, gateway: ipam.gateway }]];
    setField = () => field;
  } else {
    throw configError(`${field}.ranges`, "missing (expected ranges: [[{\"subnet\": \"a.b.c.d/n\"}]])");
  }
  const out: IpRange[][] = [];
  const seen: { prefix: Prefix; where: string }[] = [];
  (sets as unknown[]).forEach((set, i) => {
    if (!Array.isArray(set) || set.length === 0) throw configError(`${field}.ranges[${i}]`, "expected a non-empty array of ranges");
    let family: 4 | 6 | undefined;
    out.push(
      set.map((r: unknown, j: number) => {
        const f = setField(i, j);
        if (!isObject(r)) throw configError(f, "expected a range object with a subnet");
        const sub = typeof r.subnet === "string" ? parseCidr(r.subnet) : undefined;
        if (!sub) throw configError(`${f}.subnet`, `${JSON.stringify(r.subnet)} is not a CIDR (${cidrExpectation(String(r.subnet ?? ""))})`);
        const hostBits = (sub.addr.family === 4 ? 32 : 128) - sub.prefix.bits;
        if (hostBits < 2) throw configError(`${f}.subnet`, `${r.subnet} is too small (expected room for at least two addresses)`);
        if (family !== undefined && family !== sub.addr.family)
          throw configError(`${f}.subnet`, `${r.subnet} mixes address families within one range set (expected all IPv${family})`);
        family = sub.addr.family;
        for (const s of seen) {
          if (s.prefix.family === sub.prefix.family && (prefixContains(s.prefix, { family: s.prefix.family, value: sub.prefix.network }) || prefixContains(sub.prefix, { family: s.prefix.family, value: s.prefix.network })))
            throw configError(`${f}.subnet`, `${r.subnet} overlaps ${formatPrefix(s.prefix)} at ${s.where}`);
        }
        seen.push({ prefix: sub.prefix, where: f });
        const range: IpRange = { subnet: sub.prefix };
        for (const key of ["rangeStart", "rangeEnd", "gateway"] as const) {
          const v = r[key];
          if (v === undefined || v === "") continue;
          const a = typeof v === "string" ? parseAddr(v) : undefined;
          if (!a) throw configError(`${f}.${key}`, `${JSON.stringify(v)} is not an IP address`);
          if (!prefixContains(sub.prefix, a)) throw configError(`${f}.${key}`, `${v} is outside the subnet ${formatPrefix(sub.prefix)}`);
          range[key] = a.value;
        }
        if (range.rangeStart !== undefined && range.rangeEnd !== undefined && range.rangeStart > range.rangeEnd)
          throw configError(`${f}.rangeEnd`, `${String(r.rangeEnd)} is before rangeStart ${String(r.rangeStart)}`);
        return range;
      }),
    );
  });
  return out;
}
