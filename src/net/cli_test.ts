// `isola network ...` end to end, run inside a test host (the CLI process itself lives in
// the test host's namespace, so its bridge and nft table do too).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import type { Result } from "./types.ts";
import { TestHost } from "./testing/testhost.ts";
import { parsePort } from "./cli.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const root = process.getuid?.() === 0;
let h: TestHost;

beforeAll(async () => {
  if (root) h = await TestHost.create();
});
afterAll(async () => {
  await h?.destroy();
});

const isola = (...args: string[]) => h.exec([`${ROOT}node_modules/.bin/bun`, `${ROOT}src/cli/isola.ts`, "--root", `${h.tmp}/state`, ...args]);

test("--port parsing", () => {
  expect(parsePort("8080:80", 0)).toEqual({ hostPort: 8080, containerPort: 80, protocol: "tcp" });
  expect(parsePort("127.0.0.1:53:53/udp", 0)).toEqual({ hostPort: 53, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" });
  expect(parsePort("[::1]:8443:443", 0)).toEqual({ hostPort: 8443, containerPort: 443, protocol: "tcp", hostIP: "::1" });
  expect(() => parsePort("80", 2)).toThrow('--port[2]: "80" is not a port mapping');
  expect(() => parsePort("0:80", 0)).toThrow("is not a port mapping");
});

describe.skipIf(!root)("isola network in a test host", () => {
  test("create, ls, attach with ports and labels, check, inspect, detach, rm", async () => {
    const c = await isola("network", "create", "front", "--ipv6", "--nat");
    expect(c.err).toBe("");
    expect(c.out.trim()).toBe("front");
    const ls = JSON.parse((await isola("network", "ls", "--json")).out);
    expect(ls[0]).toMatchObject({ name: "front", driver: "bridge", nat: true, internal: false, plugins: ["isola-bridge", "isola-portmap"] });
    expect(ls[0].subnets[0]).toBe("10.88.0.0/16");
    expect(ls[0].subnets[1]).toMatch(/^fd[0-9a-f]{2}:/);
    const overlap = await isola("network", "create", "back", "--subnet", "10.88.5.0/24");
    expect(overlap.code).toBe(1);
    expect(overlap.err).toContain('--subnet[0]: 10.88.5.0/24 overlaps network "front" (10.88.0.0/16)');
    expect((await isola("network", "create", "back", "--subnet", "10.50.0.0/24", "--internal")).code).toBe(0);
    expect((await isola("network", "ls")).out).toMatch(/^NAME +DRIVER +SUBNETS +FLAGS\nback +bridge +10\.50\.0\.0\/24 +internal\nfront/);

    const n1 = await h.container();
    const n2 = await h.container();
    const a1 = await isola("network", "attach", n1, "--network", "front", "--port", "8088:80", "--label", "app=web", "--ip", "10.88.0.20", "--json");
    expect(a1.err).toBe("");
    const r1 = JSON.parse(a1.out) as Result;
    expect(r1.ips![0]!.address).toBe("10.88.0.20/16");
    const a2 = await isola("network", "attach", n2, "--network", "front");
    expect(a2.out).toMatch(/^eth0  10\.88\.0\.\d+\/16 via 10\.88\.0\.1  fd[0-9a-f:]+\/64 via fd[0-9a-f:]+  mac /);
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", "10.88.0.20"], n2)).code).toBe(0);
    expect((await isola("network", "check", n1, "--network", "front")).out.trim()).toBe("ok");
    const dup = await isola("network", "attach", await h.container(), "--network", "front", "--port", "8088:80");
    expect(dup.err).toContain("runtimeConfig.portMappings[0]: host port 8088/tcp is already published");
    const outside = await isola("network", "attach", n2, "--network", "back", "--ip", "10.88.0.9");
    expect(outside.err).toContain('--ip[0]: 10.88.0.9 is outside the subnets of network "back" (10.50.0.0/24)');
    const insp = JSON.parse((await isola("network", "inspect", "front")).out);
    expect(insp.attachments.map((a: { netns: string }) => a.netns).sort()).toEqual([n1, n2].sort());
    expect(insp.attachments.find((a: { netns: string }) => a.netns === n1).result.ips[0].address).toBe("10.88.0.20/16");

    const busy = await isola("network", "rm", "front");
    expect(busy.err).toContain('network "front" has 2 attachment(s)');
    expect((await isola("network", "detach", n1, "--network", "front")).code).toBe(0);
    expect((await isola("network", "rm", "front", "--force")).code).toBe(0);
    expect((await isola("network", "rm", "back")).code).toBe(0);
    expect((await h.links()).sort()).toEqual(["lo"]);
    expect(await h.links(n2)).toEqual(["lo"]);
    expect(await readdir(`${h.tmp}/state/networks`)).toEqual([]);
    expect(await readdir(`${h.tmp}/state/cni-cache/results`)).toEqual([]);
    expect(await readdir(`${h.tmp}/state/ipam`)).toEqual([]);
    expect((await h.exec(["nft", "list", "table", "inet", "isola_nat"])).out).not.toMatch(/10\.88\.0\.20|8088|10\.88\.0\.0/);
  });

  test("--nat: containers reach an outside peer that has no route back to them (masquerade); --internal: no way out", async () => {
    // "outside": a namespace joined to the test host by a veth only, with no route to the
    // container subnets, serving TCP on port 90
    const ext = await h.container();
    const extName = ext.split("/").pop()!;
    expect((await h.exec(["ip", "link", "add", "vext0", "type", "veth", "peer", "name", "eth0", "netns", extName])).code).toBe(0);
    await h.exec(["ip", "addr", "add", "192.168.200.1/24", "dev", "vext0"]);
    await h.exec(["ip", "link", "set", "vext0", "up"]);
    await h.exec(["ip", "addr", "add", "192.168.200.2/24", "dev", "eth0"], ext);
    await h.exec(["ip", "link", "set", "eth0", "up"], ext);
    await h.backgroundReady(["sh", "-c", "busybox nc -ll -p 90 -e /bin/echo hello-from-outside & echo ready; wait"], ext);
    const reach = async (netns: string) => {
      for (let i = 0; i < 20; i++) {
        const r = await h.exec(["busybox", "nc", "-w", "1", "192.168.200.2", "90"], netns);
        if (r.out.includes("hello-from-outside")) return true;
        await Bun.sleep(50);
      }
      return false;
    };

    expect((await isola("network", "create", "out", "--subnet", "10.61.0.0/24", "--nat", "--bridge", "isolaout0")).code).toBe(0);
    expect((await isola("network", "create", "closed", "--subnet", "10.62.0.0/24", "--internal", "--bridge", "isolain0")).code).toBe(0);
    expect((await isola("network", "create", "plain", "--subnet", "10.63.0.0/24", "--bridge", "isolapl0")).code).toBe(0);
    const a = await h.container();
    const b = await h.container();
    const c = await h.container();
    expect((await isola("network", "attach", a, "--network", "out")).code).toBe(0);
    expect((await isola("network", "attach", b, "--network", "closed")).code).toBe(0);
    expect((await isola("network", "attach", c, "--network", "plain")).code).toBe(0);
    expect(await reach(a)).toBe(true);
    // the host's firewall is flushed: NAT is gone, CHECK says so, the next ADD puts it back
    expect((await h.exec(["nft", "flush", "ruleset"])).code).toBe(0);
    expect((await h.exec(["busybox", "nc", "-w", "1", "192.168.200.2", "90"], a)).out).not.toContain("hello-from-outside");
    const flushed = await isola("network", "check", a, "--network", "out");
    expect(flushed.err).toContain("isola-bridge: NAT of bridge isolaout0 is not in place (its containers' traffic leaves unmasqueraded; the next ADD puts it back): table inet isola_nat is missing");
    const d = await h.container();
    expect((await isola("network", "attach", d, "--network", "out")).code).toBe(0);
    expect(await reach(a)).toBe(true);
    expect(await reach(d)).toBe(true);
    expect((await isola("network", "check", a, "--network", "out")).out.trim()).toBe("ok");
    // only the subnet's element gone: named, and put back by the next ADD too
    expect((await h.exec(["nft", "delete", "element", "inet", "isola_nat", "masq4", "{ 10.61.0.0/24 }"])).code).toBe(0);
    expect((await isola("network", "check", d, "--network", "out")).err).toContain("subnet 10.61.0.0/24 is not in set inet isola_nat masq4");
    expect((await isola("network", "detach", d, "--network", "out")).code).toBe(0);
    expect((await isola("network", "attach", d, "--network", "out")).code).toBe(0);
    expect((await isola("network", "check", a, "--network", "out")).out.trim()).toBe("ok");
    expect(await reach(a)).toBe(true);
    expect((await isola("network", "detach", d, "--network", "out")).code).toBe(0);
    // the control: routed but not masqueraded, the peer's answer has nowhere to go
    expect((await h.exec(["busybox", "nc", "-w", "1", "192.168.200.2", "90"], c)).out).not.toContain("hello-from-outside");
    // internal: no default route in the container, so the peer is unreachable
    expect((await h.exec(["ip", "route", "show", "default"], b)).out.trim()).toBe("");
    const closed = await h.exec(["busybox", "nc", "-w", "1", "192.168.200.2", "90"], b);
    expect(closed.out).not.toContain("hello-from-outside");

    for (const [n, net] of [[a, "out"], [b, "closed"], [c, "plain"]] as const) expect((await isola("network", "detach", n, "--network", net)).code).toBe(0);
    for (const net of ["out", "closed", "plain"]) expect((await isola("network", "rm", net)).code).toBe(0);
    await h.exec(["ip", "link", "del", "vext0"]);
  });

  test("--internal: the host drops forwarded traffic to and from the bridge, even when a container routes itself out", async () => {
    // an outside peer behind the test host's uplink, with routes back to both networks, so
    // only the firewall can keep the internal network in
    const ext = await h.container();
    expect((await h.exec(["ip", "link", "add", "vext1", "type", "veth", "peer", "name", "eth0", "netns", ext.split("/").pop()!])).code).toBe(0);
    await h.exec(["ip", "addr", "add", "192.168.201.1/24", "dev", "vext1"]);
    await h.exec(["ip", "link", "set", "vext1", "up"]);
    await h.exec(["ip", "addr", "add", "192.168.201.2/24", "dev", "eth0"], ext);
    await h.exec(["ip", "link", "set", "eth0", "up"], ext);
    for (const net of ["10.65.0.0/24", "10.66.0.0/24"]) expect((await h.exec(["ip", "route", "add", net, "via", "192.168.201.1"], ext)).code).toBe(0);
    await h.backgroundReady(["sh", "-c", "busybox nc -ll -p 91 -e /bin/echo hello-from-uplink & echo ready; wait"], ext);
    const tcp = async (netns: string, ip: string) => (await h.exec(["busybox", "nc", "-w", "1", ip, "91"], netns)).out.includes("hello-from-uplink");
    const ping = async (netns: string, ip: string) => (await h.exec(["busybox", "ping", "-c", "1", "-W", "1", ip], netns)).code === 0;

    expect((await isola("network", "create", "open", "--subnet", "10.66.0.0/24", "--bridge", "isolaopen0")).code).toBe(0);
    expect((await isola("network", "create", "iso", "--subnet", "10.65.0.0/24", "--internal", "--bridge", "isolaiso0")).code).toBe(0);
    const c = await h.container();
    const b = await h.container();
    const b2 = await h.container();
    const rc = JSON.parse((await isola("network", "attach", c, "--network", "open", "--json")).out) as Result;
    const rb = JSON.parse((await isola("network", "attach", b, "--network", "iso", "--json")).out) as Result;
    const rb2 = JSON.parse((await isola("network", "attach", b2, "--network", "iso", "--json")).out) as Result;
    const ipOf = (r: Result) => r.ips![0]!.address.split("/")[0]!;

    // the control: a container on a network that is not internal reaches the uplink's peer
    expect(await tcp(c, "192.168.201.2")).toBe(true);
    // a container with CAP_NET_ADMIN gives itself the default route the network did not
    expect((await h.exec(["ip", "route", "show", "default"], b)).out.trim()).toBe("");
    expect((await h.exec(["ip", "route", "add", "default", "via", "10.65.0.1"], b)).code).toBe(0);
    expect(await tcp(b, "192.168.201.2")).toBe(false);
    expect(await ping(b, ipOf(rc))).toBe(false); // a peer on another network
    expect(await ping(c, ipOf(rb))).toBe(false); // and the other way in
    // traffic within the bridge, and to its gateway, stays
    expect(await ping(b, ipOf(rb2))).toBe(true);
    expect(await ping(b, "10.65.0.1")).toBe(true);
    // CHECK reads the firewall back from the kernel
    expect((await isola("network", "check", b, "--network", "iso")).out.trim()).toBe("ok");
    expect((await h.exec(["nft", "delete", "element", "inet", "isola_filter", "internal", '{ "isolaiso0" }'])).code).toBe(0);
    expect((await isola("network", "check", b, "--network", "iso")).err).toContain("isola-bridge: internal bridge isolaiso0 is not in set inet isola_filter internal");
    // the next attachment (another process) puts it back
    const b3 = await h.container();
    expect((await isola("network", "attach", b3, "--network", "iso")).code).toBe(0);
    expect((await isola("network", "check", b, "--network", "iso")).out.trim()).toBe("ok");

    for (const [n, net] of [[c, "open"], [b, "iso"], [b2, "iso"], [b3, "iso"]] as const) expect((await isola("network", "detach", n, "--network", net)).code).toBe(0);
    for (const net of ["open", "iso"]) expect((await isola("network", "rm", net)).code).toBe(0);
    expect((await h.exec(["nft", "list", "table", "inet", "isola_filter"])).out).not.toContain("isolaiso0");
    await h.exec(["ip", "link", "del", "vext1"]);
  });

  test("concurrent creates record distinct subnets, and a name once", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `par${i}`);
    const rs = await Promise.all([...names, "par0"].map((n) => isola("network", "create", n)));
    const failed = rs.filter((r) => r.code !== 0);
    expect(failed.map((r) => r.err.trim())).toEqual(['isola network create: name: network "par0" already exists']);
    const ls = JSON.parse((await isola("network", "ls", "--json")).out) as { name: string; subnets: string[] }[];
    expect(ls.map((n) => n.name).sort()).toEqual(names.sort());
    expect(new Set(ls.map((n) => n.subnets[0])).size).toBe(names.length);
    expect((await isola("network", "rm", ...names)).code).toBe(0);
    expect(await readdir(`${h.tmp}/state/networks`)).toEqual([]); // the lock file too
  });

  test("usage errors name the flag", async () => {
    expect((await isola("network", "attach", "/x")).err).toContain("--network: missing");
    expect((await isola("network", "attach", "/x", "--network", "nope")).err).toContain('--network: no network named "nope"');
    expect((await isola("network", "create", "bad", "--subnet", "10.0.0.0/33")).err).toContain('--subnet[0]: "10.0.0.0/33" is not a CIDR (expected a.b.c.d/0-32)');
    expect((await isola("network", "create", "m", "--driver", "macvlan")).err).toContain("--parent: missing");
    expect((await isola("network", "create", "s31", "--subnet", "10.0.0.0/31")).err).toContain("--subnet[0]: 10.0.0.0/31 is too small");
    expect((await isola("network", "create", "mn", "--driver", "macvlan", "--parent", "lo", "--nat")).err).toContain("--nat: the macvlan driver cannot masquerade");
    expect((await isola("network", "create", "g0", "--subnet", "10.0.0.0/24", "--gateway", "10.0.0.0")).err).toContain("--gateway[0]: 10.0.0.0 is the network address of 10.0.0.0/24");
    expect((await isola("nope")).code).toBe(2);
    // an attachment's names and MAC are checked before anything is made
    expect((await isola("network", "create", "u", "--subnet", "10.64.0.0/24", "--bridge", "isolau0")).code).toBe(0);
    const n = await h.container();
    const links = await h.links();
    const id = await isola("network", "attach", n, "--network", "u", "--container-id", "a b");
    expect(id.code).toBe(2); // a usage error
    expect(id.err).toContain('--container-id: "a b" is not a container id (expected letters, digits, "_", "." or "-", starting with a letter or digit)');
    expect((await isola("network", "attach", n, "--network", "u", "--ifname", "eth0\nlink del lo")).err).toContain('--ifname: "eth0\\nlink del lo" is not an interface name (expected no "/", ":" or whitespace)');
    expect((await isola("network", "attach", n, "--network", "u", "--ifname", "averyveryverylong0")).err).toContain('--ifname: "averyveryverylong0" is too long');
    expect((await isola("network", "detach", n, "--network", "u", "--ifname", ".."))).toMatchObject({ code: 2 });
    expect((await isola("network", "attach", n, "--network", "u", "--mac", "01:00:5e:00:00:01")).err).toContain("--mac: 01:00:5e:00:00:01 is a multicast address");
    // labels as policies select them (Kubernetes label syntax), both on attach and on create
    const label = await isola("network", "attach", n, "--network", "u", "--label", "app=web", "--label", "tier=data base");
    expect(label.code).toBe(2);
    expect(label.err).toContain('--label[1]: label "tier": "data base" is not a label value (expected at most 63 letters, digits, "-", "_", "." starting and ending with a letter or digit)');
    expect((await isola("network", "attach", n, "--network", "u", "--label", "-app=web")).err).toContain('--label[0]: "-app" is not a label key');
    expect((await isola("network", "attach", n, "--network", "u", "--label", "app=web", "-l", "app=db")).err).toContain('--label[1]: label "app" is given twice (also --label[0])');
    expect((await isola("network", "attach", n, "--network", "u", "--label", `app=${"x".repeat(64)}`)).err).toContain("is not a label value");
    expect((await isola("network", "create", "lbl", "--subnet", "10.67.0.0/24", "--label", "owner=a/b")).err).toContain('--label[0]: label "owner": "a/b" is not a label value');
    expect(await readdir(`${h.tmp}/state/networks`)).toEqual(["u.conflist"]);
    expect(await readdir(`${h.tmp}/state/cni-cache/results`).catch(() => [])).toEqual([]);
    expect(await h.links()).toEqual(links);
    expect(await h.links(n)).toEqual(["lo"]);
    expect((await isola("network", "rm", "u")).code).toBe(0);
  });
});
