// The CNI runtime against fake plugin executables that log what they receive: order,
// environment, stdin, prevResult, runtimeConfig filtering, the cache, errors, timeouts.
// No kernel changes: these plugins only write to a temp dir.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { cachePath, decodeConfig } from "./cache.ts";
import { parseConfList } from "./conflist.ts";
import { CniError } from "./errors.ts";
import { acquireLock } from "./lockfile.ts";
import { FilePolicyStore } from "./policy/store.ts";
import { CniRuntime } from "./runtime.ts";

const BUN = new URL("../../node_modules/.bin/bun", import.meta.url).pathname;
let dir: string;
let rt: CniRuntime;

const FAKE = (log: string) => `#!${BUN}
const fs = require("node:fs");
const type = process.argv[1].split("/").pop();
const stdin = fs.readFileSync(0, "utf8");
const conf = JSON.parse(stdin || "{}");
const e = process.env;
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ type, cmd: e.CNI_COMMAND, cid: e.CNI_CONTAINERID, netns: e.CNI_NETNS, ifName: e.CNI_IFNAME, args: e.CNI_ARGS, path: e.CNI_PATH, conf }) + "\\n");
if (e.CNI_COMMAND === "VERSION") { console.log(JSON.stringify({ cniVersion: conf.cniVersion, supportedVersions: ["1.0.0", "1.1.0"] })); process.exit(0); }
if (type === "fake-fail" && e.CNI_COMMAND === "ADD") { console.log(JSON.stringify({ cniVersion: "1.1.0", code: 7, msg: "bad thing", details: "really bad" })); process.exit(1); }
if (type === "fake-crash" && e.CNI_COMMAND === "ADD") { console.error("panic: oops"); process.exit(2); }
if (type === "fake-slow" && e.CNI_COMMAND === "ADD") { Bun.sleepSync(10000); }
if (e.CNI_COMMAND === "ADD") {
  const prev = conf.prevResult ?? { cniVersion: conf.cniVersion, interfaces: [], ips: [] };
  prev.interfaces = [...(prev.interfaces ?? []), { name: type }];
  if (!prev.ips.length) prev.ips = [{ address: "10.1.2.3/24", version: "4" }];
  console.log(JSON.stringify(prev));
}
`;

async function log(): Promise<Record<string, any>[]> {
  const text = await readFile(`${dir}/log`, "utf8").catch(() => "");
  await rm(`${dir}/log`, { force: true });
  return text.trim() ? text.trim().split("\n").map((l) => JSON.parse(l)) : [];
}

