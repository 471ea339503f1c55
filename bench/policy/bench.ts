/**
 * Network policy cost, inside a test host (a network namespace: nothing changes in the
 * machine's own): TCP latency and throughput between two containers whose policies match
 * through selector sets holding 10, 1,000 and 10,000 addresses (the per-packet cost must stay
 * flat), and the time to change a policy / add a container with 10 vs 1,000 containers.
 * Bounded traffic between the bench's own namespaces only. Prints numbers and ratios.
 *
 *   node_modules/.bin/bun bench/policy/bench.ts [--rounds N] [--mib N]
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

const log = (m: string) => process.stderr.write(`bench/policy: ${m}\n`);
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
  await isola("network", "attach", cli, "--network", "bench", "--container-id", "cli", "--label", "role=cli", "--json");
  h.background([BUN, `${ROOT}/bench/policy/flow.ts`, "serve"], srv);
  const policy = `${h.tmp}/p.yaml`;
  await writeFile(policy, "metadata: {name: srv, network: bench}\nspec:\n  podSelector: {matchLabels: {app: srv}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {role: cli}}}]\n    ports: [{port: 7000, endPort: 7001}]\n  egress:\n  - to: [{podSelector: {matchLabels: {role: cli}}}]\n");
  await isola("policy", "apply", policy);

  const store = new FilePolicyStore(`${state}/policy`);
  let registered = 0;
  /** Registers fake clients (role=cli) so the selector set holds `n` addresses, then rebuilds the table. */
  const fill = async (n: number) => {
    for (; registered < n - 1; registered++)
      await store.putEndpoint("bench", { containerId: `fake${registered}`, ifName: "eth0", addresses: [`10.200.${registered >> 8}.${registered & 255}`], labels: { role: "cli" } });
    await isola("policy", "sync");
  };
  const flow = async (...args: string[]) => JSON.parse((await h.exec([BUN, `${ROOT}/bench/policy/flow.ts`, ...args], cli)).out) as Record<string, number>;
  await Bun.sleep(200);
  const rows: { n: number; p50: number; p99: number; mibs: number }[] = [];
  for (const n of [10, 1000, 10000]) {
    log(`${n} addresses in the selector set`);
    await fill(n);
    const set = (await h.exec(["nft", "-j", "list", "set", "inet", "isola-bench", (await h.exec(["nft", "list", "chain", "inet", "isola-bench", "ingress_rules"])).out.match(/saddr @(sel_\w+_4)/)![1]!])).out;
    const members = (JSON.parse(set).nftables[1].set.elem ?? []).length as number;
    log("latency");
    const lat = await flow("latency", srvIp, String(arg("rounds", 2000)));
    log("throughput");
    const thr = await flow("throughput", srvIp, String(arg("mib", 256)));
    rows.push({ n: members, p50: lat.p50_us!, p99: lat.p99_us!, mibs: thr.mib_per_s! });
  }
  const base = rows[0]!;
  console.log("addresses in set | latency p50 µs | p99 µs | throughput MiB/s | p50 ratio | throughput ratio");
  for (const r of rows) console.log(`${String(r.n).padStart(16)} | ${r.p50.toFixed(1).padStart(14)} | ${r.p99.toFixed(1).padStart(6)} | ${r.mibs.toFixed(0).padStart(16)} | ${(r.p50 / base.p50).toFixed(2).padStart(9)} | ${(r.mibs / base.mibs).toFixed(2).padStart(16)}`);

  // time to change a policy / add and remove a container, with 10 and with 1,000 containers registered
  const applyRows: Record<string, number>[] = [];
  for (const n of [10, 1000]) {
    for (const ep of await store.endpoints("bench")) if (ep.containerId.startsWith("fake")) await store.removeEndpoint("bench", ep.containerId, ep.ifName);
    registered = 0;
    await fill(n);
    const r = JSON.parse((await h.exec([BUN, `${ROOT}/bench/policy/apply.ts`, `${state}/policy`, "bench", String(arg("rounds", 2000) > 100 ? 10 : 3)])).out) as Record<string, number>;
    applyRows.push({ n, ...r });
  }
  console.log("\ncontainers | policy change ms (one transaction) | container joins ms (set elements) | leaves ms");
  for (const r of applyRows) console.log(`${String(r.n).padStart(10)} | ${r.change_ms!.toFixed(2).padStart(33)} | ${r.join_ms!.toFixed(2).padStart(33)} | ${r.leave_ms!.toFixed(2).padStart(9)}`);
  const [a, b] = applyRows as [Record<string, number>, Record<string, number>];
  console.log(`ratios 1000/10: change ${(b.change_ms! / a.change_ms!).toFixed(2)}, join ${(b.join_ms! / a.join_ms!).toFixed(2)}, leave ${(b.leave_ms! / a.leave_ms!).toFixed(2)}`);
} finally {
  await h.destroy();
}
