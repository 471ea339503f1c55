// Bad policies are refused with an error naming the field.
import { expect, test } from "bun:test";
import { decodePolicies } from "./cli.ts";
import { parsePolicy, policyDocument, selects } from "./model.ts";

const base = { metadata: { name: "p", network: "lab" }, spec: { podSelector: {} } };
const withSpec = (spec: Record<string, unknown>) => ({ ...base, spec: { podSelector: {}, ...spec } });

test("bad input names the field", () => {
  const bad: [unknown, string][] = [
    [{ ...base, spce: {} }, "spce: unknown field (expected one of apiVersion, kind, metadata, spec)"],
    [withSpec({ ingres: [] }), "spec.ingres: unknown field (expected one of podSelector, policyTypes, ingress, egress, log)"],
    [{ ...base, metadata: { name: "Bad_Name", network: "lab" } }, 'metadata.name: "Bad_Name" is not a policy name'],
    [{ ...base, metadata: { name: "p" } }, "metadata.network: undefined is not a network name"],
    [{ ...base, kind: "Pod" }, 'kind: "Pod" is not a policy kind (expected NetworkPolicy)'],
    [withSpec({ podSelector: { matchLabels: { "bad key!": "x" } } }), 'spec.podSelector.matchLabels: "bad key!" is not a label key'],
    [withSpec({ podSelector: { matchLabels: { app: "a b" } } }), 'spec.podSelector.matchLabels.app: "a b" is not a label value'],
    [withSpec({ podSelector: { matchExpressions: [{ key: "app", operator: "Has" }] } }), 'spec.podSelector.matchExpressions[0].operator: "Has" is not an operator (expected In, NotIn, Exists, DoesNotExist)'],
    [withSpec({ podSelector: { matchExpressions: [{ key: "app", operator: "In", values: [] }] } }), "spec.podSelector.matchExpressions[0].values: operator In needs a non-empty list of values"],
    [withSpec({ podSelector: { matchExpressions: [{ key: "app", operator: "Exists", values: ["x"] }] } }), "spec.podSelector.matchExpressions[0].values: operator Exists takes no values"],
    [withSpec({ podSelector: { matchLabel: {} } }), "spec.podSelector.matchLabel: unknown field (expected one of matchLabels, matchExpressions)"],
    [withSpec({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/33" } }] }] }), 'spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0/33" is not a CIDR (expected a.b.c.d/0-32)'],
    [withSpec({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["11.0.0.0/16"] } }] }] }), "spec.ingress[0].from[0].ipBlock.except[0]: 11.0.0.0/16 is not strictly inside the cidr 10.0.0.0/8"],
    [withSpec({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }] }), "spec.ingress[0].from[0]: expected exactly one of podSelector, ipBlock"],
    [withSpec({ ingress: [{ ports: [{ port: 0 }] }] }), "spec.ingress[0].ports[0].port: 0 is not a port (expected 1-65535)"],
    [withSpec({ ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }), "spec.ingress[0].ports[0].endPort: 80 is not a port range end (expected 90-65535)"],
    [withSpec({ ingress: [{ ports: [{ endPort: 80 }] }] }), "spec.ingress[0].ports[0].endPort: needs a port"],
    [withSpec({ ingress: [{ ports: [{ port: "http" }] }] }), 'spec.ingress[0].ports[0].port: named port "http" is not supported'],
    [withSpec({ egress: [{ ports: [{ protocol: "ICMP" }] }] }), 'spec.egress[0].ports[0].protocol: "ICMP" is not a protocol (expected TCP, UDP or SCTP)'],
    [withSpec({ egress: [{ from: [] }] }), "spec.egress[0].from: unknown field (expected one of to, ports)"],
    [withSpec({ policyTypes: ["Ingress"], egress: [{}] }), "spec.egress: given, but policyTypes does not include Egress"],
    [withSpec({ policyTypes: ["ingress"] }), 'spec.policyTypes[0]: "ingress" is not a policy type (expected Ingress or Egress)'],
    [withSpec({ log: "yes" }), 'spec.log: expected true or false, found "yes"'],
  ];
  for (const [raw, msg] of bad) expect(() => parsePolicy(raw)).toThrow(msg);
});

test("defaults and normal form follow Kubernetes", () => {
  const p = parsePolicy(withSpec({ egress: [{ to: [], ports: [] }] }));
  expect(p.ingress).toEqual([]); // default deny ingress
  expect(p.egress).toEqual([{}]); // empty to/ports: anything
  expect(parsePolicy(base).egress).toBeUndefined();
  expect(parsePolicy(policyDocument(p))).toEqual(p);
  expect(selects({ matchLabels: {}, matchExpressions: [{ key: "a", operator: "NotIn", values: ["x"] }] }, {})).toBe(true);
  expect(selects({ matchLabels: {}, matchExpressions: [{ key: "a", operator: "DoesNotExist", values: [] }] }, { a: "" })).toBe(false);
});

test("YAML with several documents, JSON, and files that do not parse", () => {
  const yaml = "metadata: {name: a, network: lab}\nspec:\n  podSelector: {}\n---\nmetadata: {name: b, network: lab}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}\n";
  expect(decodePolicies(yaml, "p.yaml").map((p) => p.name)).toEqual(["a", "b"]);
  expect(decodePolicies(JSON.stringify([base]), "p.json")).toHaveLength(1);
  expect(() => decodePolicies(yaml.replace("10.0.0.0/8", "10.0.0.0/x"), "p.yaml")).toThrow('p.yaml[1].spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0/x" is not a CIDR');
  expect(() => decodePolicies("{", "p.json")).toThrow("p.json: not valid JSON");
  expect(() => decodePolicies("", "p.yaml")).toThrow("p.yaml: no policy in the file");
});
