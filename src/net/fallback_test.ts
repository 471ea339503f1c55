// The same kernel changes without bun:ffi: `ip -batch -` and `nft -f -` (ISOLA_NET_NETLINK=0).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import type { Result } from "./types.ts";
import { isolaConflist, TestHost } from "./testing/testhost.ts";

const root = process.getuid?.() === 0;
let h: TestHost;

beforeAll(async () => {
  if (!root) return;
  h = await TestHost.create();
  h.env = { ISOLA_NET_NETLINK: "0" };
});
afterAll(async () => {
  await h?.destroy();
});

describe.skipIf(!root)("isola bridge without netlink", () => {
  test("containers reach each other, a published port answers, DEL leaves nothing", async () => {
    const conf = isolaConflist(h, { name: "fb", bridge: "isolafb0", subnets: ["10.86.0.0/24", "fd86::/64"] });
    const c1 = await h.container();
    const c2 = await h.container();
    const ports = { portMappings: [{ hostPort: 6060, containerPort: 60 }] };
    const r1 = (await h.cni("add", conf, { containerId: "fb1", ifName: "eth0", netns: c1, capabilityArgs: ports })) as Result;
    const r2 = (await h.cni("add", conf, { containerId: "fb2", ifName: "eth0", netns: c2 })) as Result;
    expect((await h.exec(["busybox", "ping", "-c", "1", "-W", "2", r2.ips![0]!.address.split("/")[0]!], c1)).code).toBe(0);
    await h.cni("check", conf, { containerId: "fb1", ifName: "eth0", netns: c1 });
    const again = (await h.cni("add", conf, { containerId: "fb3", ifName: "eth0", netns: await h.container(), capabilityArgs: ports }).catch((e) => e)) as Error;
    expect(again.message).toContain("runtimeConfig.portMappings[0]: host port 6060/tcp is already published");
    h.background(["busybox", "nc", "-ll", "-p", "60", "-e", "/bin/echo", "fb-hello"], c1);
    let got = "";
    for (let i = 0; i < 50 && !got.includes("fb-hello"); i++) {
      got = (await h.exec(["busybox", "nc", "-w", "2", r1.ips![0]!.gateway!, "6060"])).out;
      if (!got) await Bun.sleep(50);
    }
    expect(got.trim()).toBe("fb-hello");
    await h.cni("del", conf, { containerId: "fb1", ifName: "eth0", netns: c1 });
    await h.cni("del", conf, { containerId: "fb2", ifName: "eth0", netns: c2 });
    expect((await h.links()).sort()).toEqual(["isolafb0", "lo"]);
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).not.toContain("6060");
  });

  test("ports carry their attachment in a comment: DEL without a cached result unpublishes them", async () => {
    const conf = isolaConflist(h, { name: "fbl", bridge: "isolafbl0", subnets: ["10.88.0.0/24"] });
    const c = await h.container();
    await h.cni("add", conf, { containerId: "fbl1", ifName: "eth0", netns: c, capabilityArgs: { portMappings: [{ hostPort: 6161, containerPort: 61 }] } });
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).toMatch(/tcp \. 6161 comment "isv[0-9a-f]{12}" : 10\.88\.0\.\d+ \. 61/);
    await rm(`${h.cacheDir}/results/fbl-fbl1-eth0`);
    await h.cni("del", conf, { containerId: "fbl1", ifName: "eth0", netns: c });
    expect((await h.exec(["nft", "list", "map", "inet", "isola_nat", "ports4"])).out).not.toContain("6161");
  });
});
