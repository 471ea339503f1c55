/**
 * Network policy cost, inside a test host (a network namespace: nothing changes in the
 * machine's own). Two containers, a server whose policy (ingress and egress) matches its
 * client through a selector set holding 10, 1,000 or 10,000 addresses, and a baseline with no
 * policy table at all. Several rounds; each round takes one short, bounded sample of every
 * configuration, interleaved (none, 10, 1k, 10k, rotated by one each round so no
 * configuration always comes first), switching by applying the policy with another selector
 * (or removing it for the baseline) and checking the kernel's set size / the table's absence.
 * A sample: p50 of one-byte round trips on one connection (an established flow: conntrack
 * accepts it before any set lookup), p50 of new connections (connect + round trip + close:
 * every SYN goes through the set lookups), and throughput of a bounded transfer.
 * Prints per configuration the median and min–max over rounds, and the ratios of the medians
 * to the 10-address case and to the baseline. Then, as before, the time to change a policy /
 * add a container with 10 vs 1,000 containers.
 *
 *   node_modules/.bin/bun bench/policy/bench.ts [--rounds 7] [--rtts 3000] [--conns 300] [--mib 256] [--apply-rounds 10]
 */
import { writeFile } from "node:fs/promises";
import { FilePolicyStore } from "../../src/net/policy/store.ts";
import { TestHost } from "../../src/net/testing/testhost.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const BUN = `${ROOT}/node_modules/.bin/bun`;
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg("rounds", 7);
const RTTS = arg("rtts", 3000);
const CONNS = arg("conns", 300);
const MIB = arg("mib", 256);
const APPLY_ROUNDS = arg("apply-rounds", 10);

const log = (m: string) => process.stderr.write(`bench/policy: ${m}\n`);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** a configuration: 0 = no policy table; otherwise the size of the selector set */
type Config = 0 | 10 | 1000 | 10000;
const CONFIGS: Config[] = [0, 10, 1000, 10000];
const label = (c: Config) => (c === 0 ? "g0" : c === 10 ? "g10" : c === 1000 ? "g1k" : "g10k");
const policyYaml = (sel: string) =>
  `metadata: {name: srv, network: bench}\nspec:\n  podSelector: {matchLabels: {app: srv}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {${sel}}}}]\n    ports: [{port: 7000, endPort: 7001}]\n  egress:\n  - to: [{podSelector: {matchLabels: {${sel}}}}]\n`;

