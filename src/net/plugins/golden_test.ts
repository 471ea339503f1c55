// Golden tests: the exact iproute2 batches and nft transactions isola's plugins generate.
import { expect, test } from "bun:test";
import { renderIp } from "../linkops.ts";
import { bridgeOps, containerOps, hostOps, hostVethName, type BridgeConf } from "./bridge_plan.ts";
import { renderElemOps, encodeElemBatch } from "../netlink/nft_encode.ts";
import { bridgeOps as natBridgeOps, listedElement, masqLines, masqOps, natBase, natProblems, ownedElements, ownerTag, publishOps, unpublishOps } from "./nat_ruleset.ts";
import { portRules } from "./portmap.ts";
import { bridgeConf } from "./bridge.ts";
import { filterBase, internalLines, internalRemoveLines, listsInternal } from "./filter_ruleset.ts";

const conf: BridgeConf = { bridge: "isola0", mtu: 1400, isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true };
const ips = [
  { address: "10.88.0.5/16", gateway: "10.88.0.1" },
  { address: "fd88::5/64", gateway: "fd88::1" },
];

test("bridge, host and container batches", () => {
  expect(hostVethName("abc", "eth0")).toMatch(/^isv[0-9a-f]{12}$/);
  expect(hostVethName("abc", "eth0")).toBe(hostVethName("abc", "eth0"));
  expect(renderIp(bridgeOps(conf, ips, "02:00:00:00:00:01"))).toEqual([
    "link add isola0 address 02:00:00:00:00:01 mtu 1400 type bridge",
    "address replace 10.88.0.1/16 dev isola0",
    "address replace fd88::1/64 dev isola0 nodad",
    "link set isola0 up",
  ]);
  const v = { hostVeth: "isv0123", hostMac: "02:aa:aa:aa:aa:aa", containerMac: "02:bb:bb:bb:bb:bb", ifName: "eth0", netns: "/run/netns/c1" };
  expect(renderIp(hostOps(conf, v, true))).toEqual([
    "link del isv0123",
    "link add isv0123 address 02:aa:aa:aa:aa:aa mtu 1400 master isola0 up type veth peer name eth0 address 02:bb:bb:bb:bb:bb mtu 1400 netns /run/netns/c1",
    "link set isv0123 type bridge_slave hairpin on",
  ]);
  expect(renderIp(containerOps(conf, "eth0", ips, [{ dst: "192.168.0.0/16" }, { dst: "0.0.0.0/0" }]))).toEqual([
    "link set eth0 up",
    "address add 10.88.0.5/16 dev eth0",
    "address add fd88::5/64 dev eth0 nodad",
    "route add 0.0.0.0/0 via 10.88.0.1 dev eth0",
    "route add ::/0 via fd88::1 dev eth0",
    "route add 192.168.0.0/16 via 10.88.0.1 dev eth0",
  ]);
  expect(renderIp(containerOps({ ...conf, isDefaultGateway: false }, "eth0", ips.slice(0, 1), []))).toEqual(["link set eth0 up", "address add 10.88.0.5/16 dev eth0"]);
});

test("an argument that would change an ip -batch line is refused, naming the op and the field", () => {
  const v = { hostVeth: "isv0123", hostMac: "02:aa:aa:aa:aa:aa", containerMac: "02:bb:bb:bb:bb:bb", ifName: "eth0", netns: "/run/netns/c1" };
  expect(() => renderIp(hostOps(conf, { ...v, ifName: "eth0\nlink del isola0" }, false))).toThrow('veth-add: peer "eth0\\nlink del isola0" is not a safe argument (expected no whitespace, quotes, "\\" or "#", and not empty)');
  expect(() => renderIp(hostOps(conf, { ...v, containerMac: "02:bb:bb:bb:bb:bb master x" }, false))).toThrow("veth-add: peerMac");
  expect(() => renderIp(containerOps(conf, "#eth0", ips, []))).toThrow('link-up: dev "#eth0"');
  expect(() => renderIp([{ op: "link-del", dev: "" }])).toThrow('link-del: dev "" is not a safe argument');
  expect(() => renderIp([{ op: "link-rename", dev: "a", name: 'b"c' }])).toThrow("link-rename: name");
});

