// Real flows under network policies, inside a test host (a network namespace playing the
// host, with an isola bridge network and the isola-policy plugin in its chain): an N×N
// probe matrix over TCP and UDP, on ports inside and just outside the allowed ones, must
// match the expected allow/deny table exactly — before
// and after policy changes, container churn, and a restart (rebuild) of the policy engine.
// Everything runs through the `isola` CLI inside the test host; nothing touches the
// machine's own namespace.
import { describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { BUN, cliHostForFile, PROBE } from "./testing/cli_host.ts";
import { decide } from "./evaluate.ts";
import { FilePolicyStore } from "./store.ts";
import { PROBE_PORTS, probeKey, type ProbeResult } from "./testing/probe.ts";

const root = process.getuid?.() === 0;

const t = cliHostForFile(root);
const { isola, ok } = t;

interface Box {
  id: string;
  netns: string;
  ip: string;
}

const boxes = new Map<string, Box>();

async function start(id: string, labels: Record<string, string>): Promise<void> {
  const netns = await t.h.container();
  const out = await ok("network", "attach", netns, "--network", "lab", "--container-id", id, "--json", ...Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]));
  const ip = (JSON.parse(out) as { ips: { address: string }[] }).ips[0]!.address.split("/")[0]!;
  await t.h.backgroundReady([BUN, PROBE, "serve"], netns);
  boxes.set(id, { id, netns, ip });
}

async function stop(id: string): Promise<void> {
  const b = boxes.get(id)!;
  await ok("network", "detach", b.netns, "--network", "lab", "--container-id", id);
  boxes.delete(id);
}

type Matrix = Record<string, ProbeResult>;

/** Probes every ordered pair of distinct containers; "from>to" → {"tcp/80": reachable, ...} for every probe port. */
async function probeMatrix(): Promise<Matrix> {
  const all = [...boxes.values()];
  const out: Matrix = {};
  await Promise.all(
    all.map(async (src) => {
      const targets = all.filter((t) => t !== src);
      const r = await t.h.exec([BUN, PROBE, "probe", ...targets.map((t) => t.ip)], src.netns);
      const res = JSON.parse(r.out) as Record<string, ProbeResult>;
      for (const t of targets) out[`${src.id}>${t.id}`] = res[t.ip]!;
    }),
  );
  return out;
}

/** The expected matrix from the evaluator over what the store holds. */
async function expectedMatrix(): Promise<Matrix> {
  const store = new FilePolicyStore(`${t.state}/policy`);
  const policies = await store.policies("lab");
  const eps = await store.endpoints("lab");
  const out: Matrix = {};
  for (const a of eps)
    for (const b of eps) {
      if (a === b) continue;
      out[`${a.containerId}>${b.containerId}`] = Object.fromEntries(PROBE_PORTS.map((p) => [probeKey(p), decide(policies, { from: { endpoint: a }, to: { endpoint: b }, ...p }).allowed]));
    }
  return out;
}

