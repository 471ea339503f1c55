/**
 * The CNI runtime: runs a network's plugin chain for ADD, DEL, CHECK, STATUS, GC and
 * VERSION, keeps libcni's result cache, and runs isola's own plugin types in-process.
 */
import { checkAttachment } from "./attachment.ts";
import { cachePath, decodeConfig, encodeConfig, listCache, readCache, removeCache, writeCache, type CacheRecord } from "./cache.ts";
import { CniError, configError, ErrorCode } from "./errors.ts";
import { execPlugin, findPlugin, timeoutError } from "./exec.ts";
import { parseConfList } from "./conflist.ts";
import type { InProcessPlugin, PluginCall, PluginInvoker } from "./plugin.ts";
import { builtinPlugin, isBuiltinType } from "./plugins/registry.ts";
import type { Attachment, Command, NetConfList, PluginConf, Result, RuntimeConfig } from "./types.ts";
import { atLeast, compareVersions, CURRENT_VERSION, requireVersion } from "./version.ts";

export const DEFAULT_PLUGIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin"];
export const DEFAULT_CACHE_DIR = "/var/lib/cni";
/** How the runtime's API names an attachment's fields in errors. */
const API_FIELDS = { containerId: "containerId", ifName: "ifName" };
/** How a plugin call names them (the CNI environment). */
const ENV_FIELDS = { containerId: "CNI_CONTAINERID", ifName: "CNI_IFNAME" };

export interface RuntimeOptions {
  /** where plugin executables are looked up, in order */
  pluginDirs?: string[];
  cacheDir?: string;
  /** per plugin invocation, exec'd or in-process (default 60 s) */
  timeoutMs?: number;
  /** run isola-* plugin types inside this process (default true) */
  inProcess?: boolean;
}

export interface AttachOptions extends Attachment {
  netns: string;
  /** CNI_ARGS pairs */
  args?: [string, string][];
  /** values for plugins' capabilities: portMappings, ips, mac, labels, ... */
  capabilityArgs?: RuntimeConfig;
}

export class CniRuntime implements PluginInvoker {
  readonly pluginDirs: string[];
  readonly cacheDir: string;
  readonly timeoutMs: number;
  readonly inProcess: boolean;
  private readonly paths = new Map<string, string>();
  /** in-process calls that timed out, still ending (their signal is aborted) */
  private readonly abandoned = new Set<Promise<void>>();

  constructor(opts: RuntimeOptions = {}) {
    this.pluginDirs = opts.pluginDirs ?? DEFAULT_PLUGIN_DIRS;
    this.cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.inProcess = opts.inProcess ?? true;
  }

  /** PluginInvoker: runs one plugin by type (also used by plugins delegating to IPAM). */
  async invoke(type: string, call: PluginCall): Promise<unknown> {
    if (call.command === "ADD" || call.command === "DEL" || call.command === "CHECK") checkAttachment(call, ENV_FIELDS);
    const builtin = this.inProcess ? await builtinPlugin(type) : undefined;
    if (builtin) {
      // what the executable's skeleton checks, before the plugin sees the call
      if (call.command !== "VERSION") requireVersion(call.config.cniVersion ?? CURRENT_VERSION, builtin.supportedVersions, type);
      return this.runBuiltin(type, builtin, call);
    }
    const exe = await this.resolve(type);
    if (!exe) throw new CniError(ErrorCode.invalidNetworkConfig, `plugin type "${type}" not found in ${this.pluginDirs.join(", ")}`);
    return execPlugin(exe, call, { timeoutMs: this.timeoutMs });
  }

