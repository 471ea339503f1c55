/**
 * Where policies and registered containers live, behind an interface: a local file store
 * now (one JSON file per policy and per attachment, written atomically), a distributed one
 * (etcd) with multi-host networking later.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { withLock } from "../lockfile.ts";
import { parsePolicy, policyDocument, type Endpoint, type Policy } from "./model.ts";

export interface PolicyStore {
  /** every policy, or those of one network */
  policies(network?: string): Promise<Policy[]>;
  getPolicy(name: string): Promise<Policy | undefined>;
  putPolicy(p: Policy): Promise<void>;
  removePolicy(name: string): Promise<void>;
  endpoints(network: string): Promise<Endpoint[]>;
  putEndpoint(network: string, ep: Endpoint): Promise<void>;
  /** removes and returns the attachment's record, if any */
  removeEndpoint(network: string, containerId: string, ifName: string): Promise<Endpoint | undefined>;
  /** forgets every attachment of the network (it is being removed) */
  removeEndpoints(network: string): Promise<void>;
  /** runs `fn` holding the network's lock (changes of one network never interleave) */
  withLock<T>(network: string, fn: () => Promise<T>): Promise<T>;
}

export const DEFAULT_POLICY_DIR = "/var/lib/isola/policy";

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

async function writeAtomic(path: string, data: unknown): Promise<void> {
  await mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const tmp = `${path}.tmp${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, JSON.stringify(data, null, 2) + "\n");
  await rename(tmp, path);
}

/** The local file store: `<dir>/policies/<name>.json`, `<dir>/endpoints/<network>/<cid>-<if>.json`. */
export class FilePolicyStore implements PolicyStore {
  /** `signal`: lock waits end when it is aborted (a plugin call that timed out) */
  constructor(
    readonly dir: string,
    private readonly opts: { signal?: AbortSignal } = {},
  ) {}

  private policyPath(name: string): string {
    return `${this.dir}/policies/${name}.json`;
  }

  private endpointPath(network: string, containerId: string, ifName: string): string {
    return `${this.dir}/endpoints/${network}/${encodeURIComponent(containerId)}-${encodeURIComponent(ifName)}.json`;
  }

  async policies(network?: string): Promise<Policy[]> {
    const names = await readdir(`${this.dir}/policies`).catch(() => [] as string[]);
    const out: Policy[] = [];
    for (const n of names.filter((n) => n.endsWith(".json")).sort()) {
      const p = await this.getPolicy(n.slice(0, -5));
      if (p && (network === undefined || p.network === network)) out.push(p);
    }
    return out;
  }

  async getPolicy(name: string): Promise<Policy | undefined> {
    const path = this.policyPath(name);
    const raw = await readJson(path);
    return raw === undefined ? undefined : parsePolicy(raw, path);
  }

  async putPolicy(p: Policy): Promise<void> {
    await writeAtomic(this.policyPath(p.name), policyDocument(p));
  }

  async removePolicy(name: string): Promise<void> {
    await rm(this.policyPath(name), { force: true });
  }

  async endpoints(network: string): Promise<Endpoint[]> {
    const dir = `${this.dir}/endpoints/${network}`;
    const names = await readdir(dir).catch(() => [] as string[]);
    const out: Endpoint[] = [];
    for (const n of names.filter((n) => n.endsWith(".json")).sort()) {
      const ep = (await readJson(`${dir}/${n}`)) as Endpoint | undefined;
      if (ep) out.push(ep);
    }
    return out;
  }

  async putEndpoint(network: string, ep: Endpoint): Promise<void> {
    await writeAtomic(this.endpointPath(network, ep.containerId, ep.ifName), ep);
  }

  async removeEndpoint(network: string, containerId: string, ifName: string): Promise<Endpoint | undefined> {
    const path = this.endpointPath(network, containerId, ifName);
    const ep = (await readJson(path)) as Endpoint | undefined;
    await rm(path, { force: true });
    return ep;
  }

  async removeEndpoints(network: string): Promise<void> {
    await rm(`${this.dir}/endpoints/${network}`, { recursive: true, force: true });
  }

  /** `<dir>/locks/<network>.lock`, the lock of lockfile.ts (a dead holder's lock is taken over). */
  async withLock<T>(network: string, fn: () => Promise<T>): Promise<T> {
    return withLock(`${this.dir}/locks/${network}.lock`, fn, { what: `network ${network}'s policy store`, ...(this.opts.signal ? { signal: this.opts.signal } : {}) });
  }
}