function sorted(m: Matrix): Matrix {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function policyFile(name: string, text: string): Promise<string> {
  const p = `${t.h.tmp}/${name}`;
  await writeFile(p, text);
  return p;
}

const POLICIES = `
kind: NetworkPolicy
metadata: {name: default-deny, network: lab}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
kind: NetworkPolicy
metadata: {name: web-from-client, network: lab}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{protocol: TCP, port: 80}]
---
kind: NetworkPolicy
metadata: {name: dns, network: lab}
spec:
  podSelector: {matchLabels: {app: dns}}
  ingress:
  - from: [{podSelector: {}}]
    ports: [{protocol: UDP, port: 53}]
---
kind: NetworkPolicy
metadata: {name: client-egress, network: lab}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{protocol: TCP, port: 80}]
`;

const T = true;
const F = false;
/** reachable on tcp/80, tcp/91, udp/53, udp/61 (see PROBE_PORTS) */
const ports = (tcp80: boolean, tcp91: boolean, udp53: boolean, udp61: boolean): ProbeResult => ({ "tcp/80": tcp80, "tcp/91": tcp91, "udp/53": udp53, "udp/61": udp61 });

describe.skipIf(!root)("network policies on real flows", () => {
  test("probe matrix before and after policy changes, churn and an engine rebuild", async () => {
    await ok("network", "create", "lab", "--subnet", "10.66.0.0/24", "--bridge", "islab0", "--policy");
    await start("web", { app: "web" });
    await start("client", { role: "client" });
    await start("dns", { app: "dns" });
    await start("other", { app: "other" });

    // no policy: everything reaches everything
    const open = await probeMatrix();
    expect(Object.values(open).every((v) => Object.keys(v).length === PROBE_PORTS.length && Object.values(v).every(Boolean))).toBe(true);
    expect(Object.keys(open)).toHaveLength(12);

    await ok("policy", "create", await policyFile("p.yaml", POLICIES));
    // written by hand (the evaluator is checked against it, then used for later states)
    // (no rule allows tcp/91 or udp/61: every allowing rule names its port)
    const want: Matrix = {
      "client>dns": ports(F, F, F, F), // client egress allows only web/tcp 80
      "client>other": ports(F, F, F, F),
      "client>web": ports(T, F, F, F),
      "dns>client": ports(F, F, F, F),
      "dns>other": ports(F, F, F, F),
      "dns>web": ports(F, F, F, F),
      "other>client": ports(F, F, F, F),
      "other>dns": ports(F, F, T, F),
      "other>web": ports(F, F, F, F),
      "web>client": ports(F, F, F, F),
      "web>dns": ports(F, F, T, F),
      "web>other": ports(F, F, F, F),
    };
    expect(sorted(await expectedMatrix())).toEqual(want);
    expect(sorted(await probeMatrix())).toEqual(want);
    expect((await ok("policy", "check", "--network", "lab")).trim()).toBe("ok");

    // test says which policy decides; stats count denied packets per policy
    const t1 = await isola("policy", "test", "client", "web", "80/tcp", "--network", "lab");
    expect({ code: t1.code, out: t1.out.trim() }).toEqual({ code: 0, out: "allowed (egress: allowed by client-egress; ingress: allowed by web-from-client)" });
    const t2 = await isola("policy", "test", "other", "web", "80/tcp", "--network", "lab");
    expect(t2.code).toBe(3);
    expect(t2.out).toContain("ingress: denied (isolated by default-deny, web-from-client; no rule allows it)");
    const stats = JSON.parse(await ok("policy", "stats", "--network", "lab", "--json")) as { policy: string; allowed: { packets: number }; denied: { packets: number } }[];
    expect(stats.find((s) => s.policy === "default-deny")!.denied.packets).toBeGreaterThan(0);
    expect(stats.find((s) => s.policy === "web-from-client")!.allowed.packets).toBeGreaterThan(0);

    // bad input: refused naming the field, the kernel's ruleset unchanged
    const before = (await t.h.exec(["nft", "list", "ruleset"])).out;
    const bad1 = await isola("policy", "apply", await policyFile("bad.yaml", "metadata: {name: bad, network: lab}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/40}}]\n"));
    expect(bad1.code).toBe(1);
    expect(bad1.err).toContain('spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0/40" is not a CIDR');
    const bad2 = await isola("policy", "apply", await policyFile("bad2.yaml", "metadata: {name: elsewhere, network: nosuchnet}\nspec: {podSelector: {}}\n"));
    expect(bad2.err).toContain('metadata.network: no network named "nosuchnet"');
    const bad3 = await isola("policy", "apply", await policyFile("bad3.yaml", "metadata: {name: x, network: lab}\nspec: {podSelector: {matchExpressions: [{key: app, operator: Like}]}, egres: []}\n"));
    expect(bad3.err).toContain("spec.egres: unknown field");
    const bad4 = await isola("policy", "create", await policyFile("dup.yaml", POLICIES));
    expect(bad4.err).toContain('metadata.name: policy "default-deny" already exists');
    expect((await t.h.exec(["nft", "list", "ruleset"])).out).toBe(before);
    expect((await ok("policy", "ls", "-q")).trim().split("\n")).toEqual(["client-egress", "default-deny", "dns", "web-from-client"]);

    // policy change: no more default deny; clients may also ask dns
    await ok("policy", "rm", "default-deny");
    await ok(
      "policy",
      "apply",
      await policyFile("egress.json", JSON.stringify({ metadata: { name: "client-egress", network: "lab" }, spec: { podSelector: { matchLabels: { role: "client" } }, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ port: 80 }] }, { to: [{ podSelector: { matchLabels: { app: "dns" } } }], ports: [{ protocol: "UDP", port: 53 }] }] } })),
    );
    // the table was replaced twice; web-from-client's counters came along (no new traffic yet)
    const kept = JSON.parse(await ok("policy", "stats", "--network", "lab", "--json")) as typeof stats;
    const counted = stats.find((s) => s.policy === "web-from-client")!.allowed.packets;
    expect(kept.find((s) => s.policy === "web-from-client")!.allowed.packets).toBeGreaterThanOrEqual(counted);
    expect(kept.map((s) => s.policy)).not.toContain("default-deny");
    const changed = await expectedMatrix();
    expect(changed["client>dns"]).toEqual(ports(F, F, T, F));
    expect(changed["client>web"]).toEqual(ports(T, F, F, F)); // client egress: port 80 only
    expect(changed["web>other"]).toEqual(ports(T, T, T, T));
    expect(sorted(await probeMatrix())).toEqual(sorted(changed));

    // churn: one container leaves, a new client joins (set elements only: same rules generation)
    const gen = (await t.h.exec(["nft", "list", "chain", "inet", "isola-lab", "forward"])).out.match(/gen ([0-9a-f]+)/)![1];
    await stop("other");
    await start("client2", { role: "client" });
    expect((await t.h.exec(["nft", "list", "chain", "inet", "isola-lab", "forward"])).out).toContain(`gen ${gen}`);
    const churned = await expectedMatrix();
    expect(churned["client2>web"]).toEqual(ports(T, F, F, F));
    expect(Object.keys(churned).some((k) => k.includes("other"))).toBe(false);
    expect(sorted(await probeMatrix())).toEqual(sorted(churned));
    expect((await ok("policy", "check", "--network", "lab")).trim()).toBe("ok");

    // restart: the kernel state is lost (table gone); check sees it; a fresh engine rebuilds it from the store
    await t.h.exec(["nft", "delete", "table", "inet", "isola-lab"]);
    const lost = await isola("policy", "check", "--network", "lab");
    expect({ code: lost.code, out: lost.out.trim() }).toEqual({ code: 1, out: "lab: table inet isola-lab: missing" });
    await ok("policy", "sync");
    expect((await ok("policy", "check")).trim()).toBe("ok");
    expect(sorted(await probeMatrix())).toEqual(sorted(churned));

    // CNI CHECK through the chain verifies the table too
    await ok("network", "check", boxes.get("web")!.netns, "--network", "lab", "--container-id", "web");

    // the rest of the rule language on real packets: matchExpressions (In, NotIn), an ipBlock
    // with except, and port ranges (endPort) for TCP and UDP
    await start("probe", { app: "probe" });
    const dnsIp = boxes.get("dns")!.ip;
    await ok(
      "policy",
      "apply",
      await policyFile(
        "more.yaml",
        `kind: NetworkPolicy
metadata: {name: web-from-subnet, network: lab}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}
  ingress:
  - from: [{ipBlock: {cidr: 10.66.0.0/24, except: ["${dnsIp}/32"]}}]
    ports: [{protocol: TCP, port: 70, endPort: 90}]
---
kind: NetworkPolicy
metadata: {name: udp-range-only, network: lab}
spec:
  podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web, dns]}]}
  ingress:
  - ports: [{protocol: UDP, port: 50, endPort: 60}]
`,
      ),
    );
    // inspect gives the documents back (normalised: policyTypes filled in), re-applicable as they are
    const shown = JSON.parse(await ok("policy", "inspect", "web-from-subnet")) as { metadata: { name: string; network: string }; spec: Record<string, unknown> };
    expect(shown.metadata).toMatchObject({ name: "web-from-subnet", network: "lab" });
    expect(shown.spec).toEqual({
      podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ ipBlock: { cidr: "10.66.0.0/24", except: [`${dnsIp}/32`] } }], ports: [{ protocol: "TCP", port: 70, endPort: 90 }] }],
    });
    expect(JSON.parse(await ok("policy", "inspect", "web-from-subnet", "udp-range-only")).map((d: { metadata: { name: string } }) => d.metadata.name)).toEqual(["web-from-subnet", "udp-range-only"]);
    expect((await isola("policy", "inspect", "nope")).err).toContain('no policy named "nope"');
    await ok("policy", "apply", await policyFile("shown.json", JSON.stringify(shown)));
    const more = await expectedMatrix();
    expect(more["probe>web"]).toEqual(ports(T, F, F, F)); // in the block, TCP 80 in 70-90, 91 past it
    expect(more["dns>web"]).toEqual(ports(F, F, F, F)); // the block's exception
    expect(more["web>probe"]).toEqual(ports(F, F, T, F)); // probe isolated: only UDP 50-60, 61 past it
    expect(sorted(await probeMatrix())).toEqual(sorted(more));
    expect((await ok("policy", "check", "--network", "lab")).trim()).toBe("ok");
    await ok("policy", "rm", "web-from-subnet", "udp-range-only");

    // teardown: detach all, remove the policies (the table goes with the last one), the network
    for (const id of [...boxes.keys()]) await stop(id);
    expect(await new FilePolicyStore(`${t.state}/policy`).endpoints("lab")).toEqual([]);
    await ok("policy", "rm", "web-from-client", "dns", "client-egress");
    expect((await t.h.exec(["nft", "list", "tables"])).out).not.toContain("isola-lab");
    await ok("network", "rm", "lab");
  }, 120_000);
});
