/**
 * The result cache on disk, in libcni's layout: `<cacheDir>/results/<net>-<cid>-<if>`
 * holding a "cniCacheV1" record, so other libcni users read what we write.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { Result, RuntimeConfig } from "./types.ts";

export interface CacheRecord {
  kind: "cniCacheV1";
  containerId: string;
  /** base64 of the conflist bytes, as Go's []byte marshals */
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: RuntimeConfig;
  result?: Result;
}

export function cachePath(cacheDir: string, net: string, containerId: string, ifName: string): string {
  return `${cacheDir}/results/${net}-${containerId}-${ifName}`;
}

export async function readCache(path: string): Promise<CacheRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const rec = JSON.parse(text) as CacheRecord;
    return rec.kind === "cniCacheV1" ? rec : undefined;
  } catch {
    return undefined; // a torn or foreign file is treated as absent
  }
}

export async function writeCache(path: string, rec: CacheRecord): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, JSON.stringify(rec), { mode: 0o600 });
  await rename(tmp, path);
}

export async function removeCache(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Every cached attachment of one network. */
export async function listCache(cacheDir: string, net: string): Promise<{ path: string; rec: CacheRecord }[]> {
  let names: string[];
  try {
    names = await readdir(`${cacheDir}/results`);
  } catch {
    return [];
  }
  const out: { path: string; rec: CacheRecord }[] = [];
  for (const n of names) {
    if (!n.startsWith(`${net}-`) || n.includes(".tmp")) continue;
    const path = `${cacheDir}/results/${n}`;
    const rec = await readCache(path);
    if (rec && rec.networkName === net) out.push({ path, rec });
  }
  return out;
}

export function encodeConfig(bytes: string): string {
  return Buffer.from(bytes, "utf8").toString("base64");
}

export function decodeConfig(b64: string): string {
  return Buffer.from(b64, "base64").toString("utf8");
}
