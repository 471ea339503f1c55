/**
 * Runs inside the bench's test host: with N registered containers, times a policy change
 * (one transaction replacing the table, N elements included) and one container joining and
 * leaving (set elements only). Prints JSON in milliseconds (medians).
 */
import { PolicyEngine } from "../../src/net/policy/engine.ts";
import { parsePolicy } from "../../src/net/policy/model.ts";
import { FilePolicyStore } from "../../src/net/policy/store.ts";

const [dir, network, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText ?? 10);
const engine = new PolicyEngine({ store: new FilePolicyStore(dir!) });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ms = async (f: () => Promise<void>) => {
  const t0 = Bun.nanoseconds();
  await f();
  return (Bun.nanoseconds() - t0) / 1e6;
};
const change: number[] = [];
const join: number[] = [];
const leave: number[] = [];
for (let i = 0; i < rounds; i++) {
  const p = parsePolicy({ metadata: { name: "bench-change", network }, spec: { podSelector: { matchLabels: { role: "cli" } }, ingress: [{ ports: [{ port: 9000 + i }] }] } });
  change.push(await ms(() => engine.apply([p])));
  const ep = { containerId: `joiner${i}`, ifName: "eth0", addresses: [`10.201.0.${i + 1}`], labels: { role: "cli" } };
  join.push(await ms(() => engine.attach(network!, ep)));
  leave.push(await ms(() => engine.detach(network!, ep.containerId, "eth0")));
}
await engine.remove(["bench-change"]);
process.stdout.write(JSON.stringify({ change_ms: median(change), join_ms: median(join), leave_ms: median(leave) }) + "\n");
