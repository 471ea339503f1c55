/** Named networks on disk: one conflist per network in `<root>/networks/<name>.conflist`. */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { parseConfList } from "./conflist.ts";
import { CniError, ErrorCode } from "./errors.ts";
import { parseCidr, type Prefix } from "./ip.ts";
import { withLock } from "./lockfile.ts";
import { planNetwork, type ExistingNetwork, type NetworkMeta, type NetworkOptions } from "./network_plan.ts";
import type { NetConfList } from "./types.ts";

export interface Network {
  name: string;
  list: NetConfList;
  meta: NetworkMeta | undefined;
  path: string;
}

export class NetworkStore {
  constructor(readonly dir: string) {}

  async list(): Promise<Network[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: Network[] = [];
    for (const n of names.filter((n) => n.endsWith(".conflist")).sort()) out.push(await this.load(n.slice(0, -".conflist".length)));
    return out;
  }

  async get(name: string): Promise<Network | undefined> {
    try {
      return await this.load(name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async require(name: string): Promise<Network> {
    const n = await this.get(name);
    if (!n) throw new CniError(ErrorCode.invalidNetworkConfig, `--network: no network named "${name}" (see isola network ls)`);
    return n;
  }

  private async load(name: string): Promise<Network> {
    const path = `${this.dir}/${name}.conflist`;
    const text = await readFile(path, "utf8");
    const list = parseConfList(text, path);
    const meta = (JSON.parse(text) as { isola?: NetworkMeta }).isola;
    return { name, list, meta, path };
  }

  /**
   * Plans and records a network under the store's lock (`<dir>/.lock`), so concurrent creates
   * never pick overlapping subnets or the same name: each sees the networks recorded before it.
   */
  async create(opts: NetworkOptions, hostRoutes: readonly Prefix[]): Promise<Network> {
    return withLock(`${this.dir}/.lock`, async () => {
      const existing: ExistingNetwork[] = (await this.list()).map((n) => ({ name: n.name, subnets: n.meta?.subnets ?? subnetsOfList(n.list) }));
      const conf = planNetwork(opts, existing, hostRoutes, new Date().toISOString());
      const text = JSON.stringify(conf, null, 2) + "\n";
      parseConfList(text, opts.name); // what we write must load
      await mkdir(this.dir, { recursive: true });
      const path = `${this.dir}/${opts.name}.conflist`;
      const tmp = `${path}.tmp${process.pid}`;
      await writeFile(tmp, text);
      await rename(tmp, path);
      return this.load(opts.name);
    }, { what: `the networks in ${this.dir}` });
  }

  async remove(name: string): Promise<void> {
    await rm(`${this.dir}/${name}.conflist`, { force: true });
  }
}

function subnetsOfList(list: NetConfList): string[] {
  const out: string[] = [];
  for (const p of list.plugins) {
    const ranges = (p.ipam?.ranges ?? []) as { subnet?: string }[][];
    for (const set of ranges) for (const r of set) if (r.subnet) out.push(r.subnet);
    if (typeof p.ipam?.subnet === "string") out.push(p.ipam.subnet);
  }
  return out;
}

/** IPv4 routes of the current namespace (so a new network avoids ranges in use). */
export async function hostRoutes(): Promise<Prefix[]> {
  let text: string;
  try {
    text = await readFile("/proc/self/net/route", "utf8");
  } catch {
    return [];
  }
  const out: Prefix[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const le = (h: string) => [6, 4, 2, 0].map((i) => parseInt(h.slice(i, i + 2), 16)).join(".");
    const dst = le(f[1]!);
    const mask = le(f[7]!).split(".").map(Number).reduce((a, b) => a + (b.toString(2).match(/1/g)?.length ?? 0), 0);
    const p = parseCidr(`${dst}/${mask}`);
    if (p) out.push(p.prefix);
  }
  return out;
}
