/**
 * Checks of uid/gid mappings as the kernel applies them (user_namespaces(7)), pure.
 * Used for linux.uidMappings/gidMappings and for idmapped mounts' mappings.
 */
import type { IdMapping } from "./types.ts";

/** The kernel's limit of lines in uid_map / gid_map (since Linux 4.15). */
export const MAX_MAP_LINES = 340;
/** The largest id a mapping may cover: (u32)-1 is the "invalid id". */
export const MAX_ID = 0xfffffffe;

const range = (first: number, size: number) => `${first}..${first + size - 1}`;

/**
 * Problems in one list of mappings (entries already typed): ranges past the
 * largest id, overlapping container or host ranges, too many lines.
 */
export function mappingProblems(path: string, maps: readonly IdMapping[]): string[] {
  const out: string[] = [];
  if (maps.length > MAX_MAP_LINES) out.push(`${path}: ${maps.length} mappings, the kernel accepts at most ${MAX_MAP_LINES}`);
  maps.forEach((m, i) => {
    if (m.containerID + m.size - 1 > MAX_ID)
      out.push(`${path}[${i}]: container ids ${range(m.containerID, m.size)} go past ${MAX_ID}, the largest id`);
    if (m.hostID + m.size - 1 > MAX_ID) out.push(`${path}[${i}]: host ids ${range(m.hostID, m.size)} go past ${MAX_ID}, the largest id`);
    for (let j = 0; j < i; j++) {
      const o = maps[j]!;
      if (m.containerID < o.containerID + o.size && o.containerID < m.containerID + m.size)
        out.push(`${path}[${i}]: overlaps ${path}[${j}] (container ids ${range(o.containerID, o.size)})`);
      if (m.hostID < o.hostID + o.size && o.hostID < m.hostID + m.size)
        out.push(`${path}[${i}]: overlaps ${path}[${j}] (host ids ${range(o.hostID, o.size)})`);
    }
  });
  return out;
}

/** Whether a container id is covered by the mappings. */
export function maps(list: readonly IdMapping[] | undefined, id: number): boolean {
  return (list ?? []).some((m) => id >= m.containerID && id < m.containerID + m.size);
}

/** The host id a container id maps to, if mapped. */
export function toHost(list: readonly IdMapping[] | undefined, id: number): number | undefined {
  const m = (list ?? []).find((m) => id >= m.containerID && id < m.containerID + m.size);
  return m ? m.hostID + (id - m.containerID) : undefined;
}

/** A host id range a caller may map: its own id, or a subordinate range from /etc/subuid. */
export interface Delegation {
  start: number;
  size: number;
}

/**
 * Problems with mappings a caller without root wants: every host range must be its
 * own id or lie inside one of its subordinate ranges (file names the source).
 */
export function delegationProblems(
  path: string,
  list: readonly IdMapping[],
  own: number,
  delegated: readonly Delegation[],
  file: string,
): string[] {
  const out: string[] = [];
  list.forEach((m, i) => {
    if (m.size === 1 && m.hostID === own) return;
    if (delegated.some((d) => m.hostID >= d.start && m.hostID + m.size <= d.start + d.size)) return;
    const owned = delegated.length ? delegated.map((d) => range(d.start, d.size)).join(", ") : "none";
    out.push(`${path}[${i}]: host ids ${range(m.hostID, m.size)} are not yours to map (your own id is ${own}; your ranges in ${file}: ${owned})`);
  });
  return out;
}

/** Parses /etc/subuid or /etc/subgid content: the ranges of a user given by name or id. */
export function parseSubordinateIds(text: string, user: { name?: string; id: number }): Delegation[] {
  const out: Delegation[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const [who, start, size] = t.split(":");
    if (who === undefined || start === undefined || size === undefined) continue;
    if (who !== user.name && who !== String(user.id)) continue;
    const s = Number(start);
    const n = Number(size);
    if (Number.isInteger(s) && Number.isInteger(n) && n > 0) out.push({ start: s, size: n });
  }
  return out;
}
