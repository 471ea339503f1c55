// Golden rtnetlink messages: the exact bytes isola sends for each kind of LinkOp.
import { expect, test } from "bun:test";
import { decodeReplies, encodeGetLink, encodeOp } from "./encode.ts";

const r = { index: (d: string) => ({ isola0: 7, eth0: 2, isv1: 9 })[d] ?? 0, netnsFd: () => 5 };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("veth pair with the peer in another namespace, master and up", () => {
  const m = encodeOp({ op: "veth-add", name: "isv1", mac: "02:00:00:00:00:01", master: "isola0", peer: "eth0", peerMac: "02:00:00:00:00:02", peerNetns: "/run/netns/c", mtu: 1400 }, 1, r);
  expect(hex(m)).toMatchSnapshot();
  // nlmsghdr: length, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 1
  expect(new DataView(m.buffer).getUint32(0, true)).toBe(m.length);
  expect(hex(m.subarray(4, 12))).toBe("10000506" + "01000000");
  // ifinfomsg flags/change IFF_UP
  expect(hex(m.subarray(24, 32))).toBe("0100000001000000");
});

test("addresses (IPv6 without DAD), routes, link ops", () => {
  expect(hex(encodeOp({ op: "addr-add", dev: "eth0", cidr: "10.88.0.5/16" }, 2, r))).toBe(
    "28000000" + "1400" + "0506" + "02000000" + "00000000" + "02100000" + "02000000" + "08000200" + "0a580005" + "08000100" + "0a580005",
  );
  const v6 = encodeOp({ op: "addr-add", dev: "isola0", cidr: "fd88::1/64", replace: true }, 3, r);
  expect(hex(v6.subarray(4, 8))).toBe("1400" + "0505"); // NEWADDR, REQUEST|ACK|REPLACE|CREATE
  expect(hex(v6.subarray(v6.length - 8))).toBe("08000800" + "02000000"); // IFA_FLAGS NODAD
  expect(hex(encodeOp({ op: "route-add", dev: "eth0", dst: "0.0.0.0/0", gw: "10.88.0.1" }, 4, r))).toBe(
    "2c000000" + "1800" + "0506" + "04000000" + "00000000" + "02000000" + "fe030001" + "00000000" + "08000500" + "0a580001" + "08000400" + "02000000",
  );
  expect(hex(encodeOp({ op: "link-del", dev: "isv1" }, 5, r))).toBe("2c000000" + "1100" + "0500" + "05000000" + "00000000" + "00000000000000000000000000000000" + "09000300" + "69737631" + "00000000");
  expect(hex(encodeOp({ op: "link-up", dev: "eth0" }, 6, r))).toBe("20000000" + "1000" + "0500" + "06000000" + "00000000" + "00000000" + "02000000" + "01000000" + "01000000");
  expect(hex(encodeOp({ op: "hairpin", dev: "isv1" }, 7, r))).toMatchSnapshot();
  expect(hex(encodeOp({ op: "bridge-add", name: "isola0", mac: "02:00:00:00:00:03" }, 8, r))).toMatchSnapshot();
  expect(hex(encodeGetLink("eth0", 9))).toBe("2c000000" + "1200" + "0100" + "09000000" + "00000000" + "00000000000000000000000000000000" + "09000300" + "65746830" + "00000000");
});

test("replies: ACKs, errors and link indexes", () => {
  const b = new Uint8Array(36 + 32);
  const v = new DataView(b.buffer);
  v.setUint32(0, 36, true);
  v.setUint16(4, 2, true);
  v.setUint32(8, 3, true);
  v.setInt32(16, -17, true);
  v.setUint32(36, 32, true);
  v.setUint16(40, 16, true);
  v.setUint32(44, 4, true);
  v.setInt32(56, 12, true);
  expect(decodeReplies(b)).toEqual([
    { type: 2, seq: 3, error: -17 },
    { type: 16, seq: 4, index: 12 },
  ]);
});
