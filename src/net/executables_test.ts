// isola's plugins as real CNI plugin executables (bin/cni/isola-* → bin/isola-cni), called
// by exec like any CNI runtime would, inside a test host; and macvlan (reference) delegating
// IPAM to the isola-ipam executable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import type { Result } from "./types.ts";
import { FilePolicyStore } from "./policy/store.ts";
import { isolaConflist, run, TestHost } from "./testing/testhost.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const usable = process.getuid?.() === 0;
let h: TestHost;

beforeAll(async () => {
  if (!usable) return;
  const b = await run(["bash", `${ROOT}scripts/build-net.sh`]);
  if (b.code !== 0) throw new Error(`build-net.sh: ${b.err}`);
  h = await TestHost.create();
}, 120_000);
afterAll(async () => {
  await h?.destroy();
});

describe.skipIf(!usable)("isola plugins as executables", () => {
  test("the skeleton: VERSION, and errors as CNI error JSON on stdout", async () => {
    expect(existsSync(`${ROOT}bin/cni/isola-bridge`)).toBe(true);
    const v = await h.exec(["env", "CNI_COMMAND=VERSION", `${ROOT}bin/cni/isola-ipam`]);
    expect(JSON.parse(v.out).supportedVersions).toContain("1.1.0");
    const bad = await h.exec(["env", "CNI_COMMAND=ADD", `${ROOT}bin/cni/isola-bridge`]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toEqual({ cniVersion: "1.1.0", code: 4, msg: "CNI_CONTAINERID: missing" });
    // a newline in CNI_IFNAME would be a second command in an `ip -batch` run: refused before anything
    const links = await h.links();
    const env = (id: string, ifName: string) => ["env", "CNI_COMMAND=ADD", `CNI_CONTAINERID=${id}`, "CNI_NETNS=/proc/self/ns/net", `CNI_IFNAME=${ifName}`, `${ROOT}bin/cni/isola-bridge`];
    const inj = await h.exec(env("exe0", "eth0\nlink del lo"));
    expect(inj.code).toBe(1);
    expect(JSON.parse(inj.out)).toEqual({ cniVersion: "1.1.0", code: 4, msg: 'CNI_IFNAME: "eth0\\nlink del lo" is not an interface name (expected no "/", ":" or whitespace)' });
    const id = await h.exec(env("../../etc", "eth0"));
    expect(JSON.parse(id.out)).toEqual({ cniVersion: "1.1.0", code: 4, msg: 'CNI_CONTAINERID: "../../etc" is not a container id (expected letters, digits, "_", "." or "-", starting with a letter or digit)' });
    expect(JSON.parse((await h.exec(env("exe0", "."))).out).msg).toBe('CNI_IFNAME: "." is not an interface name (expected a name other than "." and "..")');
    expect(await h.links()).toEqual(links);
    // a cniVersion the plugin does not speak: CNI error 1 naming it and the supported list
    const conf = JSON.stringify({ cniVersion: "9.9.9", name: "v", type: "isola-ipam", ipam: { type: "isola-ipam", dataDir: h.ipamDir, subnet: "10.89.0.0/24" } });
    const ver = await h.exec(["sh", "-c", `printf '%s' '${conf}' | env CNI_COMMAND=ADD CNI_CONTAINERID=v1 CNI_NETNS=/proc/self/ns/net CNI_IFNAME=eth0 ${ROOT}bin/cni/isola-ipam`]);
    expect(JSON.parse(ver.out)).toEqual({ cniVersion: "9.9.9", code: 1, msg: 'cniVersion: "9.9.9" is not supported by isola-ipam (expected one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)' });
  });

  test("ADD, CHECK, DEL by exec: containers reach each other, a published port answers, nothing is left", async () => {
    const conf = isolaConflist(h, { name: "exe", bridge: "isolaexe0", subnets: ["10.84.0.0/24"] });
    const rt = { runtime: { inProcess: false } };
    const c1 = await h.container();
    const c2 = await h.container();
    const r1 = (await h.cni("add", conf, { containerId: "exe1", ifName: "eth0", netns: c1, capabilityArgs: { portMappings: [{ hostPort: 7070, containerPort: 70 }] } }, rt)) as Result;
    const r2 = (await h.cni("add", conf, { containerId: "exe2", ifName: "eth0", netns: c2 }, rt)) as Result;
    const ip2 = r2.ips![0]!.address.split("/")[0]!;
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", ip2], c1)).code).toBe(0);
    await h.cni("check", conf, { containerId: "exe1", ifName: "eth0", netns: c1 }, rt);
    h.background(["busybox", "nc", "-ll", "-p", "70", "-e", "/bin/echo", "exe-hello"], c1);
    let got = "";
    for (let i = 0; i < 50 && !got.includes("exe-hello"); i++) {
      got = (await h.exec(["busybox", "nc", "-w", "2", r1.ips![0]!.gateway!, "7070"])).out;
      if (!got) await Bun.sleep(50);
    }
    expect(got.trim()).toBe("exe-hello");
    await h.cni("del", conf, { containerId: "exe1", ifName: "eth0", netns: c1 }, rt);
    await h.cni("del", conf, { containerId: "exe2", ifName: "eth0", netns: c2 }, rt);
    expect((await h.links()).filter((l) => l.startsWith("isv"))).toEqual([]);
    expect((await readdir(`${h.ipamDir}/exe`)).filter((n) => !n.startsWith("last"))).toEqual([]);
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).not.toContain("7070");
  });

  test("isola-policy by exec in a chain: registers the container's addresses and labels; DEL removes them", async () => {
    const dataDir = `${h.tmp}/policy`;
    const conf = JSON.stringify({
      cniVersion: "1.1.0",
      name: "pol",
      plugins: [
        { type: "isola-bridge", bridge: "isolapol0", isGateway: true, ipMasq: false, ipam: { type: "isola-ipam", dataDir: h.ipamDir, subnet: "10.86.0.0/24" } },
        { type: "isola-policy", capabilities: { labels: true }, dataDir },
      ],
    });
    const rt = { runtime: { inProcess: false } };
    const c1 = await h.container();
    const r = (await h.cni("add", conf, { containerId: "pol1", ifName: "eth0", netns: c1, capabilityArgs: { labels: { app: "web" } } }, rt)) as Result;
    const eps = await new FilePolicyStore(dataDir).endpoints("pol");
    expect(eps.map((e) => ({ id: e.containerId, labels: e.labels, addresses: e.addresses }))).toEqual([{ id: "pol1", labels: { app: "web" }, addresses: [r.ips![0]!.address.split("/")[0]!] }]);
    await h.cni("check", conf, { containerId: "pol1", ifName: "eth0", netns: c1, capabilityArgs: { labels: { app: "web" } } }, rt);
    await h.cni("del", conf, { containerId: "pol1", ifName: "eth0", netns: c1, capabilityArgs: { labels: { app: "web" } } }, rt);
    expect(await new FilePolicyStore(dataDir).endpoints("pol")).toEqual([]);
  });

  test("macvlan (reference) with isola-ipam (exec'd from CNI_PATH): containers reach each other", async () => {
    expect((await h.exec(["ip", "link", "add", "mvp0", "type", "bridge"])).code).toBe(0);
    await h.exec(["ip", "link", "set", "mvp0", "up"]);
    const conf = JSON.stringify({ cniVersion: "1.0.0", name: "mvi", plugins: [{ type: "macvlan", master: "mvp0", mode: "bridge", ipam: { type: "isola-ipam", dataDir: h.ipamDir, subnet: "10.85.0.0/24" } }] });
    const c1 = await h.container();
    const c2 = await h.container();
    await h.cni("add", conf, { containerId: "mvi1", ifName: "eth0", netns: c1 });
    const r2 = (await h.cni("add", conf, { containerId: "mvi2", ifName: "eth0", netns: c2 })) as Result;
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", r2.ips![0]!.address.split("/")[0]!], c1)).code).toBe(0);
    await h.cni("del", conf, { containerId: "mvi1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "mvi2", ifName: "eth0", netns: c2 });
    expect((await readdir(`${h.ipamDir}/mvi`)).filter((n) => !n.startsWith("last"))).toEqual([]);
  });
});
