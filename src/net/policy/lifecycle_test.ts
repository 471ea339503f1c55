// Policies through a network's life, through the `isola` CLI inside a test host: a network
// made to enforce them (--policy), the refusal for networks that would not, and real probes
// between containers. Nothing touches the machine's own namespace.
import { describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { BUN, cliHostForFile, PROBE } from "./testing/cli_host.ts";
import { PROBE_PORTS, probeKey, type ProbeResult } from "./testing/probe.ts";

const root = process.getuid?.() === 0;

const t = cliHostForFile(root);
const { isola, ok } = t;

let files = 0;
async function policyFile(text: string): Promise<string> {
  const p = `${t.h.tmp}/policy-${files++}.yaml`;
  await writeFile(p, text);
  return p;
}

const denyIngress = (network: string, app: string) => `metadata: {name: deny-${app}, network: ${network}}\nspec:\n  podSelector: {matchLabels: {app: ${app}}}\n  ingress: []\n`;

/** A container attached to `network` with label app=NAME, serving the probe ports; returns its address. */
async function container(network: string, app: string): Promise<{ netns: string; ip: string }> {
  const netns = await t.h.container();
  const out = await ok("network", "attach", netns, "--network", network, "--container-id", app, "--label", `app=${app}`, "--json");
  const ip = (JSON.parse(out) as { ips: { address: string }[] }).ips[0]!.address.split("/")[0]!;
  await t.h.backgroundReady([BUN, PROBE, "serve"], netns);
  return { netns, ip };
}

async function probe(from: { netns: string }, to: { ip: string }): Promise<ProbeResult> {
  const r = await t.h.exec([BUN, PROBE, "probe", to.ip], from.netns);
  return (JSON.parse(r.out) as Record<string, ProbeResult>)[to.ip]!;
}

/** every probe port reachable (or not) */
const all = (v: boolean): ProbeResult => Object.fromEntries(PROBE_PORTS.map((p) => [probeKey(p), v]));

const ruleset = async () => (await t.h.exec(["nft", "list", "ruleset"])).out;
/** The ruleset's tables, each as listed, in name order (a table made again lists last). */
const tables = async () =>
  (await ruleset())
    .split(/^(?=table )/m)
    .filter(Boolean)
    .sort();

describe.skipIf(!root)("a network's policies through its life", () => {
  test("--policy puts isola-policy in the chain with the CLI's store; a network without it is refused", async () => {
    // a network whose chain has no isola-policy: a policy for it would do nothing, so it is refused
    await ok("network", "create", "plain", "--subnet", "10.68.1.0/24", "--bridge", "isplain0");
    // one whose plugin keeps its containers in another store than this isola's: refused too
    await ok("network", "create", "elsewhere", "--subnet", "10.68.2.0/24", "--bridge", "iselse0", "--plugin", JSON.stringify({ type: "isola-policy", capabilities: { labels: true }, dataDir: `${t.h.tmp}/other` }));
    const before = await ruleset();
    const plain = await isola("policy", "apply", await policyFile(denyIngress("plain", "b")));
    expect(plain.code).toBe(1);
    expect(plain.err).toContain('metadata.network: network "plain" does not enforce policies: its plugin chain has no isola-policy plugin (recreate it with isola network create plain --policy)');
    const elsewhere = await isola("policy", "create", await policyFile(denyIngress("elsewhere", "b")));
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toContain(`metadata.network: network "elsewhere" registers its containers in ${t.h.tmp}/other (isola-policy dataDir), but this isola keeps policies in ${t.state}/policy`);
    expect(await ruleset()).toBe(before);
    expect((await ok("policy", "ls", "-q")).trim()).toBe("");

    // macvlan traffic between containers never passes the host's netfilter
    const mac = await isola("network", "create", "mac", "--driver", "macvlan", "--parent", "dummy0", "--policy");
    expect(mac.err).toContain("--policy: the macvlan driver cannot enforce policies");
    // a hand-written isola-policy without dataDir gets this isola's store
    await ok("network", "create", "handmade", "--subnet", "10.68.3.0/24", "--bridge", "ishand0", "--plugin", JSON.stringify({ type: "isola-policy", capabilities: { labels: true } }));
    expect(JSON.parse(await ok("network", "inspect", "handmade")).plugins[2]).toEqual({ type: "isola-policy", capabilities: { labels: true }, dataDir: `${t.state}/policy` });

    await ok("network", "create", "lab", "--policy", "--subnet", "10.68.0.0/24", "--bridge", "islife0");
    const plugins = JSON.parse(await ok("network", "inspect", "lab")).plugins as Record<string, unknown>[];
    expect(plugins.map((p) => p.type)).toEqual(["isola-bridge", "isola-portmap", "isola-policy"]);
    expect(plugins[2]).toEqual({ type: "isola-policy", capabilities: { labels: true }, dataDir: `${t.state}/policy` });
    const dup = await isola("network", "create", "twice", "--policy", "--plugin", JSON.stringify({ type: "isola-policy" }));
    expect(dup.err).toContain("--plugin[0]: isola-policy is in the chain already (--policy)");

    const a = await container("lab", "a");
    const b = await container("lab", "b");
    expect(await probe(a, b)).toEqual(all(true));
    await ok("policy", "apply", await policyFile(denyIngress("lab", "b")));
    expect(await probe(a, b)).toEqual(all(false));
    expect(await probe(b, a)).toEqual(all(true));
    expect((await ok("policy", "check")).trim()).toBe("ok");

    await ok("policy", "rm", "deny-b");
    expect(await probe(a, b)).toEqual(all(true));
    await ok("network", "detach", a.netns, "--network", "lab", "--container-id", "a");
    await ok("network", "detach", b.netns, "--network", "lab", "--container-id", "b");
    await ok("network", "rm", "lab", "plain", "elsewhere", "handmade");
  }, 120_000);

  test("CHECK compares every rule, chain and set with the kernel's: no false alarm for nft's own spellings, a rule changed by hand is named", async () => {
    await ok("network", "create", "chk", "--policy", "--subnet", "10.68.4.0/24", "--bridge", "ischk0");
    // rule forms nft lists in its own words: overlapping ports merged, a one-element set, /32
    // and /0 prefixes, an IPv6 block, a protocol without ports, a range of one port
    await ok(
      "policy",
      "apply",
      await policyFile(`metadata: {name: forms, network: chk}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - ipBlock: {cidr: 10.69.0.0/16, except: [10.69.1.0/25, 10.69.1.128/25, 10.69.2.7/32]}
    - ipBlock: {cidr: 10.69.3.4/32}
    - ipBlock: {cidr: 0.0.0.0/0}
    - ipBlock: {cidr: 10.70.0.0/16, except: [10.70.9.0/24]}
    ports: [{protocol: TCP, port: 80}, {protocol: TCP, port: 70, endPort: 90}, {protocol: UDP, port: 53}, {protocol: UDP, port: 54}, {protocol: SCTP}]
  - from: [{ipBlock: {cidr: "fd00::/8", except: ["fd00::1/128"]}}]
  egress:
  - to: [{podSelector: {matchExpressions: [{key: app, operator: Exists}]}}]
    ports: [{protocol: UDP, port: 5000, endPort: 5000}]
  log: true
`),
    );
    const check = () => isola("policy", "check", "--network", "chk");
    expect((await check()).out.trim()).toBe("ok");

    // the table's last ingress rule turned from drop into accept, by hand
    const listing = (await t.h.exec(["nft", "-a", "list", "chain", "inet", "isola-chk", "ingress_rules"])).out;
    const lines = listing.split("\n").filter((l) => /# handle \d+$/.test(l) && !l.includes("chain "));
    const handle = lines[lines.length - 1]!.match(/handle (\d+)$/)![1]!;
    expect(lines[lines.length - 1]).toContain("drop");
    expect((await t.h.exec(["nft", "replace", "rule", "inet", "isola-chk", "ingress_rules", "handle", handle, "accept"])).code).toBe(0);
    const changed = await check();
    expect({ code: changed.code, out: changed.out.trim() }).toEqual({ code: 1, out: `chk: chain ingress_rules rule ${lines.length}: expected [drop], found [accept]` });
    // a base chain's policy
    expect((await t.h.exec(["nft", "chain inet isola-chk output { policy drop; }"])).code).toBe(0);
    expect((await check()).out).toContain("chk: chain output: expected type filter hook output priority 0 policy accept, found type filter hook output priority 0 policy drop");
    await ok("policy", "sync", "--network", "chk");
    expect((await check()).out.trim()).toBe("ok");
    await ok("policy", "rm", "forms");
    await ok("network", "rm", "chk");
  }, 120_000);

  test("a failing command changes nothing: rm with an unknown name, apply whose second network's transaction fails", async () => {
    await ok("network", "create", "one", "--policy", "--subnet", "10.68.5.0/24", "--bridge", "isone0");
    await ok("network", "create", "two", "--policy", "--subnet", "10.68.6.0/24", "--bridge", "istwo0");
    await ok("policy", "apply", await policyFile(`${denyIngress("one", "a")}---\n${denyIngress("one", "b")}`));
    const stored = async () => ({ ls: await ok("policy", "ls", "--json"), files: (await t.h.exec(["find", `${t.state}/policy`, "-type", "f"])).out.split("\n").sort() });
    // another program owns table inet isola-two (nft's owner flag: only its creator may change it), so two's transaction fails
    const owner = Bun.spawn(["ip", "netns", "exec", t.h.name, "nft", "-i"], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
    try {
      owner.stdin.write("add table inet isola-two { flags owner; }\n");
      await owner.stdin.flush();
      for (let i = 0; i < 500 && !(await ruleset()).includes("isola-two"); i++) await Bun.sleep(10);
      const before = { tables: await tables(), store: await stored() };
      expect(before.tables.map((t) => t.split(" {")[0])).toEqual(["table inet isola-one", "table inet isola-two"]);

      const rm = await isola("policy", "rm", "deny-a", "nope");
      expect(rm.code).toBe(1);
      expect(rm.err).toContain('name[1]: no policy named "nope"');
      expect({ tables: await tables(), store: await stored() }).toEqual(before);

      // one's table is replaced first (its policy changes), then two's fails: one's comes back
      const file = await policyFile(`metadata: {name: deny-a, network: one}\nspec:\n  podSelector: {matchLabels: {app: a}}\n  egress: []\n---\n${denyIngress("two", "c")}`);
      const both = await isola("policy", "apply", file);
      expect(both.code).toBe(1);
      expect(both.err).toContain("isola-policy: network two: nft transaction failed");
      expect({ tables: await tables(), store: await stored() }).toEqual(before);
    } finally {
      owner.kill();
      await owner.exited;
    }
    expect(await ruleset()).not.toContain("isola-two");
    await ok("policy", "rm", "deny-a", "deny-b");
    expect(await ruleset()).not.toContain("isola-one");
    await ok("network", "rm", "one", "two");
  }, 120_000);

  test("network rm: refused while policies name the network; --force removes them, the table, the registered containers and the bridge's NAT element", async () => {
    await ok("network", "create", "gone", "--policy", "--nat", "--subnet", "10.68.7.0/24", "--bridge", "isgone0");
    const c = await container("gone", "c");
    await ok("policy", "apply", await policyFile(denyIngress("gone", "c")));
    const bridges = async () => (await t.h.exec(["nft", "list", "set", "inet", "isola_nat", "bridges"])).out;
    expect(await bridges()).toContain("isgone0");
    expect(await ruleset()).toContain("table inet isola-gone");
    expect((await t.h.exec(["ls", `${t.state}/policy/endpoints/gone`])).out.trim()).not.toBe("");

    await ok("network", "detach", c.netns, "--network", "gone", "--container-id", "c");
    const before = await ruleset();
    const refused = await isola("network", "rm", "gone");
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('network "gone" has a policy (deny-c); remove them (isola policy rm deny-c) or use --force');
    expect(await ruleset()).toBe(before);
    expect((await ok("network", "ls", "-q")).trim()).toBe("gone");

    await ok("network", "attach", c.netns, "--network", "gone", "--container-id", "c", "--label", "app=c");
    await ok("network", "rm", "gone", "--force");
    expect((await ok("policy", "ls", "-q")).trim()).toBe("");
    expect(await ruleset()).not.toContain("isola-gone");
    expect(await bridges()).not.toContain("isgone0");
    expect(await ruleset()).not.toContain("10.68.7.0/24");
    expect((await t.h.exec(["ls", `${t.state}/policy/endpoints`])).out.trim()).toBe("");
    expect(await t.h.links()).toEqual(["lo"]);
  }, 120_000);
});