beforeAll(async () => {
  dir = await mkdtemp(`${tmpdir()}/isola-cni-rt-`);
  for (const t of ["fake-a", "fake-b", "fake-fail", "fake-crash", "fake-slow"]) {
    await writeFile(`${dir}/${t}`, FAKE(`${dir}/log`));
    await chmod(`${dir}/${t}`, 0o755);
  }
  rt = new CniRuntime({ pluginDirs: [dir], cacheDir: `${dir}/cache`, timeoutMs: 5000 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const list = (types: string[], extra: Record<string, unknown> = {}) =>
  parseConfList(JSON.stringify({ cniVersion: "1.1.0", name: "fakenet", ...extra, plugins: types.map((type, i) => ({ type, capabilities: i === 1 ? { portMappings: true } : {} })) }));

test("ADD runs the chain in order with prevResult, filtered runtimeConfig and the CNI environment, and caches as libcni", async () => {
  const l = list(["fake-a", "fake-b"]);
  const res = await rt.add(l, { containerId: "c1", ifName: "eth0", netns: "/run/netns/x", args: [["IgnoreUnknown", "1"]], capabilityArgs: { portMappings: [{ hostPort: 80, containerPort: 80 }], labels: { app: "web" } } });
  expect(res.interfaces!.map((i) => i.name)).toEqual(["fake-a", "fake-b"]);
  expect(res.ips![0]).toEqual({ address: "10.1.2.3/24" }); // 0.x "version" dropped for 1.x
  const calls = await log();
  expect(calls.map((c) => `${c.cmd} ${c.type}`)).toEqual(["ADD fake-a", "ADD fake-b"]);
  expect(calls[0]).toMatchObject({ cid: "c1", netns: "/run/netns/x", ifName: "eth0", args: "IgnoreUnknown=1", path: dir });
  expect(calls[0]!.conf.name).toBe("fakenet");
  expect(calls[0]!.conf.cniVersion).toBe("1.1.0");
  expect(calls[0]!.conf.prevResult).toBeUndefined();
  expect(calls[0]!.conf.runtimeConfig).toBeUndefined(); // fake-a declares no capabilities
  expect(calls[1]!.conf.runtimeConfig).toEqual({ portMappings: [{ hostPort: 80, containerPort: 80 }] });
  expect(calls[1]!.conf.prevResult.interfaces).toEqual([{ name: "fake-a" }]);
  const rec = JSON.parse(await readFile(cachePath(`${dir}/cache`, "fakenet", "c1", "eth0"), "utf8"));
  expect(rec).toMatchObject({ kind: "cniCacheV1", containerId: "c1", ifName: "eth0", networkName: "fakenet", cniArgs: [["IgnoreUnknown", "1"]] });
  expect(JSON.parse(decodeConfig(rec.config)).name).toBe("fakenet");

  await rt.check(l, { containerId: "c1", ifName: "eth0", netns: "/run/netns/x" });
  const checks = await log();
  expect(checks.map((c) => `${c.cmd} ${c.type}`)).toEqual(["CHECK fake-a", "CHECK fake-b"]);
  expect(checks[0]!.conf.prevResult.interfaces).toHaveLength(2);

  await rt.del(l, { containerId: "c1", ifName: "eth0", netns: "/run/netns/x" });
  const dels = await log();
  expect(dels.map((c) => `${c.cmd} ${c.type}`)).toEqual(["DEL fake-b", "DEL fake-a"]);
  expect(dels[0]!.conf.prevResult.interfaces).toHaveLength(2);
  expect(dels[0]!.conf.runtimeConfig).toEqual({ portMappings: [{ hostPort: 80, containerPort: 80 }] }); // from the cache
  expect(await readdir(`${dir}/cache/results`)).toEqual([]);
  await rt.del(l, { containerId: "c1", ifName: "eth0", netns: "" }); // idempotent
  expect((await log()).every((c) => c.conf.prevResult === undefined)).toBe(true);
});

test("a plugin's error JSON is surfaced readably, the chain is undone and nothing is cached", async () => {
  const err = (await rt.add(list(["fake-a", "fake-fail", "fake-b"]), { containerId: "c2", ifName: "eth0", netns: "/x" }).catch((e) => e)) as CniError;
  expect(err).toBeInstanceOf(CniError);
  expect(err.code).toBe(7);
  expect(err.message).toBe("plugin fake-fail (ADD) failed: bad thing: really bad");
  const calls = await log();
  expect(calls.map((c) => `${c.cmd} ${c.type}`)).toEqual(["ADD fake-a", "ADD fake-fail", "DEL fake-b", "DEL fake-fail", "DEL fake-a"]);
  // the undo carries the last result the chain produced, as a DEL after a cached ADD would
  for (const d of calls.slice(2)) expect(d.conf.prevResult?.interfaces).toEqual([{ name: "fake-a" }]);
  expect(await readdir(`${dir}/cache/results`)).toEqual([]);
});

test("a crashing plugin's stderr and a hung plugin's timeout become errors", async () => {
  const crash = (await rt.add(list(["fake-crash"]), { containerId: "c3", ifName: "eth0", netns: "/x" }).catch((e) => e)) as Error;
  expect(crash.message).toBe("plugin fake-crash (ADD) exited with status 2: panic: oops");
  const fast = new CniRuntime({ pluginDirs: [dir], cacheDir: `${dir}/cache`, timeoutMs: 300 });
  const slow = (await fast.add(list(["fake-slow"]), { containerId: "c4", ifName: "eth0", netns: "/x" }).catch((e) => e)) as CniError;
  expect(slow.message).toBe("plugin fake-slow (ADD) timed out after 300 ms");
  expect(slow.code).toBe(11);
  await log();
});

test("an in-process plugin that hangs times out as an exec'd one does, and stops: it does not finish later", async () => {
  // isola-policy in-process, stuck on its network's lock, which this test holds
  const store = `${dir}/policy`;
  const l = parseConfList(JSON.stringify({ cniVersion: "1.1.0", name: "hung", plugins: [{ type: "fake-a" }, { type: "isola-policy", dataDir: store }] }));
  const release = await acquireLock(`${store}/locks/hung.lock`);
  const fast = new CniRuntime({ pluginDirs: [dir], cacheDir: `${dir}/cache`, timeoutMs: 300 });
  let e: CniError;
  try {
    e = (await fast.add(l, { containerId: "c5", ifName: "eth0", netns: "/x" }).catch((x) => x)) as CniError;
  } finally {
    release();
  }
  expect(e).toBeInstanceOf(CniError);
  expect(e.message).toBe("plugin isola-policy (ADD) timed out after 300 ms");
  expect(e.code).toBe(11);
  // the runtime undid the chain (the policy DEL timed out the same way) and cached nothing
  expect((await log()).map((c) => `${c.cmd} ${c.type}`)).toEqual(["ADD fake-a", "DEL fake-a"]);
  expect(await readdir(`${dir}/cache/results`)).toEqual([]);
  // once the calls that timed out have ended, none of them registered the container late
  await fast.settle();
  expect(await new FilePolicyStore(store).endpoints("hung")).toEqual([]);
});

test("labels that policies could not select are refused, naming the label, before any plugin runs", async () => {
  const l = parseConfList(JSON.stringify({ cniVersion: "1.1.0", name: "labelled", plugins: [{ type: "fake-a" }, { type: "isola-policy", capabilities: { labels: true }, dataDir: `${dir}/policy` }] }));
  const refused = async (labels: Record<string, unknown>) => {
    const e = (await rt.add(l, { containerId: "c7", ifName: "eth0", netns: "/x", capabilityArgs: { labels: labels as Record<string, string> } }).catch((x) => x)) as CniError;
    expect(e).toBeInstanceOf(CniError);
    expect(e.code).toBe(7);
    return e.message;
  };
  // short enough, but not a label value: a policy selector could never name it
  expect(await refused({ app: "web server" })).toBe('runtimeConfig.labels.app: "web server" is not a label value (expected at most 63 letters, digits, "-", "_", "." starting and ending with a letter or digit)');
  expect(await refused({ tier: "-db" })).toStartWith('runtimeConfig.labels.tier: "-db" is not a label value');
  expect(await refused({ app: 5 })).toStartWith("runtimeConfig.labels.app: 5 is not a label value");
  expect(await refused({ "bad key": "x" })).toStartWith('runtimeConfig.labels: "bad key" is not a label key');
  expect(await refused({ "Example.com/app": "x" })).toBe('runtimeConfig.labels: "Example.com/app" has a bad prefix (expected a DNS subdomain before "/")');
  // nothing ran, nothing cached, nothing registered
  expect(await log()).toEqual([]);
  expect(await readdir(`${dir}/cache/results`).catch(() => [])).toEqual([]);
  expect(await new FilePolicyStore(`${dir}/policy`).endpoints("labelled")).toEqual([]);
  // good labels pass
  await rt.add(l, { containerId: "c7", ifName: "eth0", netns: "/x", capabilityArgs: { labels: { app: "web", "example.com/tier": "", v: "1.2_a" } } });
  expect((await new FilePolicyStore(`${dir}/policy`).endpoints("labelled"))[0]?.labels).toEqual({ app: "web", "example.com/tier": "", v: "1.2_a" });
  await rt.del(l, { containerId: "c7", ifName: "eth0", netns: "/x" });
  expect(await new FilePolicyStore(`${dir}/policy`).endpoints("labelled")).toEqual([]);
  await log();
});

test("a bad container id or interface name is refused (CNI error 4, the field named) before any plugin runs", async () => {
  const l = list(["fake-a"]);
  const bad = async (p: Promise<unknown>) => (await p.catch((e) => e)) as CniError;
  const id = await bad(rt.add(l, { containerId: "../../escape", ifName: "eth0", netns: "/x" }));
  expect(id).toBeInstanceOf(CniError);
  expect(id.code).toBe(4);
  expect(id.message).toBe('containerId: "../../escape" is not a container id (expected letters, digits, "_", "." or "-", starting with a letter or digit)');
  const ifn = await bad(rt.add(l, { containerId: "c6", ifName: "eth0\nlink del lo", netns: "/x" }));
  expect(ifn.code).toBe(4);
  expect(ifn.message).toBe('ifName: "eth0\\nlink del lo" is not an interface name (expected no "/", ":" or whitespace)');
  expect((await bad(rt.del(l, { containerId: "c6", ifName: "toolonginterface0", netns: "/x" }))).message).toBe('ifName: "toolonginterface0" is too long (expected an interface name of 1-15 characters)');
  expect((await bad(rt.check(l, { containerId: "", ifName: "eth0", netns: "/x" }))).message).toStartWith("containerId: missing");
  expect((await bad(rt.cachedResult(l, { containerId: "c6", ifName: ".." }))).code).toBe(4);
  // a direct plugin call (in-process, or as isola-bridge delegates to IPAM) is checked too
  const call = { command: "ADD" as const, containerId: "c6", netns: "/x", ifName: "a:b", args: "", path: [dir], config: { type: "isola-ipam", cniVersion: "1.1.0" } };
  const inv = await bad(rt.invoke("isola-ipam", call));
  expect(inv.code).toBe(4);
  expect(inv.message).toBe('CNI_IFNAME: "a:b" is not an interface name (expected no "/", ":" or whitespace)');
  expect((await bad(rt.invoke("fake-a", { ...call, ifName: "eth0", containerId: "a b" }))).message).toStartWith('CNI_CONTAINERID: "a b" is not a container id');
  expect(await log()).toEqual([]);
  expect(await readdir(`${dir}/cache/results`).catch(() => [])).toEqual([]);
});

test("an unknown plugin type is refused before any plugin runs", async () => {
  const err = (await rt.add(list(["fake-a", "nope"]), { containerId: "c5", ifName: "eth0", netns: "/x" }).catch((e) => e)) as Error;
  expect(err.message).toContain('plugins[1].type: unknown plugin type "nope"');
  expect(await log()).toEqual([]);
});

test("GC deletes cached attachments that are not valid, then passes the valid list to each plugin", async () => {
  const l = list(["fake-a"]);
  await rt.add(l, { containerId: "keep", ifName: "eth0", netns: "/x" });
  await rt.add(l, { containerId: "gone", ifName: "eth0", netns: "/x" });
  await log();
  await rt.gc(l, [{ containerId: "keep", ifName: "eth0" }]);
  const calls = await log();
  expect(calls.map((c) => `${c.cmd} ${c.type} ${c.cid ?? ""}`)).toEqual(["DEL fake-a gone", "GC fake-a "]);
  expect(calls[1]!.conf["cni.dev/valid-attachments"]).toEqual([{ containerID: "keep", ifname: "eth0" }]);
  expect(await readdir(`${dir}/cache/results`)).toEqual(["fakenet-keep-eth0"]);
  await rt.del(l, { containerId: "keep", ifName: "eth0", netns: "/x" });
  await log();
});

test("STATUS and VERSION; 1.0 lists skip STATUS and GC of plugins", async () => {
  await rt.status(list(["fake-a", "fake-b"]));
  expect((await log()).map((c) => c.cmd)).toEqual(["STATUS", "STATUS"]);
  const v = await rt.versions(list(["fake-a"]));
  expect(v).toEqual([{ type: "fake-a", supportedVersions: ["1.0.0", "1.1.0"] }]);
  await log();
  const old = parseConfList(JSON.stringify({ cniVersion: "1.0.0", name: "old", plugins: [{ type: "fake-a" }] }));
  await rt.status(old);
  await rt.gc(old, []);
  expect(await log()).toEqual([]);
});

test("VERSION negotiation: a plugin that does not speak the list's version is refused as incompatible (CNI error 1)", async () => {
  const old = parseConfList(JSON.stringify({ cniVersion: "0.4.0", name: "old", plugins: [{ type: "fake-a" }] }));
  const err = (await rt.versions(old).catch((e) => e)) as CniError;
  expect(err).toBeInstanceOf(CniError);
  expect(err.code).toBe(1);
  expect(err.message).toBe('plugins[0].type: plugin "fake-a" speaks CNI 1.0.0, 1.1.0, not the network\'s cniVersion 0.4.0');
  await log();
});

test("isola's in-process plugins refuse a cniVersion they do not speak, as their executables do", async () => {
  const call = { command: "ADD" as const, containerId: "v1", netns: "/x", ifName: "eth0", args: "", path: [dir], config: { type: "isola-ipam", cniVersion: "9.9.9", ipam: { type: "isola-ipam", dataDir: `${dir}/ipam`, subnet: "10.9.0.0/24" } } };
  for (const type of ["isola-ipam", "isola-bridge", "isola-portmap"]) {
    const err = (await rt.invoke(type, { ...call, config: { ...call.config, type } }).catch((e) => e)) as CniError;
    expect(err).toBeInstanceOf(CniError);
    expect(err.code).toBe(1);
    expect(err.message).toBe(`cniVersion: "9.9.9" is not supported by ${type} (expected one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)`);
  }
  const v010 = (await rt.invoke("isola-ipam", { ...call, config: { ...call.config, cniVersion: "0.1.0" } }).catch((e) => e)) as CniError;
  expect(v010.code).toBe(1);
  expect(await readdir(`${dir}/ipam`).catch(() => [])).toEqual([]); // nothing reserved
  // VERSION itself answers whatever the config says
  expect(await rt.invoke("isola-ipam", { ...call, command: "VERSION" })).toEqual({ cniVersion: "9.9.9", supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] });
});

test("CHECK needs a cached result and respects disableCheck", async () => {
  const err = (await rt.check(list(["fake-a"]), { containerId: "none", ifName: "eth0", netns: "/x" }).catch((e) => e)) as CniError;
  expect(err.code).toBe(3);
  await rt.check(list(["fake-a"], { disableCheck: true }), { containerId: "none", ifName: "eth0", netns: "/x" });
  expect(await log()).toEqual([]);
});

test("isola's own types run in-process: VERSION without exec", async () => {
  const v = await rt.versions(parseConfList(JSON.stringify({ cniVersion: "1.1.0", name: "n", plugins: [{ type: "isola-portmap" }] })));
  expect(v[0]!.supportedVersions).toContain("1.1.0");
  expect(await log()).toEqual([]);
});
