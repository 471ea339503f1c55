// Golden tests: the exact nftables transactions the policy compiler generates, the CHECK
// view, and the decisions `isola policy test` gives. Pure: no root needed.
import { expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { diffViews, expectedView, kernelView } from "./check.ts";
import { compileTable, renderElements, renderReplace } from "./compile.ts";
import { decide, describeVerdict } from "./evaluate.ts";
import { parsePolicy, type Endpoint } from "./model.ts";

const web = parsePolicy({
  kind: "NetworkPolicy",
  metadata: { name: "web", network: "lab" },
  spec: {
    podSelector: { matchLabels: { app: "web" } },
    ingress: [
      { from: [{ podSelector: { matchLabels: { role: "client" } } }, { ipBlock: { cidr: "192.168.0.0/16", except: ["192.168.5.0/24"] } }], ports: [{ port: 80 }, { protocol: "UDP", port: 5000, endPort: 5010 }] },
    ],
    log: true,
  },
});
const lockdown = parsePolicy({
  metadata: { name: "db-lockdown", network: "lab" },
  spec: {
    podSelector: { matchExpressions: [{ key: "tier", operator: "In", values: ["db", "cache"] }] },
    policyTypes: ["Ingress", "Egress"],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ port: 5432 }] }],
    egress: [{ to: [{ ipBlock: { cidr: "fd00::/8" } }] }],
  },
});
const eps: Endpoint[] = [
  { containerId: "w1", ifName: "eth0", addresses: ["10.9.0.2", "fd09::2"], labels: { app: "web" } },
  { containerId: "c1", ifName: "eth0", addresses: ["10.9.0.3"], labels: { role: "client" } },
  { containerId: "d1", ifName: "eth0", addresses: ["10.9.0.4"], labels: { tier: "db" } },
  { containerId: "x1", ifName: "eth0", addresses: ["10.9.0.5"], labels: {} },
];

test("one table per network: sets per selector, counters per policy, conntrack first", () => {
  const t = compileTable("lab", [web, lockdown], eps)!;
  expect(renderReplace("lab", t)).toMatchSnapshot();
  expect(t.sets.find((s) => s.name === "in_isolated_4")!.elements).toEqual(["10.9.0.4", "10.9.0.2"]);
  expect(t.sets.find((s) => s.name === "eg_isolated_4")!.elements).toEqual(["10.9.0.4"]);
  // policies of other networks are not compiled in; a network without policies has no table
  expect(compileTable("other", [web], eps)).toBeUndefined();
  expect(renderReplace("other", undefined)).toBe("table inet isola-other\ndelete table inet isola-other\n");
});

test("the per-packet rules do not depend on the containers: only set elements change", () => {
  const few = compileTable("lab", [web, lockdown], eps.slice(0, 1))!;
  const many = compileTable("lab", [web, lockdown], [...eps, ...Array.from({ length: 500 }, (_, i): Endpoint => ({ containerId: `n${i}`, ifName: "eth0", addresses: [`10.9.${2 + (i >> 8)}.${i & 255}`], labels: { role: "client" } }))])!;
  expect(many.chains).toEqual(few.chains);
  expect(many.generation).toBe(few.generation);
  expect(renderElements("lab", [web, lockdown], eps[0]!, "add")).toBe(
    [
      "add element inet isola-lab sel_4617acf8b9_4 { 10.9.0.2 }",
      "add element inet isola-lab in_isolated_4 { 10.9.0.2 }",
      "add element inet isola-lab sel_4617acf8b9_6 { fd09::2 }",
      "add element inet isola-lab in_isolated_6 { fd09::2 }",
      "",
    ].join("\n"),
  );
  expect(renderElements("lab", [web, lockdown], eps[3]!, "delete")).toBe(""); // selected by nothing
  expect(renderElements("lab", [], eps[0]!, "add")).toBe("");
});

test("CHECK: the kernel view of what the compiler made agrees; drift is named", async () => {
  const t = compileTable("lab", [web, lockdown], eps)!;
  const want = expectedView(t);
  const listed = JSON.parse(await readFile(new URL("testdata/listed.json", import.meta.url), "utf8"));
  const have = kernelView(listed);
  expect(diffViews(want, have)).toEqual([
    "set in_isolated_4: missing 10.9.0.4",
    "set eg_isolated_4: unexpected 10.9.0.9",
    "chain ingress_rules: expected 13 rules, found 12",
    'chain ingress_rules: missing rule [ip daddr @sel_6ecef11372_4 ip saddr @sel_4617acf8b9_4 meta l4proto tcp th dport 5432 counter name "allow-db-lockdown" return]',
  ]);
});

type Listed = { nftables: Record<string, Record<string, unknown>>[] };
const listed = async (): Promise<Listed> => JSON.parse(await readFile(new URL("testdata/listed.json", import.meta.url), "utf8"));
const rulesOf = (l: Listed, chain: string) => l.nftables.filter((i) => i.rule?.chain === chain).map((i) => i.rule as { expr: Record<string, unknown>[] });
const chainOf = (l: Listed, name: string) => l.nftables.find((i) => i.chain?.name === name)!.chain!;
const setOf = (l: Listed, name: string) => l.nftables.find((i) => i.set?.name === name)!.set!;

