// cgroup v1 freezer controller: freezer.state FROZEN / THAWED.
import type { Controller } from "../controller.ts";

export const FREEZER_STATE = "freezer.state";

/** True when freezer.state says the cgroup is frozen (FREEZING is not yet). */
export function isFrozenV1(state: string | undefined): boolean {
  return (state ?? "").trim() === "FROZEN";
}

export const freezer: Controller = { name: "freezer", needs: () => false, writes: () => [], stats: () => {} };