  /**
   * An in-process call under the same timeout as an exec'd plugin, with the same error. It
   * cannot be killed: its signal is aborted instead, which ends its waits (locks, the plugins
   * it runs, which are killed if exec'd), and settle() waits for it to end.
   */
  private async runBuiltin(type: string, p: InProcessPlugin, call: PluginCall): Promise<unknown> {
    const parent = call.signal;
    if (parent?.aborted) throw parent.reason;
    const ctl = new AbortController();
    const onParent = () => ctl.abort(parent!.reason);
    parent?.addEventListener("abort", onParent, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = timeoutError(type, call.command, this.timeoutMs);
        ctl.abort(e);
        reject(e);
      }, this.timeoutMs);
    });
    const run = runInProcess(p, { ...call, signal: ctl.signal }, this);
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
      if (ctl.signal.aborted) {
        const ending: Promise<void> = run.then(
          () => undefined,
          () => undefined,
        );
        this.abandoned.add(ending);
        void ending.then(() => this.abandoned.delete(ending));
      }
    }
  }

  private async resolve(type: string): Promise<string | undefined> {
    const hit = this.paths.get(type);
    if (hit) return hit;
    const p = await findPlugin(type, this.pluginDirs);
    if (p) this.paths.set(type, p);
    return p;
  }

  /** Refuses a list naming a plugin (or IPAM) type that cannot be found, before anything runs. */
  async checkPluginsExist(list: NetConfList): Promise<void> {
    for (const [i, p] of list.plugins.entries()) {
      const types: [string, string][] = [[`plugins[${i}].type`, p.type]];
      if (p.ipam?.type) types.push([`plugins[${i}].ipam.type`, p.ipam.type]);
      for (const [field, type] of types) {
        if (this.inProcess && isBuiltinType(type)) continue;
        if (!(await this.resolve(type)))
          throw configError(field, `unknown plugin type "${type}" (expected an executable in ${this.pluginDirs.join(", ")}${this.inProcess ? " or an isola-* type" : ""})`);
      }
    }
  }

  /** Lets each in-process plugin of the chain refuse the ADD's config before any plugin runs. */
  private async preflight(list: NetConfList, att: AttachOptions): Promise<void> {
    if (!this.inProcess) return;
    for (const [i, p] of list.plugins.entries()) (await builtinPlugin(p.type))?.preflight?.(this.call(list, i, "ADD", att, undefined));
  }

  private call(list: NetConfList, i: number, command: Command, att: AttachOptions, prev: Result | undefined): PluginCall {
    return {
      command,
      containerId: att.containerId,
      netns: att.netns,
      ifName: att.ifName,
      args: (att.args ?? []).map(([k, v]) => `${k}=${v}`).join(";"),
      path: this.pluginDirs,
      config: pluginConfig(list, list.plugins[i]!, prev, att.capabilityArgs),
    };
  }

  /**
   * ADD: runs the chain in order, caches the final result; on failure undoes the whole
   * chain (DEL in reverse, prevResult = the last result a plugin returned).
   */
  async add(list: NetConfList, att: AttachOptions): Promise<Result> {
    checkAttachment(att, API_FIELDS);
    await this.checkPluginsExist(list);
    await this.preflight(list, att);
    const path = cachePath(this.cacheDir, list.name, att.containerId, att.ifName);
    // A result left by a crashed runtime: tear the old attachment down first.
    const stale = await readCache(path);
    if (stale) await this.delFromCache(stale, path).catch(() => undefined);
    let prev: Result | undefined;
    try {
      for (let i = 0; i < list.plugins.length; i++) {
        const out = await this.invoke(list.plugins[i]!.type, this.call(list, i, "ADD", att, prev));
        prev = normalizeResult(out, list.cniVersion, `plugins[${i}] (${list.plugins[i]!.type})`);
      }
    } catch (e) {
      // Undo with the last result the chain produced, so each plugin finds what it made.
      await this.runDel(list, att, prev).catch(() => undefined);
      throw e;
    }
    const result = prev ?? { cniVersion: list.cniVersion };
    const rec: CacheRecord = {
      kind: "cniCacheV1",
      containerId: att.containerId,
      config: encodeConfig(list.bytes),
      ifName: att.ifName,
      networkName: list.name,
      netns: att.netns,
      result,
    };
    if (att.args?.length) rec.cniArgs = att.args;
    if (att.capabilityArgs) rec.capabilityArgs = att.capabilityArgs;
    try {
      await writeCache(path, rec);
    } catch (e) {
      await this.runDel(list, att, result).catch(() => undefined);
      throw e;
    }
    return result;
  }

  private async runDel(list: NetConfList, att: AttachOptions, prev: Result | undefined): Promise<void> {
    let first: unknown;
    for (let i = list.plugins.length - 1; i >= 0; i--) {
      try {
        await this.invoke(list.plugins[i]!.type, this.call(list, i, "DEL", att, prev));
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }

  private async delFromCache(rec: CacheRecord, path: string): Promise<void> {
    const list = parseConfList(decodeConfig(rec.config), path);
    const att: AttachOptions = { containerId: rec.containerId, ifName: rec.ifName, netns: rec.netns ?? "" };
    if (rec.cniArgs) att.args = rec.cniArgs;
    if (rec.capabilityArgs) att.capabilityArgs = rec.capabilityArgs;
    await this.runDel(list, att, rec.result);
    await removeCache(path);
  }

  /**
   * DEL: the chain in reverse with the cached result as prevResult; idempotent. The
   * cached runtime values (port mappings…) are used when the caller gives none.
   */
  async del(list: NetConfList, att: AttachOptions): Promise<void> {
    checkAttachment(att, API_FIELDS);
    const path = cachePath(this.cacheDir, list.name, att.containerId, att.ifName);
    const rec = await readCache(path);
    const a: AttachOptions = { ...att };
    if (!a.capabilityArgs && rec?.capabilityArgs) a.capabilityArgs = rec.capabilityArgs;
    if (!a.args && rec?.cniArgs) a.args = rec.cniArgs;
    await this.runDel(list, a, rec?.result);
    await removeCache(path);
  }

  /** CHECK: each plugin verifies the attachment against the cached result. */
  async check(list: NetConfList, att: AttachOptions): Promise<void> {
    if (!atLeast(list.cniVersion, "0.4.0")) throw new CniError(ErrorCode.incompatibleVersion, `CHECK needs cniVersion 0.4.0 or later, the network has ${list.cniVersion}`);
    checkAttachment(att, API_FIELDS);
    if (list.disableCheck) return;
    const path = cachePath(this.cacheDir, list.name, att.containerId, att.ifName);
    const rec = await readCache(path);
    if (!rec?.result) throw new CniError(ErrorCode.unknownContainer, `no cached result for container ${att.containerId} interface ${att.ifName} on network ${list.name}`);
    const a: AttachOptions = { ...att };
    if (!a.capabilityArgs && rec.capabilityArgs) a.capabilityArgs = rec.capabilityArgs;
    for (let i = 0; i < list.plugins.length; i++) await this.invoke(list.plugins[i]!.type, this.call(list, i, "CHECK", a, rec.result));
  }

  /** Waits for background kernel work of earlier DELs (veth pairs being unregistered) and for in-process calls that timed out to end. */
  async settle(): Promise<void> {
    while (this.abandoned.size) await Promise.all([...this.abandoned]);
    await (await import("./host.ts")).netHost().settle();
  }

  /** The cached result of an attachment, if any. */
  async cachedResult(list: NetConfList, att: Attachment): Promise<Result | undefined> {
    checkAttachment(att, API_FIELDS);
    return (await readCache(cachePath(this.cacheDir, list.name, att.containerId, att.ifName)))?.result;
  }

  /** STATUS (CNI 1.1): whether each plugin is ready for ADDs. */
  async status(list: NetConfList): Promise<void> {
    if (!atLeast(list.cniVersion, "1.1.0")) return;
    await this.checkPluginsExist(list);
    const none: AttachOptions = { containerId: "", ifName: "", netns: "" };
    for (let i = 0; i < list.plugins.length; i++) await this.invoke(list.plugins[i]!.type, this.call(list, i, "STATUS", none, undefined));
  }

  /**
   * GC (CNI 1.1): DELs cached attachments that are not in `valid`, then lets each plugin
   * release whatever else it holds for attachments not in `valid`.
   */
  async gc(list: NetConfList, valid: readonly Attachment[]): Promise<void> {
    const keep = new Set(valid.map((v) => `${v.containerId}\0${v.ifName}`));
    let first: unknown;
    for (const { path, rec } of await listCache(this.cacheDir, list.name)) {
      if (keep.has(`${rec.containerId}\0${rec.ifName}`)) continue;
      await this.delFromCache(rec, path).catch((e) => (first ??= e));
    }
    if (atLeast(list.cniVersion, "1.1.0") && !list.disableGC) {
      const none: AttachOptions = { containerId: "", ifName: "", netns: "" };
      for (let i = 0; i < list.plugins.length; i++) {
        const call = this.call(list, i, "GC", none, undefined);
        call.config["cni.dev/valid-attachments"] = valid.map((v) => ({ containerID: v.containerId, ifname: v.ifName }));
        await this.invoke(list.plugins[i]!.type, call).catch((e) => (first ??= e));
      }
    }
    if (first) throw first;
  }

  /** VERSION of each plugin; refuses a list whose cniVersion a plugin does not speak. */
  async versions(list: NetConfList): Promise<{ type: string; supportedVersions: string[] }[]> {
    await this.checkPluginsExist(list);
    const out: { type: string; supportedVersions: string[] }[] = [];
    for (const [i, p] of list.plugins.entries()) {
      const call: PluginCall = { command: "VERSION", containerId: "", netns: "", ifName: "", args: "", path: this.pluginDirs, config: { cniVersion: list.cniVersion } as PluginConf };
      const res = (await this.invoke(p.type, call)) as { supportedVersions?: string[] } | undefined;
      const supported = res?.supportedVersions ?? [];
      if (!supported.includes(list.cniVersion))
        throw new CniError(ErrorCode.incompatibleVersion, `plugins[${i}].type: plugin "${p.type}" speaks CNI ${supported.sort(compareVersions).join(", ")}, not the network's cniVersion ${list.cniVersion}`);
      out.push({ type: p.type, supportedVersions: supported });
    }
    return out;
  }
}

/** The stdin config for plugin i, as libcni builds it: name, cniVersion, prevResult, runtimeConfig. */
export function pluginConfig(list: NetConfList, plugin: PluginConf, prev: Result | undefined, caps: RuntimeConfig | undefined): PluginConf {
  const conf: PluginConf = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prev) conf.prevResult = prev;
  else delete conf.prevResult;
  if (plugin.capabilities && caps) {
    const rc: RuntimeConfig = {};
    for (const [k, on] of Object.entries(plugin.capabilities)) if (on && caps[k] !== undefined) rc[k] = caps[k];
    if (Object.keys(rc).length) conf.runtimeConfig = rc;
  }
  return conf;
}

function normalizeResult(out: unknown, version: string, who: string): Result {
  if (typeof out !== "object" || out === null) throw new CniError(ErrorCode.decoding, `${who} returned no result from ADD`);
  const r = { ...(out as Result), cniVersion: version };
  if (atLeast(version, "1.0.0") && r.ips) r.ips = r.ips.map(({ ...ip }) => (delete (ip as Record<string, unknown>).version, ip));
  return r;
}

async function runInProcess(p: InProcessPlugin, call: PluginCall, inv: PluginInvoker): Promise<unknown> {
  switch (call.command) {
    case "ADD":
      return p.add(call, inv);
    case "DEL":
      return p.del(call, inv);
    case "CHECK":
      return p.check(call, inv);
    case "STATUS":
      return p.status?.(call, inv);
    case "GC":
      return p.gc?.(call, inv);
    case "VERSION":
      return { cniVersion: call.config.cniVersion, supportedVersions: [...p.supportedVersions] };
  }
}
