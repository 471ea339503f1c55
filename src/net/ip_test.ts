import { expect, test } from "bun:test";
import { formatAddr, formatPrefix, parseAddr, parseCidr, prefixContains, prefixesOverlap } from "./ip.ts";

test("IPv4 and IPv6 round trips", () => {
  for (const a of ["10.0.0.1", "0.0.0.0", "255.255.255.255", "fd00::1", "::", "::1", "2001:db8::8:800:200c:417a", "fe80::1:0:0:1", "1:2:3:4:5:6:7:8"]) {
    expect(formatAddr(parseAddr(a)!)).toBe(a);
  }
  expect(formatAddr(parseAddr("2001:0db8:0000:0000:0000:0000:0000:0001")!)).toBe("2001:db8::1");
  expect(formatAddr(parseAddr("::ffff:1.2.3.4")!)).toBe("::ffff:102:304");
});

test("malformed addresses and prefixes are refused", () => {
  for (const a of ["10.0.0", "10.0.0.256", "1.2.3.4.5", "a.b.c.d", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ""]) expect(parseAddr(a)).toBeUndefined();
  for (const c of ["10.0.0.0/33", "10.0.0.0", "fd00::/129", "10.0.0.0/x"]) expect(parseCidr(c)).toBeUndefined();
});

test("prefix math: host bits cleared, containment, overlap", () => {
  const p = parseCidr("10.88.3.7/16")!;
  expect(formatPrefix(p.prefix)).toBe("10.88.0.0/16");
  expect(prefixContains(p.prefix, parseAddr("10.88.255.1")!)).toBe(true);
  expect(prefixContains(p.prefix, parseAddr("10.89.0.1")!)).toBe(false);
  expect(prefixesOverlap(p.prefix, parseCidr("10.88.7.0/24")!.prefix)).toBe(true);
  expect(prefixesOverlap(p.prefix, parseCidr("10.89.0.0/24")!.prefix)).toBe(false);
  expect(prefixesOverlap(parseCidr("fd00::/64")!.prefix, parseCidr("fd00::/48")!.prefix)).toBe(true);
  expect(prefixesOverlap(parseCidr("fd00::/64")!.prefix, parseCidr("10.0.0.0/8")!.prefix)).toBe(false);
});
