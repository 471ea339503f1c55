/**
 * Capabilities this kernel does not have (above /proc/sys/kernel/cap_last_cap: a newer name on
 * an older kernel) are left out with a warning naming each, as runc ignores "unknown or
 * unavailable capabilities"; capset and the bounding drop would otherwise fail the start.
 * (Ambient ones that are not also permitted and inheritable are left out by the plan without a
 * word, as runc does: its own default spec lists ambient capabilities without inheritable.)
 */
import * as fs from "node:fs";
import { CAPABILITIES } from "../oci/capabilities.ts";
import type { Process } from "../oci/types.ts";

const SETS = ["bounding", "effective", "permitted", "inheritable", "ambient"] as const;

function lastCap(): number {
  try {
    return Number(fs.readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"));
  } catch {
    return Math.max(...Object.values(CAPABILITIES));
  }
}

/** The process with capabilities this kernel lacks left out, and a warning for each thing dropped. */
export function capabilitiesForKernel(proc: Process, last = lastCap()): { proc: Process; warnings: string[] } {
  const caps = proc.capabilities;
  if (!caps) return { proc, warnings: [] };
  const warnings: string[] = [];
  const out: NonNullable<Process["capabilities"]> = {};
  for (const set of SETS) {
    const list = caps[set];
    if (list === undefined) continue;
    out[set] = list.filter((name, i) => {
      const bit = CAPABILITIES[name.toUpperCase() as keyof typeof CAPABILITIES];
      if (bit !== undefined && bit > last) {
        warnings.push(`process.capabilities.${set}[${i}]: ${name} is unknown to this kernel (its last capability is ${last}): left out`);
        return false;
      }
      return true;
    });
  }
  return { proc: { ...proc, capabilities: out }, warnings };
}
