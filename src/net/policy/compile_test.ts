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
  expect(diffViews(want, have)).toEqual(["set in_isolated_4: missing 10.9.0.4", "set eg_isolated_4: unexpected 10.9.0.9", "chain ingress_rules: expected 13 rules, found 12"]);
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
