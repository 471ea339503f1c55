/** CNI spec versions: comparison and negotiation. Pure. */
import { CniError, ErrorCode } from "./errors.ts";

/** Every spec version this runtime and isola's plugins speak, oldest first. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const CURRENT_VERSION = "1.1.0";

export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** <0, 0, >0 like a comparator; unparsable versions sort first. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a) ?? [-1, 0, 0];
  const y = parseVersion(b) ?? [-1, 0, 0];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

export function atLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/**
 * Refuses a cniVersion outside `supported` as libcni and the reference plugins do: CNI
 * error 1 (incompatible CNI version), naming the version and the supported list.
 */
export function requireVersion(version: string, supported: readonly string[], who: string): void {
  if (!supported.includes(version))
    throw new CniError(ErrorCode.incompatibleVersion, `cniVersion: ${JSON.stringify(version)} is not supported by ${who} (expected one of ${[...supported].sort(compareVersions).join(", ")})`);
}

/**
 * CNI 1.1 `cniVersions`: the highest listed version this runtime supports, else the
 * plain `cniVersion`.
 */
export function pickConfigVersion(cniVersion: string, cniVersions: readonly string[] | undefined): string {
  const ours = new Set<string>(SUPPORTED_VERSIONS);
  const usable = (cniVersions ?? []).filter((v) => ours.has(v)).sort(compareVersions);
  return usable.at(-1) ?? cniVersion;
}
