// cgroup v2 device access control: the rules compiled to eBPF (device_filter.ts) and attached
// to the cgroup by the native helper bin/isola-cgroup-devices.
import * as fs from "node:fs";
import * as path from "node:path";
import { CgroupError, type LinuxResources } from "../resources.ts";
import { effectiveDeviceRules, type DeviceRule } from "../devices.ts";
import { compileDeviceFilter, encodeProgram } from "./device_filter.ts";

const HELPER = "isola-cgroup-devices";

/** Where the helper is: $ISOLA_CGROUP_DEVICES, beside the running executable, or the repo's bin/. */
export function deviceHelperPath(): string | undefined {
  const candidates = [
    process.env.ISOLA_CGROUP_DEVICES,
    path.join(path.dirname(process.execPath), HELPER),
    path.join(import.meta.dir, "../../../bin", HELPER),
  ];
  return candidates.find((p): p is string => p !== undefined && p !== "" && fs.existsSync(p));
}

/** Compiles and attaches the device filter for `rules` to a cgroup v2 directory, replacing the previous one. */
export function attachDeviceRules(dir: string, rules: DeviceRule[]): void {
  const helper = deviceHelperPath();
  if (helper === undefined) {
    throw new CgroupError(`linux.resources.devices: cannot apply device rules on cgroup v2: ${HELPER} was not found (build it with make -C native)`, "linux.resources.devices");
  }
  const prog = encodeProgram(compileDeviceFilter(rules));
  const r = Bun.spawnSync([helper, "attach", dir], { stdin: prog, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    const why = r.stderr.toString().trim() || `exit status ${r.exitCode}`;
    throw new CgroupError(`linux.resources.devices: attaching the eBPF device filter to ${dir} failed: ${why}`, "linux.resources.devices");
  }
}

/** IDs of the device programs attached to a cgroup v2 directory (for tests and diagnostics). */
export function attachedDevicePrograms(dir: string): number[] {
  const helper = deviceHelperPath();
  if (helper === undefined) return [];
  const r = Bun.spawnSync([helper, "query", dir], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new CgroupError(`querying device programs of ${dir} failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().split("\n").filter((l) => l !== "").map(Number);
}

/** Applies linux.resources.devices (plus runc's default allow list) to a v2 cgroup. */
export function applyDevicesV2(dir: string, r: LinuxResources): void {
  attachDeviceRules(dir, effectiveDeviceRules(r.devices));
}