test("CHECK compares rules by meaning: a changed verdict, port, chain hook or set type is named; nft's own spellings are not", async () => {
  const want = expectedView(compileTable("lab", [web, lockdown], eps)!);
  const base = diffViews(want, kernelView(await listed()));
  const drift = async (change: (l: Listed) => void) => {
    const l = await listed();
    change(l);
    return diffViews(want, kernelView(l)).filter((d) => !base.includes(d));
  };
  // the last egress rule: drop became accept
  expect(await drift((l) => (rulesOf(l, "egress_rules")[3]!.expr = [{ accept: null }]))).toEqual(["chain egress_rules rule 4: expected [drop], found [accept]"]);
  // an allowed range widened by one port
  const widened = await drift((l) => {
    const m = rulesOf(l, "ingress_rules")[2]!.expr[2] as { match: { right: unknown } };
    m.match.right = { range: [5000, 5011] };
  });
  expect(widened).toContain("chain ingress_rules: unexpected rule [ip daddr @sel_4617acf8b9_4 ip saddr @sel_7f3ece6ada_4 udp dport 5000-5011 counter name \"allow-web\" return]");
  expect(widened).toContain("chain ingress_rules: missing rule [ip daddr @sel_4617acf8b9_4 ip saddr @sel_7f3ece6ada_4 meta l4proto udp th dport 5000-5010 counter name \"allow-web\" return]");
  // a port match dropped entirely
  expect(await drift((l) => rulesOf(l, "ingress_rules")[1]!.expr.splice(2, 1))).toContain("chain ingress_rules: unexpected rule [ip daddr @sel_4617acf8b9_4 ip saddr @sel_7f3ece6ada_4 counter name \"allow-web\" return]");
  expect(
    await drift((l) => {
      chainOf(l, "forward").policy = "drop";
      chainOf(l, "input").prio = 10;
      delete chainOf(l, "egress").type; // egress as a regular chain is fine as it is
      setOf(l, "sel_7f3ece6ada_6").type = "ipv4_addr";
      setOf(l, "sel_7f3ece6ada_4").flags = ["interval"];
    }),
  ).toEqual([
    "set sel_7f3ece6ada_4: expected flags none, found interval",
    "set sel_7f3ece6ada_6: expected type ipv6_addr, found ipv4_addr",
    "chain forward: expected type filter hook forward priority 0 policy accept, found type filter hook forward priority 0 policy drop",
    "chain input: expected type filter hook input priority 0 policy accept, found type filter hook input priority 10 policy accept",
  ]);
  // the same meaning in other words: a one-element set, a /32 prefix for an address, the
  // protocol written out before "th dport", a set's members in another order
  expect(
    await drift((l) => {
      const except = rulesOf(l, "ingress_rules")[3]!.expr[2] as { match: { right: unknown } };
      except.match.right = { set: [except.match.right] };
      const port = rulesOf(l, "ingress_rules")[3]!.expr[3] as { match: { right: unknown } };
      port.match.right = { set: [{ range: [80, 80] }] };
      const db = rulesOf(l, "egress_rules")[0]!.expr;
      db[1] = { match: { op: "==", left: { payload: { protocol: "ip6", field: "daddr" } }, right: { set: [{ prefix: { addr: "fd00::", len: 9 } }, { prefix: { addr: "fd80::", len: 9 } }] } } };
      const nd = rulesOf(l, "forward")[1]!.expr[0] as { match: { right: { set: string[] } } };
      nd.match.right.set.reverse();
      rulesOf(l, "ingress_rules")[0]!.expr.splice(2, 1, { match: { op: "==", left: { meta: { key: "l4proto" } }, right: "tcp" } }, { match: { op: "==", left: { payload: { protocol: "th", field: "dport" } }, right: 5432 } });
    }),
  ).toEqual([]);
});

test("decisions name the policies", () => {
  const ps = [web, lockdown];
  const ep = (id: string) => ({ endpoint: eps.find((e) => e.containerId === id)! });
  const v1 = decide(ps, { from: ep("c1"), to: ep("w1"), port: 80, protocol: "tcp" });
  expect(describeVerdict(v1)).toBe("allowed (egress: not isolated; ingress: allowed by web)");
  const v2 = decide(ps, { from: ep("x1"), to: ep("w1"), port: 80, protocol: "tcp" });
  expect(describeVerdict(v2)).toBe("denied (egress: not isolated; ingress: denied (isolated by web; no rule allows it))");
  expect(decide(ps, { from: ep("c1"), to: ep("w1"), port: 5005, protocol: "udp" }).allowed).toBe(true);
  expect(decide(ps, { from: ep("c1"), to: ep("w1"), port: 5011, protocol: "udp" }).allowed).toBe(false);
  expect(decide(ps, { from: { address: "192.168.1.1" }, to: ep("w1"), port: 80, protocol: "tcp" }).allowed).toBe(true);
  expect(decide(ps, { from: { address: "192.168.5.1" }, to: ep("w1"), port: 80, protocol: "tcp" }).allowed).toBe(false);
  // db: ingress only from web on 5432; egress only to fd00::/8, so db → web is denied at egress
  expect(decide(ps, { from: ep("w1"), to: ep("d1"), port: 5432, protocol: "tcp" }).ingress.allowedBy).toEqual(["db-lockdown"]);
  expect(describeVerdict(decide(ps, { from: ep("d1"), to: ep("x1"), port: 80, protocol: "tcp" }))).toBe("denied (egress: denied (isolated by db-lockdown; no rule allows it); ingress: not isolated)");
  expect(decide(ps, { from: ep("x1"), to: ep("c1"), port: 1, protocol: "sctp" }).allowed).toBe(true);
});
