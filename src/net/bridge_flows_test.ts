// Real flows on isola's own bridge network, inside test hosts (network namespaces that
// play hosts). Nothing here touches the machine's own network namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { hostVethName } from "./plugins/bridge_plan.ts";
import type { Result } from "./types.ts";
import { AgentError, isolaConflist, TestHost } from "./testing/testhost.ts";

const root = process.getuid?.() === 0;
let h: TestHost;

beforeAll(async () => {
  if (root) h = await TestHost.create();
});
afterAll(async () => {
  await h?.destroy();
});

function addr(r: Result, v6 = false): string {
  const ip = r.ips!.find((i) => i.address.includes(":") === v6)!;
  return ip.address.split("/")[0]!;
}

/** What isola-ipam keeps for the network: reservations and attachment markers. */
async function ipamFiles(net = "testnet"): Promise<string[]> {
  return (await readdir(`${h.ipamDir}/${net}`).catch(() => [] as string[])).filter((n) => !n.startsWith("last_reserved"));
}

/** Reserved addresses only. */
async function reservations(net: string): Promise<string[]> {
  return (await ipamFiles(net)).filter((n) => !n.startsWith(".attachment-"));
}

async function cacheFiles(): Promise<string[]> {
  return readdir(`${h.cacheDir}/results`).catch(() => [] as string[]);
}