test("the nat table and port publishing transaction", () => {
  expect(natBase().join("\n")).toMatchSnapshot();
  const rules = portRules(
    [
      { hostPort: 8080, containerPort: 80 },
      { hostPort: 5353, containerPort: 53, protocol: "UDP", hostIP: "192.168.1.10" },
    ],
    { cniVersion: "1.1.0", ips },
  );
  const owner = ownerTag("abc", "eth0");
  expect(owner).toBe(hostVethName("abc", "eth0"));
  expect(renderElemOps(publishOps(rules, owner))).toEqual([
    `create element inet isola_nat ports4 { tcp . 8080 comment "${owner}" : 10.88.0.5 . 80 }`,
    `create element inet isola_nat ports6 { tcp . 8080 comment "${owner}" : fd88::5 . 80 }`,
    `create element inet isola_nat hostports4 { 192.168.1.10 . udp . 5353 comment "${owner}" : 10.88.0.5 . 53 }`,
  ]);
  expect(publishOps(rules)[0]!.timeoutMs).toBe(2 ** 40);
  const batch = encodeElemBatch(publishOps(rules, owner), 1).bytes;
  expect(Buffer.from(batch).toString("hex")).toMatchSnapshot();
  // NFTA_SET_ELEM_USERDATA: libnftnl's comment TLV (type 0, length with the NUL, the text)
  expect(Buffer.from(batch).toString("hex")).toContain("16000600" + "0010" + Buffer.from(`${owner}\0`).toString("hex"));
  expect(() => renderElemOps(publishOps(rules, 'x" }\nflush ruleset'))).toThrow("element comment");
  expect(unpublishOps(rules.slice(0, 1))).toEqual([{ kind: "expire", table: "isola_nat", set: "ports4", key: [{ proto: "tcp" }, { port: 8080 }], data: [{ ip: "10.88.0.5" }, { port: 80 }] }]);
  expect(Buffer.from(encodeElemBatch(unpublishOps(rules.slice(0, 1)), 1).bytes).toString("hex")).toMatchSnapshot();
  // the text fallback (and kernels before 6.10): add exact (ownership) + delete
  expect(renderElemOps(unpublishOps(rules.slice(0, 1)))).toEqual([
    "add element inet isola_nat ports4 { tcp . 8080 : 10.88.0.5 . 80 }",
    "delete element inet isola_nat ports4 { tcp . 8080 }",
  ]);
  const listed = `elements = { tcp . 8080 timeout 34y310d expires 34y309d comment "${owner}" : 10.88.0.5 . 80,\n\t\t\t     udp . 53 : 10.88.0.6 . 53 }`;
  expect(listedElement(rules[0]!).test(listed)).toBe(true);
  expect(listedElement({ ...rules[0]!, containerPort: 8 }).test(listed)).toBe(false);
  expect(masqLines(["10.88.0.0/16", "fd88::/64"])).toEqual(["add element inet isola_nat masq4 { 10.88.0.0/16 }", "add element inet isola_nat masq6 { fd88::/64 }"]);
});

test("masquerade elements: a prefix in an interval set is a start element and an end element flagged INTERVAL_END", () => {
  expect(masqOps(["10.86.0.0/24"])).toEqual([{ kind: "add", table: "isola_nat", set: "masq4", key: [{ cidr: "10.86.0.0/24" }] }]);
  const hex = (cidr: string) => Buffer.from(encodeElemBatch(masqOps([cidr]), 1).bytes).toString("hex");
  // NFTA_LIST_ELEM { KEY { VALUE 10.86.0.0 } }, NFTA_LIST_ELEM { KEY { VALUE 10.86.1.0 }, FLAGS 1 }
  expect(hex("10.86.0.0/24")).toContain("10000180" + "0c000180" + "08000100" + "0a560000" + "18000180" + "0c000180" + "08000100" + "0a560100" + "08000300" + "00000001");
  // a prefix that ends the address space has no end element
  expect(hex("255.255.255.0/24")).toContain("08000100" + "ffffff00");
  expect(hex("255.255.255.0/24")).not.toContain("08000300");
  // fd88::/64: from fd88:: to fd88:0:0:1::
  expect(hex("fd88::/64")).toContain("14000100" + "fd88" + "0".repeat(28));
  expect(hex("fd88::/64")).toContain("14000100" + "fd880000000000010000000000000000" + "08000300" + "00000001");
  expect(() => encodeElemBatch([{ kind: "add", table: "t", set: "s", key: [{ cidr: "10.0.0.0/8" }, { port: 1 }] }], 1)).toThrow("s: a cidr must be the whole key");
  expect(Buffer.from(encodeElemBatch([...natBridgeOps("isolamasq0"), ...masqOps(["10.86.0.0/24", "fd86::/64"])], 1).bytes).toString("hex")).toMatchSnapshot();
});

test("CHECK of a NAT bridge: what is missing from `nft -j list table inet isola_nat` is named", () => {
  const table = { table: { family: "inet", name: "isola_nat" } };
  const set = (name: string, elem: unknown[]) => ({ set: { family: "inet", table: "isola_nat", name, elem } });
  const masq = (fam: 4 | 6) => ({ rule: { family: "inet", table: "isola_nat", chain: "postrouting", expr: [{ match: { op: "==", left: { payload: { protocol: fam === 4 ? "ip" : "ip6", field: "saddr" } }, right: `@masq${fam}` } }, { masquerade: null }] } });
  const full = { nftables: [table, set("bridges", ["isolamasq0"]), set("masq4", [{ prefix: { addr: "10.86.0.0", len: 24 } }]), set("masq6", [{ prefix: { addr: "fd86::", len: 64 } }]), masq(4), masq(6)] };
  expect(natProblems(full, "isolamasq0", ["10.86.0.0/24", "fd86::/64"])).toEqual([]);
  expect(natProblems(undefined, "isolamasq0", ["10.86.0.0/24"])).toEqual(["table inet isola_nat is missing"]);
  expect(natProblems({ nftables: [table, set("bridges", []), set("masq4", [{ prefix: { addr: "10.86.0.0", len: 16 } }])] }, "isolamasq0", ["10.86.0.0/24"])).toEqual([
    "bridge isolamasq0 is not in set inet isola_nat bridges",
    "subnet 10.86.0.0/24 is not in set inet isola_nat masq4",
    "chain inet isola_nat postrouting has no rule masquerading @masq4",
  ]);
});

