/**
 * `spec --rootless`: runc's default config adjusted for a caller without root. Pure.
 * Like runc's ToRootless it adds a user namespace mapping the caller to root, drops
 * uid=/gid= mount options (those ids may not exist inside) and linux.resources (no
 * cgroups without delegation). Unlike runc it keeps the network namespace: the
 * container gets loopback only, not the host's network.
 */
import type { Delegation } from "./idmap.ts";
import type { IdMapping, Spec } from "./types.ts";

/** How many subordinate ids a rootless config maps at most (runc/podman map 65536). */
export const ROOTLESS_RANGE = 65536;

export interface RootlessIds {
  uid: number;
  gid: number;
  /** the first subordinate ranges of the caller, used only when newuidmap/newgidmap exist */
  subuid?: Delegation;
  subgid?: Delegation;
}

function mappings(own: number, sub: Delegation | undefined): IdMapping[] {
  const out: IdMapping[] = [{ containerID: 0, hostID: own, size: 1 }];
  if (sub) out.push({ containerID: 1, hostID: sub.start, size: Math.min(sub.size, ROOTLESS_RANGE) });
  return out;
}

export function toRootless(spec: Spec, ids: RootlessIds): Spec {
  const s: Spec = structuredClone(spec);
  const linux = (s.linux ??= {});
  const namespaces = (linux.namespaces ?? []).filter((n) => n.type !== "user");
  namespaces.push({ type: "user" });
  linux.namespaces = namespaces;
  linux.uidMappings = mappings(ids.uid, ids.subuid);
  linux.gidMappings = mappings(ids.gid, ids.subgid);
  delete linux.resources;
  s.mounts = (s.mounts ?? []).map((m) => {
    if (!m.options) return m;
    return { ...m, options: m.options.filter((o) => !o.startsWith("uid=") && !o.startsWith("gid=")) };
  });
  return s;
}
