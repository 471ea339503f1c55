/**
 * isola-ipam: host-local style address management. One file per reserved address,
 * created with O_EXCL (the reservation itself is the atomic step, so concurrent ADDs in
 * any number of processes never get the same address), holding "<containerId>\r\n<ifName>".
 * Beside them, one marker per attachment (`.attachment-<hash>`, same content) from the start
 * of its ADD to its DEL: an ADD that finds its marker follows one that never finished (a
 * crash before the runtime cached the result) and reuses what that one reserved.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { validateRanges, type IpRange } from "../conflist.ts";
import { CniError, configError, ErrorCode } from "../errors.ts";
import { formatAddr, formatPrefix, parseAddr, parseCidr } from "../ip.ts";
import { parseCniArgs, type InProcessPlugin, type PluginCall } from "../plugin.ts";
import type { IpConfig, Result, Route } from "../types.ts";
import { SUPPORTED_VERSIONS } from "../version.ts";
import { candidates, cidrOf, describeSet, rangeFor, rangeGateway } from "./ipam_ranges.ts";

export const DEFAULT_IPAM_DIR = "/var/lib/isola/ipam";
const MAX_TRIES = 1 << 16;

interface IpamSetup {
  dir: string;
  sets: IpRange[][];
  routes: Route[];
  dns: Result["dns"];
}

function setup(call: PluginCall): IpamSetup {
  const ipam = call.config.ipam;
  if (!ipam) throw configError("ipam", "missing (expected an ipam section)");
  const sets = validateRanges(ipam, "ipam");
  const dataDir = typeof ipam.dataDir === "string" ? ipam.dataDir : DEFAULT_IPAM_DIR;
  const net = call.config.name ?? "default";
  const routes = Array.isArray(ipam.routes) ? (ipam.routes as Route[]) : [];
  routes.forEach((r, i) => {
    if (!parseCidr(String(r?.dst))) throw configError(`ipam.routes[${i}].dst`, `${JSON.stringify(r?.dst)} is not a CIDR`);
  });
  return { dir: `${dataDir}/${net}`, sets, routes, dns: ipam.dns as Result["dns"] };
}

function owner(call: PluginCall): string {
  return `${call.containerId}\r\n${call.ifName}`;
}

/** Requested addresses: runtimeConfig.ips, CNI_ARGS IP=, or ipam.ips. */
function requested(call: PluginCall): { field: string; ip: string }[] {
  const rc = call.config.runtimeConfig?.ips;
  if (rc?.length) return rc.map((ip, i) => ({ field: `runtimeConfig.ips[${i}]`, ip }));
  const arg = parseCniArgs(call.args).find(([k]) => k === "IP");
  if (arg?.[1]) return arg[1].split(",").map((ip, i) => ({ field: `CNI_ARGS IP[${i}]`, ip }));
  const fixed = call.config.ipam?.ips;
  if (Array.isArray(fixed)) return fixed.map((ip, i) => ({ field: `ipam.ips[${i}]`, ip: String(ip) }));
  return [];
}

async function reserve(path: string, who: string): Promise<boolean> {
  try {
    const fh = await open(path, "wx", 0o644);
    await fh.writeFile(who);
    await fh.close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/** Not a reservation: the allocator's bookkeeping and the attachment markers. */
function bookkeeping(name: string): boolean {
  return name.startsWith("last_reserved_ip") || name === "lock" || name.startsWith(".");
}

function markerPath(dir: string, who: string): string {
  return `${dir}/.attachment-${createHash("sha256").update(who).digest("hex").slice(0, 32)}`;
}

/** The addresses reserved for the attachment (a scan: only after an ADD that did not finish). */
async function heldBy(dir: string, who: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names) if (!bookkeeping(n) && (await ownedBy(`${dir}/${n}`, who))) out.push(n);
  return out;
}

async function ownedBy(path: string, who: string): Promise<boolean> {
  try {
    return (await readFile(path, "utf8")).trim() === who.trim();
  } catch {
    return false;
  }
}

/** Releases every address held by the attachment, then its marker; `hint` addresses are tried first (no scan). */
async function release(dir: string, who: string, hint: readonly string[]): Promise<void> {
  await releaseAddresses(dir, who, hint);
  if (await ownedBy(markerPath(dir, who), who)) await rm(markerPath(dir, who), { force: true });
}

async function releaseAddresses(dir: string, who: string, hint: readonly string[]): Promise<void> {
  let found = false;
  for (const a of hint) {
    const p = `${dir}/${a}`;
    if (await ownedBy(p, who)) {
      await rm(p, { force: true });
      found = true;
    }
  }
  if (found) return;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (bookkeeping(n)) continue;
    if (await ownedBy(`${dir}/${n}`, who)) await rm(`${dir}/${n}`, { force: true });
  }
}