describe.skipIf(!root)("isola bridge network in a test host", () => {
  test("two containers reach each other and the gateway; a published port answers from the host; DEL leaves nothing", async () => {
    const conf = isolaConflist(h);
    const c1 = await h.container();
    const c2 = await h.container();
    const r1 = (await h.cni("add", conf, { containerId: "flow1", ifName: "eth0", netns: c1, capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] } })) as Result;
    const r2 = (await h.cni("add", conf, { containerId: "flow2", ifName: "eth0", netns: c2 })) as Result;
    expect(r1.interfaces?.[2]).toMatchObject({ name: "eth0", sandbox: c1 });
    expect(addr(r1)).not.toBe(addr(r2));
    const gw = r1.ips![0]!.gateway!;
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", addr(r2)], c1)).code).toBe(0);
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", addr(r1)], c2)).code).toBe(0);
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", gw], c1)).code).toBe(0);
    await h.cni("check", conf, { containerId: "flow1", ifName: "eth0", netns: c1 });

    // TCP between containers, and through the published port from the host (gateway
    // address, loopback) and from the other container (hairpin through the host).
    h.background(["busybox", "nc", "-ll", "-p", "80", "-e", "/bin/echo", "hello-from-c1"], c1);
    const get = async (ip: string, port: number, netns?: string) => {
      for (let i = 0; i < 50; i++) {
        const r = await h.exec(["busybox", "nc", "-w", "2", ip, String(port)], netns);
        if (r.out.includes("hello-from-c1")) return r.out.trim();
        await Bun.sleep(50);
      }
      return "";
    };
    expect(await get(addr(r1), 80, c2)).toBe("hello-from-c1");
    expect(await get(gw, 8080)).toBe("hello-from-c1");
    expect(await get("127.0.0.1", 8080)).toBe("hello-from-c1");
    expect(await get(gw, 8080, c2)).toBe("hello-from-c1");
    expect(await get(gw, 8080, c1)).toBe("hello-from-c1"); // hairpin: back into itself

    // the same host port again is refused, and that ADD leaves nothing behind
    const c3 = await h.container();
    const before = { links: await h.links(), ipam: await ipamFiles() };
    const err = await h.cni("add", conf, { containerId: "flow3", ifName: "eth0", netns: c3, capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80 }] } }).catch((e) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as Error).message).toContain("runtimeConfig.portMappings[0]: host port 8080/tcp is already published");
    expect(await h.links()).toEqual(before.links);
    expect(await ipamFiles()).toEqual(before.ipam);
    expect(await h.links(c3)).toEqual(["lo"]);

    await h.cni("del", conf, { containerId: "flow1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "flow2", ifName: "eth0", netns: c2 });
    await h.cni("del", conf, { containerId: "flow2", ifName: "eth0", netns: c2 }); // idempotent
    expect((await h.links()).sort()).toEqual(["isolatest0", "lo"]);
    expect(await h.links(c1)).toEqual(["lo"]);
    expect(await ipamFiles()).toEqual([]);
    expect(await cacheFiles()).toEqual([]);
    const nft = await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"]);
    expect(nft.out).not.toContain("8080");
  });

  test("an ADD that fails after isola-portmap leaves no published port, and the same port can be published again", async () => {
    // a plugin after isola-portmap that refuses every ADD
    const dir = `${h.tmp}/failing-plugins`;
    await mkdir(dir, { recursive: true });
    await writeFile(`${dir}/fail-add`, `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] || exit 0\necho '{"cniVersion":"1.1.0","code":7,"msg":"fail-add refuses every ADD"}'\nexit 1\n`);
    await chmod(`${dir}/fail-add`, 0o755);
    const good = isolaConflist(h, { name: "undo", bridge: "isolaundo0", subnets: ["10.74.0.0/24"] });
    const failing = JSON.stringify({ ...JSON.parse(good), plugins: [...JSON.parse(good).plugins, { type: "fail-add" }] });
    const rt = { runtime: { pluginDirs: [...h.runtimeOptions().pluginDirs!, dir] } };
    const c = await h.container();
    const att = { containerId: "undo1", ifName: "eth0", netns: c, capabilityArgs: { portMappings: [{ hostPort: 8181, containerPort: 81 }] } };
    const err = (await h.cni("add", failing, att, rt).catch((e) => e)) as Error;
    expect(err.message).toBe("plugin fail-add (ADD) failed: fail-add refuses every ADD");
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).not.toContain("8181");
    expect(await ipamFiles("undo")).toEqual([]);
    expect(await h.links(c)).toEqual(["lo"]);
    expect(await cacheFiles()).toEqual([]);
    // the port is free: a working chain publishes it again, to the new address
    const r = (await h.cni("add", good, att)) as Result;
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).toMatch(new RegExp(`tcp \\. 8181 [^:]*: ${addr(r).replaceAll(".", "\\.")} \\. 81\\b`));
    await h.cni("del", good, att);
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).not.toContain("8181");
  });

  test("DEL without a cached result (the cache entry was lost) still unpublishes the attachment's ports", async () => {
    const conf = isolaConflist(h, { name: "lostc", bridge: "isolalost0", subnets: ["10.73.0.0/24"] });
    const c = await h.container();
    await h.cni("add", conf, { containerId: "lost1", ifName: "eth0", netns: c, capabilityArgs: { portMappings: [{ hostPort: 8282, containerPort: 82 }, { hostPort: 8283, containerPort: 83, protocol: "udp" }] } });
    // another attachment's port must survive
    const other = await h.container();
    await h.cni("add", conf, { containerId: "lost2", ifName: "eth0", netns: other, capabilityArgs: { portMappings: [{ hostPort: 8284, containerPort: 84 }] } });
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).toContain("8282");
    await rm(`${h.cacheDir}/results/lostc-lost1-eth0`);
    // no prevResult and no runtimeConfig: the plugin finds its elements by the attachment
    await h.cni("del", conf, { containerId: "lost1", ifName: "eth0", netns: c });
    const left = (await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out;
    expect(left).not.toContain("8282");
    expect(left).not.toContain("8283");
    expect(left).toContain("8284");
    expect(await reservations("lostc")).toHaveLength(1);
    await h.cni("del", conf, { containerId: "lost2", ifName: "eth0", netns: other });
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).not.toContain("8284");
  });

  test("50 concurrent ADDs get 50 distinct addresses, and 50 DELs release them all", async () => {
    const conf = isolaConflist(h, { name: "many", bridge: "isolamany0", subnets: ["10.78.0.0/24"], portmap: false });
    const nss = await Promise.all(Array.from({ length: 50 }, () => h.container()));
    const results = (await Promise.all(nss.map((ns, i) => h.cni("add", conf, { containerId: `many${i}`, ifName: "eth0", netns: ns })))) as Result[];
    const addrs = new Set(results.map((r) => addr(r)));
    expect(addrs.size).toBe(50);
    expect((await reservations("many")).length).toBe(50);
    await Promise.all(nss.map((ns, i) => h.cni("del", conf, { containerId: `many${i}`, ifName: "eth0", netns: ns })));
    expect(await ipamFiles("many")).toEqual([]);
    expect((await h.links()).filter((l) => l.startsWith("isv"))).toEqual([]);
  });

  test("DEL returns before the kernel has unregistered the pair, and the namespace can be attached again at once", async () => {
    const conf = isolaConflist(h, { name: "again", bridge: "isolaagain0", subnets: ["10.83.0.0/24"] });
    const c = await h.container();
    const att = { containerId: "again1", ifName: "eth0", netns: c, capabilityArgs: { portMappings: [{ hostPort: 5050, containerPort: 50 }] } };
    for (let i = 0; i < 5; i++) {
      await h.cni("add", conf, att);
      await h.cni("del-nowait", conf, att);
    }
    const r = (await h.cni("add", conf, att)) as Result;
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", r.ips![0]!.gateway!], c)).code).toBe(0);
    await h.cni("del", conf, att);
    expect(await h.links(c)).toEqual(["lo"]);
    expect((await h.links()).filter((l) => l.startsWith("isv") || l.startsWith("isz"))).toEqual([]);
  });

  test("GC (CNI 1.1) removes attachments that are not valid, even without a cache entry", async () => {
    const conf = isolaConflist(h, { name: "gc", bridge: "isolagc0", subnets: ["10.87.0.0/24"] });
    const c1 = await h.container();
    const c2 = await h.container();
    const c3 = await h.container();
    await h.cni("add", conf, { containerId: "keep", ifName: "eth0", netns: c1 });
    await h.cni("add", conf, { containerId: "cached", ifName: "eth0", netns: c2 });
    await h.cni("add", conf, { containerId: "lost", ifName: "eth0", netns: c3 });
    await rm(`${h.cacheDir}/results/gc-lost-eth0`); // as if the runtime lost track of it
    // a DEL that crashed after renaming its pair (isz…) and before the background delete ran
    const c4 = await h.container();
    await h.cni("add", conf, { containerId: "crashed", ifName: "eth0", netns: c4 });
    const isv = hostVethName("crashed", "eth0");
    expect((await h.exec(["ip", "link", "set", isv, "down"])).code).toBe(0);
    expect((await h.exec(["ip", "link", "set", isv, "name", "isz0123456789ab"])).code).toBe(0);
    // and one whose bridge was removed since (no master any more)
    expect((await h.exec(["ip", "link", "add", "isz00000000000a", "type", "veth", "peer", "name", "isz00000000000b"])).code).toBe(0);
    expect((await reservations("gc")).length).toBe(4);
    await h.cni("gc", conf, undefined, { valid: [{ containerId: "keep", ifName: "eth0" }] });
    expect((await h.links()).filter((l) => l.startsWith("isz"))).toEqual([]);
    expect(await h.links(c4)).toEqual(["lo"]);
    expect((await reservations("gc")).length).toBe(1);
    expect((await ipamFiles("gc")).length).toBe(2); // and the kept attachment's marker
    expect(await h.links(c2)).toEqual(["lo"]);
    expect(await h.links(c3)).toEqual(["lo"]);
    expect((await h.links(c1)).sort()).toEqual(["eth0", "lo"]);
    expect(await cacheFiles()).toEqual(["gc-keep-eth0"]);
    await h.cni("del", conf, { containerId: "keep", ifName: "eth0", netns: c1 });
  });

  test("IPv6 (dual stack): containers reach each other over IPv6 and the gateway", async () => {
    const conf = isolaConflist(h, { name: "dual", bridge: "isoladual0", subnets: ["10.79.0.0/24", "fd42:1::/64"], portmap: false });
    const c1 = await h.container();
    const c2 = await h.container();
    const r1 = (await h.cni("add", conf, { containerId: "v6a", ifName: "eth0", netns: c1 })) as Result;
    const r2 = (await h.cni("add", conf, { containerId: "v6b", ifName: "eth0", netns: c2 })) as Result;
    expect(addr(r1, true)).toMatch(/^fd42:1::/);
    const ping6 = async (ip: string, ns: string) => {
      for (let i = 0; i < 40; i++) {
        if ((await h.exec(["busybox", "ping", "-6", "-c", "1", "-W", "1", ip], ns)).code === 0) return true;
        await Bun.sleep(50);
      }
      return false;
    };
    expect(await ping6(addr(r2, true), c1)).toBe(true);
    expect(await ping6(r1.ips!.find((i) => i.address.includes(":"))!.gateway!, c1)).toBe(true);
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", addr(r1)], c2)).code).toBe(0);
    await h.cni("del", conf, { containerId: "v6a", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "v6b", ifName: "eth0", netns: c2 });
    expect(await ipamFiles("dual")).toEqual([]);
  });

  test("ADD after a crash (stale cache, container namespace gone) recovers", async () => {
    const conf = isolaConflist(h, { name: "stale", bridge: "isolastale0", subnets: ["10.80.0.0/24"] });
    const c1 = await h.container();
    const first = (await h.cni("add", conf, { containerId: "crashy", ifName: "eth0", netns: c1, capabilityArgs: { portMappings: [{ hostPort: 9090, containerPort: 90 }] } })) as Result;
    // the "crash": the container's namespace disappears without a DEL
    await h.removeContainerNetns(c1);
    await h.recreateContainerNetns(c1);
    const again = (await h.cni("add", conf, { containerId: "crashy", ifName: "eth0", netns: c1, capabilityArgs: { portMappings: [{ hostPort: 9090, containerPort: 90 }] } })) as Result;
    expect(again.ips).toHaveLength(1);
    expect((await reservations("stale")).length).toBe(1);
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", again.ips![0]!.gateway!], c1)).code).toBe(0);
    void first;
    // a crash after the chain ran and before the result was cached: no cache entry, no DEL
    await rm(`${h.cacheDir}/results/stale-crashy-eth0`);
    const third = (await h.cni("add", conf, { containerId: "crashy", ifName: "eth0", netns: c1 })) as Result;
    expect(third.ips![0]!.address).toBe(again.ips![0]!.address);
    expect(await reservations("stale")).toEqual([addr(again)]);
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", again.ips![0]!.gateway!], c1)).code).toBe(0);
    await h.cni("del", conf, { containerId: "crashy", ifName: "eth0", netns: c1 });
    expect(await ipamFiles("stale")).toEqual([]);
    expect((await h.links()).filter((l) => l.startsWith("isv"))).toEqual([]);
  });

  test("a NAT network's masquerading comes back with the next ADD after the firewall was flushed, in the same long-lived runtime", async () => {
    const conf = isolaConflist(h, { name: "masq", bridge: "isolamasq0", subnets: ["10.86.0.0/24"], ipMasq: true });
    const c1 = await h.container();
    const c2 = await h.container();
    const nat = async () => (await h.exec(["nft", "list", "table", "inet", "isola_nat"])).out;
    await h.cni("add", conf, { containerId: "masq1", ifName: "eth0", netns: c1 });
    expect(await nat()).toMatch(/set masq4 \{[^}]*elements = \{ 10\.86\.0\.0\/24 \}/);
    expect((await h.exec(["nft", "flush", "ruleset"])).code).toBe(0);
    const e = (await h.cni("check", conf, { containerId: "masq1", ifName: "eth0", netns: c1 }).catch((x) => x)) as Error;
    expect(e.message).toContain("isola-bridge: NAT of bridge isolamasq0 is not in place");
    // the agent is one process: a once-per-process guard would not run again
    await h.cni("add", conf, { containerId: "masq2", ifName: "eth0", netns: c2 });
    const after = await nat();
    expect(after).toMatch(/set masq4 \{[^}]*elements = \{ 10\.86\.0\.0\/24 \}/);
    expect(after).toMatch(/set bridges \{[^}]*elements = \{ "isolamasq0" \}/);
    expect(after).toContain("ip saddr @masq4 ip daddr != @masq4 masquerade");
    await h.cni("check", conf, { containerId: "masq1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "masq1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "masq2", ifName: "eth0", netns: c2 });
  });

  test("an internal network's firewall comes back with the next ADD after the firewall was flushed, in the same long-lived runtime", async () => {
    const conf = JSON.stringify({ cniVersion: "1.1.0", name: "sealed", plugins: [{ type: "isola-bridge", bridge: "isolaseal0", internal: true, isDefaultGateway: false, ipam: { type: "isola-ipam", dataDir: h.ipamDir, ranges: [[{ subnet: "10.85.0.0/24" }]] } }] });
    const c1 = await h.container();
    const c2 = await h.container();
    const filter = async () => (await h.exec(["nft", "list", "table", "inet", "isola_filter"])).out;
    await h.cni("add", conf, { containerId: "seal1", ifName: "eth0", netns: c1 });
    expect((await h.exec(["nft", "flush", "ruleset"])).code).toBe(0);
    const e = (await h.cni("check", conf, { containerId: "seal1", ifName: "eth0", netns: c1 }).catch((x) => x)) as Error;
    expect(e.message).toContain("isola-bridge: internal bridge isolaseal0 is not in set inet isola_filter internal");
    await h.cni("add", conf, { containerId: "seal2", ifName: "eth0", netns: c2 });
    const after = await filter();
    expect(after).toMatch(/set internal \{[^}]*elements = \{ "isolaseal0" \}/);
    expect(after).toMatch(/set internal_self \{[^}]*elements = \{ "isolaseal0" \. "isolaseal0" \}/);
    expect(after).toContain("iifname @internal iifname . oifname != @internal_self drop");
    await h.cni("check", conf, { containerId: "seal1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "seal1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "seal2", ifName: "eth0", netns: c2 });
  });

  test("an IP outside the subnet, an unknown plugin type and a malformed conflist are refused, leaving nothing", async () => {
    const conf = isolaConflist(h, { name: "bad", bridge: "isolabad0", subnets: ["10.81.0.0/24"] });
    const c = await h.container();
    const links = await h.links();
    const e1 = (await h.cni("add", conf, { containerId: "bad1", ifName: "eth0", netns: c, capabilityArgs: { ips: ["10.99.0.5"] } }).catch((e) => e)) as Error;
    expect(e1.message).toContain("runtimeConfig.ips[0]: 10.99.0.5 is outside the network's subnets 10.81.0.0/24");
    const mac = (await h.cni("add", conf, { containerId: "bad0", ifName: "eth0", netns: c, capabilityArgs: { mac: "02:00:00:00:00:01 master lo" } }).catch((e) => e)) as Error;
    expect(mac.message).toBe('runtimeConfig.mac: "02:00:00:00:00:01 master lo" is not a MAC address (expected xx:xx:xx:xx:xx:xx)');
    const unknown = JSON.stringify({ cniVersion: "1.0.0", name: "bad2", plugins: [{ type: "isola-bridge", ipam: { type: "isola-ipam", dataDir: h.ipamDir, subnet: "10.82.0.0/24" } }, { type: "no-such-plugin" }] });
    const e2 = (await h.cni("add", unknown, { containerId: "bad2", ifName: "eth0", netns: c }).catch((e) => e)) as Error;
    expect(e2.message).toContain('plugins[1].type: unknown plugin type "no-such-plugin"');
    const e3 = (await h.cni("add", '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"isola-bridge","ipam":{"type":"isola-ipam","subnet":"10.0.0.0/33"}}]}', { containerId: "bad3", ifName: "eth0", netns: c }).catch((e) => e)) as Error;
    expect(e3.message).toContain('plugins[0].ipam.subnet: "10.0.0.0/33" is not a CIDR (expected a.b.c.d/0-32)');
    expect(await h.links()).toEqual(links);
    expect(await h.links(c)).toEqual(["lo"]);
    expect(await ipamFiles("bad")).toEqual([]);
    expect(await cacheFiles()).toEqual([]);
  });
});
