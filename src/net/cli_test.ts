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

  test("usage errors name the flag", async () => {
    expect((await isola("network", "attach", "/x")).err).toContain("--network: missing");
    expect((await isola("network", "attach", "/x", "--network", "nope")).err).toContain('--network: no network named "nope"');
    expect((await isola("network", "create", "bad", "--subnet", "10.0.0.0/33")).err).toContain('--subnet[0]: "10.0.0.0/33" is not a CIDR (expected a.b.c.d/0-32)');
    expect((await isola("network", "create", "m", "--driver", "macvlan")).err).toContain("--parent: missing");
    expect((await isola("nope")).code).toBe(2);
  });
});
