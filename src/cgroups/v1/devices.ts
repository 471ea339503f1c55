// cgroup v1 devices controller: devices.allow / devices.deny from the effective rule list.
import type { Controller } from "../controller.ts";
import { effectiveDeviceRules, v1DeviceWrites } from "../devices.ts";

export const devices: Controller = {
  name: "devices",
  needs: () => true,
  writes: (r) => v1DeviceWrites(effectiveDeviceRules(r.devices)),
  stats: () => {},
};