const h = await TestHost.create();
try {
  const state = `${h.tmp}/root`;
  const isola = async (...args: string[]) => {
    const r = await h.exec([BUN, `${ROOT}/src/cli/isola.ts`, "--root", state, ...args]);
    if (r.code !== 0) throw new Error(`isola ${args.join(" ")}: ${r.err}`);
    return r.out;
  };
  await isola("network", "create", "bench", "--subnet", "10.67.0.0/24", "--bridge", "isbench0", "--plugin", JSON.stringify({ type: "isola-policy", capabilities: { labels: true }, dataDir: `${state}/policy` }));
  const srv = await h.container();
  const cli = await h.container();
  const ipOf = (out: string) => (JSON.parse(out) as { ips: { address: string }[] }).ips[0]!.address.split("/")[0]!;
  const srvIp = ipOf(await isola("network", "attach", srv, "--network", "bench", "--container-id", "srv", "--label", "app=srv", "--json"));
  await isola("network", "attach", cli, "--network", "bench", "--container-id", "cli", "--label", "role=cli", "--label", "g10=y", "--label", "g1k=y", "--label", "g10k=y", "--json");
  await h.backgroundReady([BUN, `${ROOT}/bench/policy/flow.ts`, "serve"], srv);

  // 9,999 fake containers (addresses nobody routes): the first 9 carry g10, the first 999 g1k, all g10k,
  // so with the client the g10 / g1k / g10k selectors hold 10 / 1,000 / 10,000 addresses
  const store = new FilePolicyStore(`${state}/policy`);
  log("registering 9,999 fake containers");
  for (let i = 0; i < 9999; i++) {
    const labels: Record<string, string> = { role: "cli", g10k: "y" };
    if (i < 999) labels.g1k = "y";
    if (i < 9) labels.g10 = "y";
    await store.putEndpoint("bench", { containerId: `fake${i}`, ifName: "eth0", addresses: [`10.200.${i >> 8}.${i & 255}`], labels });
  }

  const policy = `${h.tmp}/p.yaml`;
  let current: Config | undefined;
  /** Switches to a configuration and returns what the kernel holds (set members; 0 = no table). */
  const use = async (c: Config): Promise<number> => {
    if (c !== current) {
      if (c === 0) {
        if (current !== undefined) await isola("policy", "rm", "srv");
      } else {
        await writeFile(policy, policyYaml(`${label(c)}: y`));
        await isola("policy", "apply", policy);
      }
      current = c;
    }
    const tables = (await h.exec(["nft", "list", "tables"])).out;
    if (c === 0) {
      if (tables.includes("isola-bench")) throw new Error(`baseline: a policy table is still there: ${tables}`);
      return 0;
    }
    const chain = (await h.exec(["nft", "list", "chain", "inet", "isola-bench", "ingress_rules"])).out;
    const set = (await h.exec(["nft", "-j", "list", "set", "inet", "isola-bench", chain.match(/saddr @(sel_\w+_4)/)![1]!])).out;
    const members = (JSON.parse(set).nftables[1].set.elem ?? []).length as number;
    if (members !== c) throw new Error(`selector set holds ${members} addresses, expected ${c}`);
    return members;
  };
  const flow = async (...args: string[]) => {
    const r = await h.exec([BUN, `${ROOT}/bench/policy/flow.ts`, ...args], cli);
    if (r.code !== 0) throw new Error(`flow ${args.join(" ")}: exit ${r.code}: ${r.err}`);
    return JSON.parse(r.out) as Record<string, number>;
  };

  const samples = new Map<Config, { rtt: number[]; conn: number[]; mibs: number[] }>(CONFIGS.map((c) => [c, { rtt: [], conn: [], mibs: [] }]));
  await Bun.sleep(200);
  // one untimed pass so the first timed sample does not pay for cold caches
  await use(10);
  await flow("latency", srvIp, "500");
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < CONFIGS.length; k++) {
      const c = CONFIGS[(k + r) % CONFIGS.length]!;
      await use(c);
      const lat = await flow("latency", srvIp, String(RTTS));
      const con = await flow("connect", srvIp, String(CONNS));
      const thr = await flow("throughput", srvIp, String(MIB));
      const s = samples.get(c)!;
      s.rtt.push(lat.p50_us!);
      s.conn.push(con.p50_us!);
      s.mibs.push(thr.mib_per_s!);
      log(`round ${r + 1}/${ROUNDS} ${c === 0 ? "no policy" : `${c} addresses`}: rtt p50 ${lat.p50_us!.toFixed(1)} µs, connect p50 ${con.p50_us!.toFixed(1)} µs, ${thr.mib_per_s!.toFixed(0)} MiB/s`);
    }
  }
  // the policy really was enforcing: its allow counter moved
  await use(10);
  await flow("connect", srvIp, "20");
  const stats = JSON.parse(await isola("policy", "stats", "--network", "bench", "--json")) as { policy: string; allowed: { packets: number } }[];
  const allowed = stats.find((s) => s.policy === "srv")?.allowed.packets ?? 0;
  if (!allowed) throw new Error("policy srv allowed no packet: the traffic did not go through the policy");
  log(`policy srv allowed ${allowed} packets (new connections) since it was last applied`);

  const med = (c: Config) => {
    const s = samples.get(c)!;
    return { rtt: median(s.rtt), conn: median(s.conn), mibs: median(s.mibs) };
  };
  const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  const base = med(0);
  const ten = med(10);
  console.log(`${ROUNDS} rounds, configurations interleaved; per sample ${RTTS} round trips, ${CONNS} new connections, ${MIB} MiB; median (min–max over rounds)`);
  console.log("addresses in set | round trip p50 µs | new connection p50 µs | throughput MiB/s | rtt ×10 / ×none | conn ×10 / ×none | thr ×10 / ×none");
  for (const c of CONFIGS) {
    const s = samples.get(c)!;
    const m = med(c);
    const cell = (v: number, xs: number[], d: number) => `${v.toFixed(d)} (${range(xs, d)})`;
    const ratios = (a: number, b10: number, b0: number) => `${(a / b10).toFixed(2)} / ${(a / b0).toFixed(2)}`;
    console.log(
      [c === 0 ? "no policy" : String(c), cell(m.rtt, s.rtt, 1), cell(m.conn, s.conn, 1), cell(m.mibs, s.mibs, 0), ratios(m.rtt, ten.rtt, base.rtt), ratios(m.conn, ten.conn, base.conn), ratios(m.mibs, ten.mibs, base.mibs)].join(" | "),
    );
  }
  // flat within the noise: the 10,000 median lies inside the 10-address case's min–max
  const inside = (v: number, xs: number[]) => v >= Math.min(...xs) && v <= Math.max(...xs);
  const big = med(10000);
  const s10 = samples.get(10)!;
  console.log(`10,000 median inside the 10-address min–max: round trip ${inside(big.rtt, s10.rtt)}, new connection ${inside(big.conn, s10.conn)}, throughput ${inside(big.mibs, s10.mibs)}`);

  // time to change a policy / add and remove a container, with 10 and with 1,000 containers registered
  // (as before: the server's policy selects role=cli, fakes are role=cli)
  await writeFile(policy, policyYaml("role: cli"));
  await isola("policy", "apply", policy);
  let registered = 0;
  const fill = async (n: number) => {
    for (; registered < n - 1; registered++)
      await store.putEndpoint("bench", { containerId: `fake${registered}`, ifName: "eth0", addresses: [`10.200.${registered >> 8}.${registered & 255}`], labels: { role: "cli" } });
    await isola("policy", "sync");
  };
  const applyRows: Record<string, number>[] = [];
  for (const n of [10, 1000]) {
    for (const ep of await store.endpoints("bench")) if (ep.containerId.startsWith("fake")) await store.removeEndpoint("bench", ep.containerId, ep.ifName);
    registered = 0;
    await fill(n);
    const r = await h.exec([BUN, `${ROOT}/bench/policy/apply.ts`, `${state}/policy`, "bench", String(APPLY_ROUNDS)]);
    if (r.code !== 0) throw new Error(`apply.ts: ${r.err}`);
    applyRows.push({ n, ...(JSON.parse(r.out) as Record<string, number>) });
  }
  console.log("\ncontainers | policy change ms (one transaction) | container joins ms (set elements) | leaves ms");
  for (const r of applyRows) console.log(`${String(r.n).padStart(10)} | ${r.change_ms!.toFixed(2).padStart(33)} | ${r.join_ms!.toFixed(2).padStart(33)} | ${r.leave_ms!.toFixed(2).padStart(9)}`);
  const [a, b] = applyRows as [Record<string, number>, Record<string, number>];
  console.log(`ratios 1000/10: change ${(b.change_ms! / a.change_ms!).toFixed(2)}, join ${(b.join_ms! / a.join_ms!).toFixed(2)}, leave ${(b.leave_ms! / a.leave_ms!).toFixed(2)}`);
} finally {
  await h.destroy();
}