test("DEL without prevResult: the attachment's elements are found by their comment in `nft -j` output", () => {
  const owner = ownerTag("abc", "eth0");
  // as nft 1.0.6 prints them: with timeout and comment, and a foreign element without either
  const listing = {
    nftables: [
      { metainfo: { version: "1.0.6" } },
      { table: { family: "inet", name: "isola_nat" } },
      { map: { family: "inet", name: "ports4", table: "isola_nat", elem: [
        [{ elem: { val: { concat: ["tcp", 8080] }, timeout: 1099511627776, expires: 1099511000000, comment: owner } }, { concat: ["10.88.0.5", 80] }],
        [{ elem: { val: { concat: ["tcp", 9090] }, comment: ownerTag("other", "eth0") } }, { concat: ["10.88.0.6", 90] }],
        [{ concat: ["udp", 53] }, { concat: ["10.88.0.7", 53] }],
      ] } },
      { map: { family: "inet", name: "hostports6", table: "isola_nat", elem: [[{ elem: { val: { concat: ["fd00::1", "sctp", 7000] }, comment: owner } }, { concat: ["fd88::5", 70] }]] } },
      { set: { family: "inet", name: "masq4", table: "isola_nat", elem: ["10.88.0.0/16"] } },
    ],
  };
  expect(ownedElements(listing, owner)).toEqual([
    { kind: "expire", table: "isola_nat", set: "ports4", key: [{ proto: "tcp" }, { port: 8080 }], data: [{ ip: "10.88.0.5" }, { port: 80 }] },
    { kind: "expire", table: "isola_nat", set: "hostports6", key: [{ ip: "fd00::1" }, { proto: "sctp" }, { port: 7000 }], data: [{ ip: "fd88::5" }, { port: 70 }] },
  ]);
  expect(ownedElements({}, owner)).toEqual([]);
});

test("internal networks: the filter table, and a bridge as two set elements", () => {
  expect(filterBase()).toEqual([
    "add table inet isola_filter",
    "add set inet isola_filter internal { type ifname; }",
    "add set inet isola_filter internal_self { type ifname . ifname; }",
    "add chain inet isola_filter forward { type filter hook forward priority filter; policy accept; }",
    "flush chain inet isola_filter forward",
    "add rule inet isola_filter forward iifname @internal iifname . oifname != @internal_self drop",
    "add rule inet isola_filter forward oifname @internal iifname . oifname != @internal_self drop",
  ]);
  expect(internalLines("isbr1")).toEqual(['add element inet isola_filter internal { "isbr1" }', 'add element inet isola_filter internal_self { "isbr1" . "isbr1" }']);
  expect(internalRemoveLines("isbr1")).toEqual(['delete element inet isola_filter internal { "isbr1" }', 'delete element inet isola_filter internal_self { "isbr1" . "isbr1" }']);
  const listed = 'table inet isola_filter {\n\tset internal {\n\t\ttype ifname\n\t\telements = { "isbr1",\n\t\t\t     "isbr2" }\n\t}\n}';
  expect(listsInternal(listed, "isbr2")).toBe(true);
  expect(listsInternal(listed, "isbr")).toBe(false);
  expect(bridgeConf({ type: "isola-bridge", internal: true }).internal).toBe(true);
  expect(bridgeConf({ type: "isola-bridge" }).internal).toBeUndefined();
  expect(() => bridgeConf({ type: "isola-bridge", internal: true, ipMasq: true })).toThrow("internal: true conflicts with ipMasq: true");
  expect(() => bridgeConf({ type: "isola-bridge", internal: "yes" })).toThrow('internal: expected true or false, found "yes"');
});

test("bad port mappings name the field", () => {
  const prev = { cniVersion: "1.1.0", ips };
  expect(() => portRules([{ hostPort: 0, containerPort: 80 }], prev)).toThrow("runtimeConfig.portMappings[0].hostPort: 0 is not a port (expected 1-65535)");
  expect(() => portRules([{ hostPort: 1, containerPort: 80, protocol: "icmp" }], prev)).toThrow('runtimeConfig.portMappings[0].protocol: "icmp" is not a protocol (expected tcp, udp or sctp)');
  expect(() => portRules([{ hostPort: 1, containerPort: 80, hostIP: "nope" }], prev)).toThrow('runtimeConfig.portMappings[0].hostIP: "nope" is not an IP address');
});
