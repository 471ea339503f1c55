/**
 * isola's Landlock extension: the annotation `org.isola.landlock` holds a JSON policy
 *
 *   {"rules": [{"path": "/data", "access": ["read_file", "read_dir"]}], "handled": ["read_file", ...]}
 *
 * `handled` lists the filesystem rights the container loses everywhere except beneath a
 * rule's path (default: every right); each rule gives back `access` (a subset of `handled`)
 * beneath `path`, a path inside the container. Pure: parsing and validation only.
 */
import type { Spec } from "./types.ts";

export const LANDLOCK_ANNOTATION = "org.isola.landlock";

/** Landlock's filesystem rights (LANDLOCK_ACCESS_FS_*), by the names of the kernel's constants. */
export const LANDLOCK_FS_RIGHTS: Readonly<Record<string, bigint>> = {
  execute: 1n << 0n,
  write_file: 1n << 1n,
  read_file: 1n << 2n,
  read_dir: 1n << 3n,
  remove_dir: 1n << 4n,
  remove_file: 1n << 5n,
  make_char: 1n << 6n,
  make_dir: 1n << 7n,
  make_reg: 1n << 8n,
  make_sock: 1n << 9n,
  make_fifo: 1n << 10n,
  make_block: 1n << 11n,
  make_sym: 1n << 12n,
  refer: 1n << 13n,
  truncate: 1n << 14n,
  ioctl_dev: 1n << 15n,
};
const ALL_RIGHTS = Object.values(LANDLOCK_FS_RIGHTS).reduce((a, b) => a | b, 0n);

export interface LandlockPolicy {
  /** rights restricted (the launcher masks them to what the kernel's ABI knows) */
  handled: bigint;
  rules: { path: string; access: bigint }[];
}

/** The policy of the annotation, undefined without it; problems name the field. */
export function parseLandlock(annotations: Record<string, string> | undefined, errors: string[]): LandlockPolicy | undefined {
  const text = annotations?.[LANDLOCK_ANNOTATION];
  if (text === undefined) return undefined;
  const F = `annotations["${LANDLOCK_ANNOTATION}"]`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    errors.push(`${F}: not valid JSON (${(e as Error).message})`);
    return undefined;
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    errors.push(`${F}: expected an object like {"rules":[{"path":"/data","access":["read_file","read_dir"]}]}`);
    return undefined;
  }
  const obj = raw as Record<string, unknown>;
  const before = errors.length;
  for (const k of Object.keys(obj)) if (k !== "rules" && k !== "handled") errors.push(`${F}.${k}: unknown field (expected "rules" and optionally "handled")`);
  const rights = (v: unknown, field: string): bigint => {
    if (!Array.isArray(v) || v.length === 0) {
      errors.push(`${field}: expected a non-empty array of access rights (${Object.keys(LANDLOCK_FS_RIGHTS).join(", ")})`);
      return 0n;
    }
    let mask = 0n;
    v.forEach((name, i) => {
      const bit = typeof name === "string" ? LANDLOCK_FS_RIGHTS[name] : undefined;
      if (bit === undefined) errors.push(`${field}[${i}]: ${JSON.stringify(name)} is not a Landlock access right (expected one of ${Object.keys(LANDLOCK_FS_RIGHTS).join(", ")})`);
      else mask |= bit;
    });
    return mask;
  };
  const handled = obj.handled === undefined ? ALL_RIGHTS : rights(obj.handled, `${F}.handled`);
  const rules: LandlockPolicy["rules"] = [];
  if (!Array.isArray(obj.rules)) errors.push(`${F}.rules: expected an array of {"path","access"} rules`);
  else
    obj.rules.forEach((r: unknown, i) => {
      const R = `${F}.rules[${i}]`;
      if (!r || typeof r !== "object" || Array.isArray(r)) {
        errors.push(`${R}: expected an object {"path","access"}`);
        return;
      }
      const rule = r as Record<string, unknown>;
      for (const k of Object.keys(rule)) if (k !== "path" && k !== "access") errors.push(`${R}.${k}: unknown field (expected "path" and "access")`);
      if (typeof rule.path !== "string" || !rule.path.startsWith("/")) errors.push(`${R}.path: expected an absolute path inside the container, found ${JSON.stringify(rule.path)}`);
      const access = rights(rule.access, `${R}.access`);
      const extra = access & ~handled;
      if (extra) {
        const names = Object.entries(LANDLOCK_FS_RIGHTS).filter(([, b]) => extra & b).map(([n]) => n);
        errors.push(`${R}.access: ${names.join(", ")} not in "handled" (a right that is not handled is never restricted)`);
      }
      if (typeof rule.path === "string") rules.push({ path: rule.path, access });
    });
  return errors.length === before ? { handled, rules } : undefined;
}

/**
 * The policy of a spec, checking that the kernel will let the process apply it: Landlock needs
 * no_new_privs, or CAP_SYS_ADMIN kept in the effective set.
 */
export function landlockOfSpec(spec: Spec, errors: string[]): LandlockPolicy | undefined {
  const policy = parseLandlock(spec.annotations, errors);
  if (!policy) return undefined;
  const proc = spec.process;
  const keepsSysAdmin = proc?.capabilities?.effective?.includes("CAP_SYS_ADMIN") === true;
  if (proc && proc.noNewPrivileges !== true && !keepsSysAdmin)
    errors.push(`annotations["${LANDLOCK_ANNOTATION}"]: needs process.noNewPrivileges: true (the kernel applies a Landlock ruleset only with no_new_privs or CAP_SYS_ADMIN)`);
  return policy;
}
