// The policy engine's decisions with an injected host (sysctls, nft transactions recorded)
// and a file store in a temporary directory: no root, nothing in the kernel.
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { BRIDGE_NF_SYSCTLS, bridgeNetfilterDiff, planBridgeNetfilter } from "./bridge_netfilter.ts";
import { PolicyEngine } from "./engine.ts";
import { parsePolicy } from "./model.ts";
import { FilePolicyStore } from "./store.ts";
import { RecordingHost } from "./testing/recording_host.ts";

const [IPV4, IPV6] = BRIDGE_NF_SYSCTLS;
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function engineWith(host: RecordingHost): Promise<PolicyEngine> {
  const dir = await mkdtemp(`${tmpdir()}/isola-policy-engine-`);
  dirs.push(dir);
  return new PolicyEngine({ store: new FilePolicyStore(dir), host });
}

const deny = parsePolicy({ metadata: { name: "deny", network: "lab" }, spec: { podSelector: {}, ingress: [] } });

test("bridge netfilter: on stays on, off is turned on, absent (no br_netfilter) is a problem naming the module", () => {
  expect(planBridgeNetfilter({ [IPV4]: "1", [IPV6]: "1" })).toEqual({ enable: [] });
  expect(planBridgeNetfilter({ [IPV4]: "0", [IPV6]: "1" })).toEqual({ enable: [IPV4] });
  const absent = planBridgeNetfilter({});
  expect(absent.enable).toEqual([]);
  expect(absent.problem).toContain(`${IPV4} and ${IPV6} do not exist (the br_netfilter kernel module is not loaded)`);
  expect(absent.problem).toContain("modprobe br_netfilter");
  expect(bridgeNetfilterDiff({ [IPV4]: "1", [IPV6]: "1" })).toBeUndefined();
  expect(bridgeNetfilterDiff({ [IPV4]: "1", [IPV6]: "0" })).toStartWith(`bridge netfilter is off: ${IPV6} = 0`);
});

test("without br_netfilter a policy is refused before any transaction, and CHECK names the problem", async () => {
  const host = new RecordingHost({});
  const engine = await engineWith(host);
  await expect(engine.apply([deny])).rejects.toThrow("isola-policy: bridge netfilter is unavailable");
  expect(host.transactions).toEqual([]);
  expect(await engine.store.policies()).toEqual([]);
  // a policy stored by an earlier run (the module went away since): CHECK says why it cannot hold
  await engine.store.putPolicy(deny);
  const diff = await engine.check("lab");
  expect(diff[0]).toContain("br_netfilter kernel module is not loaded");
  expect(diff).toContain("table inet isola-lab: missing");
  // removing the last policy needs no bridge netfilter
  await engine.remove(["deny"]);
  expect(host.transactions).toEqual(["table inet isola-lab\ndelete table inet isola-lab\n"]);
});

test("bridge netfilter off is turned on before the table is made; on is left alone", async () => {
  const off = new RecordingHost({ [IPV4]: "0", [IPV6]: "0" });
  await (await engineWith(off)).apply([deny]);
  expect(off.sysctlWrites).toEqual([
    [IPV4, "1"],
    [IPV6, "1"],
  ]);
  expect(off.transactions).toHaveLength(1);
  const on = new RecordingHost({ [IPV4]: "1", [IPV6]: "1" });
  await (await engineWith(on)).apply([deny]);
  expect(on.sysctlWrites).toEqual([]);
  expect(on.transactions).toHaveLength(1);
});

test("a policy change carries the counters of the table it replaces over to the new one; a removed policy's go with it", async () => {
  const host = new RecordingHost({ [IPV4]: "1", [IPV6]: "1" });
  const engine = await engineWith(host);
  const web = parsePolicy({ metadata: { name: "web", network: "lab" }, spec: { podSelector: { matchLabels: { app: "web" } }, ingress: [{}] } });
  await engine.apply([deny, web]);
  // the first table: nothing to carry (no table listed)
  expect(host.transactions[0]).toContain("  counter allow-deny { }");
  // the kernel counted meanwhile
  const counter = (name: string, packets: number, bytes: number) => ({ counter: { family: "inet", name, table: "isola-lab", handle: 1, packets, bytes } });
  host.listings.set("-j counters table inet isola-lab", JSON.stringify({ nftables: [{ metainfo: {} }, counter("allow-web", 7, 420), counter("deny-web", 0, 0), counter("allow-deny", 0, 0), counter("deny-deny", 3, 180)] }));
  await engine.remove(["deny"]);
  const script = host.transactions[1]!;
  expect(script).toContain("  counter allow-web { packets 7 bytes 420 }");
  expect(script).toContain("  counter deny-web { }");
  expect(script).not.toContain("deny-deny");
  // stats read what the kernel holds
  expect(await engine.stats("lab")).toEqual([{ policy: "web", allowed: { packets: 7, bytes: 420 }, denied: { packets: 0, bytes: 0 } }]);
  // sync (a rebuild) keeps them too
  await engine.sync("lab");
  expect(host.transactions[2]).toContain("  counter allow-web { packets 7 bytes 420 }");
});