async function add(call: PluginCall): Promise<Result> {
  const s = setup(call);
  await mkdir(s.dir, { recursive: true });
  const who = owner(call);
  const want = requested(call);
  const ips: IpConfig[] = [];
  const taken: string[] = [];
  const marker = markerPath(s.dir, who);
  // An earlier ADD of this attachment that never got its DEL (it crashed, nothing was
  // cached): what it reserved is reused, or released if this ADD does not need it.
  const held = (await ownedBy(marker, who)) ? await heldBy(s.dir, who) : [];
  try {
    await writeFile(marker, who);
    const wanted = new Map<number, { field: string; ip: string; value: bigint; range: IpRange }>();
    for (const w of want) {
      const a = parseAddr(w.ip.replace(/\/\d+$/, ""));
      if (!a) throw configError(w.field, `${JSON.stringify(w.ip)} is not an IP address`);
      const idx = s.sets.findIndex((set) => rangeFor(set, a));
      if (idx < 0) throw configError(w.field, `${w.ip} is outside the network's subnets ${s.sets.map(describeSet).join("; ")}`);
      if (wanted.has(idx)) throw configError(w.field, `${w.ip} is a second address for the same range set`);
      const range = rangeFor(s.sets[idx]!, a)!;
      if (a.value === rangeGateway(range)) throw configError(w.field, `${w.ip} is the gateway of ${formatPrefix(range.subnet)}`);
      wanted.set(idx, { ...w, value: a.value, range });
    }
    for (const [i, set] of s.sets.entries()) {
      const w = wanted.get(i);
      let got: { value: bigint; range: IpRange } | undefined;
      const reuse = w ? undefined : held.map((n) => parseAddr(n)).find((a) => a !== undefined && rangeFor(set, a) !== undefined);
      if (w) {
        const name = formatAddr({ family: w.range.subnet.family, value: w.value });
        if (!(await reserve(`${s.dir}/${name}`, who)) && !(await ownedBy(`${s.dir}/${name}`, who)))
          throw new CniError(ErrorCode.invalidNetworkConfig, `${w.field}: ${w.ip} is already in use`);
        taken.push(name);
        got = { value: w.value, range: w.range };
      } else if (reuse) {
        taken.push(formatAddr(reuse));
        got = { value: reuse.value, range: rangeFor(set, reuse)! };
      } else {
        const lastPath = `${s.dir}/last_reserved_ip.${i}`;
        const lastText = await readFile(lastPath, "utf8").catch(() => "");
        const last = parseAddr(lastText.trim())?.value;
        let tries = 0;
        for (const c of candidates(set, last)) {
          if (++tries > MAX_TRIES) break;
          const name = formatAddr({ family: c.range.subnet.family, value: c.value });
          if (await reserve(`${s.dir}/${name}`, who)) {
            taken.push(name);
            got = c;
            await writeFile(lastPath, name).catch(() => undefined);
            break;
          }
        }
        if (!got) throw new CniError(ErrorCode.tryAgainLater, `no free address left in ${describeSet(set)}`);
      }
      const gw = rangeGateway(got.range);
      ips.push({ address: cidrOf(got.value, got.range), gateway: formatAddr({ family: got.range.subnet.family, value: gw }) });
    }
    // what the unfinished ADD held and this one does not use
    for (const n of held) if (!taken.includes(n)) await rm(`${s.dir}/${n}`, { force: true });
  } catch (e) {
    for (const n of new Set([...taken, ...held])) if (await ownedBy(`${s.dir}/${n}`, who)) await rm(`${s.dir}/${n}`, { force: true });
    await rm(marker, { force: true });
    throw e;
  }
  const result: Result = { cniVersion: call.config.cniVersion ?? "1.1.0", ips };
  if (s.routes.length) result.routes = s.routes;
  if (s.dns) result.dns = s.dns;
  return result;
}

async function del(call: PluginCall): Promise<void> {
  const s = setup(call);
  const hint = (call.config.prevResult?.ips ?? []).map((i) => i.address.replace(/\/\d+$/, ""));
  await release(s.dir, owner(call), hint);
}

async function check(call: PluginCall): Promise<void> {
  const s = setup(call);
  for (const ip of call.config.prevResult?.ips ?? []) {
    const a = ip.address.replace(/\/\d+$/, "");
    if (!(await ownedBy(`${s.dir}/${a}`, owner(call))))
      throw new CniError(ErrorCode.io, `isola-ipam: ${a} is not reserved for container ${call.containerId} interface ${call.ifName}`);
  }
}

async function gc(call: PluginCall): Promise<void> {
  const s = setup(call);
  const valid = (call.config["cni.dev/valid-attachments"] ?? []) as { containerID: string; ifname: string }[];
  const keep = new Set(valid.map((v) => `${v.containerID}\r\n${v.ifname}`));
  let names: string[];
  try {
    names = await readdir(s.dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (bookkeeping(n) && !n.startsWith(".attachment-")) continue;
    const text = (await readFile(`${s.dir}/${n}`, "utf8").catch(() => "")).trim();
    if (text && !keep.has(text)) await rm(`${s.dir}/${n}`, { force: true });
  }
}

export const isolaIpam: InProcessPlugin = {
  supportedVersions: SUPPORTED_VERSIONS,
  add,
  del,
  check,
  gc,
  async status(call) {
    setup(call);
  },
};
