// cgroup v1 devices controller: devices.allow / devices.deny from the effective rule list; an
// update of a live cgroup writes only the difference to what devices.list holds.
import type { Controller } from "../controller.ts";
import { effectiveDeviceRules, parseDevicesList, v1DeviceTransition, v1DeviceWrites } from "../devices.ts";

export const devices: Controller = {
  name: "devices",
  needs: () => true,
  writes: (r, ctx) => {
    const rules = effectiveDeviceRules(r.devices);
    // an unreadable list says nothing of what the cgroup allows: the full rewrite then
    const listed = ctx.updating ? ctx.current("devices.list") : undefined;
    const current = listed !== undefined ? parseDevicesList(listed) : undefined;
    return (current && v1DeviceTransition(current, rules)) ?? v1DeviceWrites(rules);
  },
  stats: () => {},
};
