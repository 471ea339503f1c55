import { expect, test } from "bun:test";
import { formatEvent, stringifyExact } from "./events.ts";
import { emptyStats } from "./stats.ts";

test("events have runc's shape, big integers printed exactly", () => {
  expect(formatEvent("oom", "c1")).toBe('{"type":"oom","id":"c1"}');
  const s = emptyStats();
  s.memory.usage = { limit: 9223372036854771712, usage: 4096, failcnt: 0 };
  const line = formatEvent("stats", "c1", s);
  expect(line).toContain('"usage":{"limit":9223372036854771712,"usage":4096,"failcnt":0}');
  expect(line.startsWith('{"type":"stats","id":"c1","data":{"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}},"cpuset":{')).toBe(true);
  expect(line).toContain('"hugetlb":{},"intel_rdt":{},"network_interfaces":null}}');
  expect(stringifyExact({ a: -9223372036854775808, b: 1.5 })).toBe('{"a":-9223372036854775808,"b":1.5}');
});
