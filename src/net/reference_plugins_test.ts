// Debian's reference plugins (containernetworking-plugins, /usr/lib/cni) driven by isola's
// CNI runtime inside a test host: bridge + host-local + portmap, macvlan + static,
// and firewall, bandwidth and tuning chained.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import type { Result } from "./types.ts";
import { AgentError, TestHost } from "./testing/testhost.ts";

const usable = process.getuid?.() === 0 && existsSync("/usr/lib/cni/bridge");
let h: TestHost;

beforeAll(async () => {
  if (usable) h = await TestHost.create();
});
afterAll(async () => {
  await h?.destroy();
});

const v4 = (r: Result) => r.ips!.find((i) => !i.address.includes(":"))!.address.split("/")[0]!;

describe.skipIf(!usable)("reference plugins through isola's CNI runtime", () => {
  test("bridge + host-local + portmap: ping between containers, published port, DEL cleans up", async () => {
    const conf = JSON.stringify({
      cniVersion: "1.0.0",
      name: "refnet",
      plugins: [
        { type: "bridge", bridge: "refbr0", isGateway: true, ipMasq: true, ipam: { type: "host-local", dataDir: `${h.tmp}/hl`, ranges: [[{ subnet: "10.90.0.0/24" }]], routes: [{ dst: "0.0.0.0/0" }] } },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "firewall" },
        { type: "tuning", sysctl: { "net.ipv4.conf.eth0.rp_filter": "2" } },
        { type: "bandwidth", capabilities: { bandwidth: true } },
      ],
    });
    const c1 = await h.container();
    const c2 = await h.container();
    const r1 = (await h.cni("add", conf, { containerId: "ref1", ifName: "eth0", netns: c1, capabilityArgs: { portMappings: [{ hostPort: 8081, containerPort: 80, protocol: "tcp" }], bandwidth: { ingressRate: 100_000_000, ingressBurst: 1_000_000, egressRate: 100_000_000, egressBurst: 1_000_000 } } })) as Result;
    const r2 = (await h.cni("add", conf, { containerId: "ref2", ifName: "eth0", netns: c2 })) as Result;
    expect(r1.cniVersion).toBe("1.0.0");
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", v4(r2)], c1)).code).toBe(0);
    expect((await h.exec(["cat", "/proc/sys/net/ipv4/conf/eth0/rp_filter"], c1)).out.trim()).toBe("2");
    // bandwidth: a token bucket shapes the container's host-side veth (and an ifb its egress)
    const qdiscs = (await h.exec(["tc", "qdisc", "show"])).out;
    expect(qdiscs).toMatch(/qdisc tbf .* rate 100Mbit/);
    // firewall: the container's address is let through the host's forward chain
    const fw = (await h.exec(["iptables-save", "-t", "filter"])).out;
    expect(fw).toContain("CNI-FORWARD");
    expect(fw).toContain(v4(r1));
    h.background(["busybox", "nc", "-ll", "-p", "80", "-e", "/bin/echo", "ref-hello"], c1);
    let got = "";
    for (let i = 0; i < 50 && !got.includes("ref-hello"); i++) {
      got = (await h.exec(["busybox", "nc", "-w", "2", r1.ips![0]!.gateway!, "8081"])).out;
      if (!got) await Bun.sleep(50);
    }
    expect(got.trim()).toBe("ref-hello");
    await h.cni("del", conf, { containerId: "ref1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "ref2", ifName: "eth0", netns: c2 });
    await h.cni("del", conf, { containerId: "ref2", ifName: "eth0", netns: c2 });
    expect((await h.links()).filter((l) => l.startsWith("veth"))).toEqual([]);
    expect((await readdir(`${h.tmp}/hl/refnet`)).filter((n) => /^\d/.test(n))).toEqual([]);
    expect((await h.exec(["tc", "qdisc", "show"])).out).not.toContain("tbf");
    expect((await h.exec(["iptables-save", "-t", "filter"])).out).not.toContain(v4(r1));
  });

  test("macvlan + static: containers on one parent reach each other", async () => {
    // no dummy module on this kernel: a bridge serves as the macvlan parent
    expect((await h.exec(["ip", "link", "add", "mvparent0", "type", "bridge"])).code).toBe(0);
    await h.exec(["ip", "link", "set", "mvparent0", "up"]);
    const conf = (ip: string) =>
      JSON.stringify({ cniVersion: "1.0.0", name: "mv", plugins: [{ type: "macvlan", master: "mvparent0", mode: "bridge", ipam: { type: "static", addresses: [{ address: ip }] } }] });
    const c1 = await h.container();
    const c2 = await h.container();
    await h.cni("add", conf("10.91.0.11/24"), { containerId: "mv1", ifName: "eth0", netns: c1 });
    await h.cni("add", conf("10.91.0.12/24"), { containerId: "mv2", ifName: "eth0", netns: c2 });
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", "10.91.0.12"], c1)).code).toBe(0);
    await h.cni("del", conf("10.91.0.11/24"), { containerId: "mv1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf("10.91.0.12/24"), { containerId: "mv2", ifName: "eth0", netns: c2 });
    expect(await h.links(c1)).toEqual(["lo"]);
  });

  test("isola-bridge delegating to host-local by exec, chained with isola-portmap", async () => {
    const conf = JSON.stringify({
      cniVersion: "1.0.0",
      name: "mixed",
      plugins: [
        { type: "isola-bridge", bridge: "mixbr0", ipam: { type: "host-local", dataDir: `${h.tmp}/hl2`, subnet: "10.92.0.0/24" } },
        { type: "isola-portmap", capabilities: { portMappings: true } },
      ],
    });
    const c1 = await h.container();
    const r = (await h.cni("add", conf, { containerId: "mix1", ifName: "eth0", netns: c1 })) as Result;
    expect(v4(r)).toMatch(/^10\.92\.0\./);
    await h.cni("check", conf, { containerId: "mix1", ifName: "eth0", netns: c1 });
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", r.ips![0]!.gateway!], c1)).code).toBe(0);
    await h.cni("del", conf, { containerId: "mix1", ifName: "eth0", netns: c1 });
    expect((await readdir(`${h.tmp}/hl2/mixed`)).filter((n) => /^\d/.test(n))).toEqual([]);
  });

  test("VERSION: a plugin that does not speak the list's cniVersion is named", async () => {
    const conf = JSON.stringify({ cniVersion: "1.1.0", name: "v", plugins: [{ type: "isola-bridge", ipam: { type: "isola-ipam", subnet: "10.93.0.0/24" } }, { type: "portmap" }] });
    const err = (await h.cni("versions", conf).catch((e) => e)) as Error;
    expect(err.message).toContain('plugins[1].type: plugin "portmap" speaks CNI');
    expect(err.message).toContain("not the network's cniVersion 1.1.0");
    expect((err as AgentError).code).toBe(1); // incompatible CNI version
  });
});
