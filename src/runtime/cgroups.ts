/** The runtime's view of a container's cgroups (the cgroups layer does the work). */
import type { Spec } from "../oci/types.ts";

export interface ContainerCgroups {
  /** JSON-serialisable record kept in the container state */
  record: unknown;
  /** cgroup.procs files the launcher joins before it creates namespaces */
  procsFiles: string[];
  destroy(): void;
  pids(): number[];
  isFrozen(): boolean;
  thaw(): void;
}

/** Creates the container's cgroups with its resources, or returns undefined when it gets none. */
export function cgroupsFor(_spec: Spec, _id: string): ContainerCgroups | undefined {
  return undefined;
}

/** Re-opens the cgroups of an existing container from its record. */
export function cgroupsFromRecord(_record: unknown): ContainerCgroups | undefined {
  return undefined;
}
