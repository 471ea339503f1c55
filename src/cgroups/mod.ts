// isola's cgroup layer: one manager for cgroup v1, v2 and hybrid hosts. See docs/cgroups.md.
export { openCgroupManager, detectMounts } from "./manager.ts";
export type { CgroupManager, CgroupRecord, CreateOptions, Layout, OpenOptions } from "./manager.ts";
export { validateResources } from "./validate.ts";
export { CgroupError } from "./resources.ts";
export type { LinuxResources } from "./resources.ts";
export type { Stats } from "./stats.ts";
export { sharesToWeight, blkioWeightToIoWeight, swapToV2 } from "./convert.ts";
export { compileDeviceFilter, encodeProgram, disassemble } from "./v2/device_filter.ts";
export { DEFAULT_ALLOWED_DEVICES, effectiveDeviceRules } from "./devices.ts";
export { formatEvent, stringifyExact } from "./events.ts";
export { attachDeviceRules, attachedDevicePrograms, deviceHelperPath } from "./v2/devices.ts";
export { planUpdate, resourcesFromFlags, mergeResources, withLinkedFields, UPDATE_FLAGS } from "./update_flags.ts";
