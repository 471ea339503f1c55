import { expect, test } from "bun:test";
import { validateRanges } from "../conflist.ts";
import { formatAddr, parseAddr } from "../ip.ts";
import { candidates, rangeGateway } from "./ipam_ranges.ts";

const set = (ranges: unknown) => validateRanges({ ranges }, "ipam")[0]!;
const take = (s: ReturnType<typeof set>, last: string | undefined, n: number) => {
  const out: string[] = [];
  for (const c of candidates(s, last ? parseAddr(last)!.value : undefined)) {
    out.push(formatAddr({ family: c.range.subnet.family, value: c.value }));
    if (out.length === n) break;
  }
  return out;
};

test("candidates skip network, gateway and broadcast, and wrap after the last reservation", () => {
  const s = set([[{ subnet: "10.0.0.0/29" }]]);
  expect(take(s, undefined, 10)).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
  expect(take(s, "10.0.0.4", 10)).toEqual(["10.0.0.5", "10.0.0.6", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
  expect(formatAddr({ family: 4, value: rangeGateway(s[0]!) })).toBe("10.0.0.1");
});

test("rangeStart/rangeEnd, several ranges in a set, IPv6", () => {
  const s = set([[{ subnet: "10.0.0.0/24", rangeStart: "10.0.0.10", rangeEnd: "10.0.0.11" }, { subnet: "10.0.1.0/30" }]]);
  expect(take(s, undefined, 10)).toEqual(["10.0.0.10", "10.0.0.11", "10.0.1.2"]);
  expect(take(s, "10.0.0.11", 10)).toEqual(["10.0.1.2", "10.0.0.10", "10.0.0.11"]);
  expect(take(set([[{ subnet: "fd00::/64" }]]), undefined, 2)).toEqual(["fd00::2", "fd00::3"]);
});
