import { describe, expect, test } from "bun:test";
import { blkioWeightToIoWeight, cpuMax, hugepageBytes, hugepageName, parseCpuList, sharesToWeight, swapToV2 } from "./convert.ts";

describe("sharesToWeight (crun / runc ≥ 1.3.2 formula)", () => {
  test("maps the ends and the defaults exactly", () => {
    expect(sharesToWeight(0)).toBe(0);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(100);
    expect(sharesToWeight(262144)).toBe(10000);
  });
  test("is monotonic and in range", () => {
    let prev = 0;
    for (const s of [2, 3, 10, 100, 512, 1024, 2048, 4096, 65536, 262143, 262144]) {
      const w = sharesToWeight(s);
      expect(w).toBeGreaterThanOrEqual(prev);
      expect(w).toBeGreaterThanOrEqual(1);
      expect(w).toBeLessThanOrEqual(10000);
      prev = w;
    }
    expect(sharesToWeight(512)).toBe(sharesToWeight(512));
    expect([sharesToWeight(512), sharesToWeight(2048)]).toEqual([59, 174]);
  });
});

test("blkio weight to io.weight is runc's linear map", () => {
  expect(blkioWeightToIoWeight(10)).toBe(1);
  expect(blkioWeightToIoWeight(1000)).toBe(10000);
  expect(blkioWeightToIoWeight(500)).toBe(4950);
  expect(blkioWeightToIoWeight(0)).toBe(0);
});

test("swapToV2 converts memory+swap to swap alone, as runc", () => {
  expect(swapToV2(0, -1)).toBe(-1);
  expect(swapToV2(-1, 100)).toBe(-1);
  expect(swapToV2(0, 100)).toBe(0);
  expect(swapToV2(300, 100)).toBe(200);
  expect(() => swapToV2(50, 100)).toThrow("linux.resources.memory.swap: 50 is below memory.limit 100");
  expect(() => swapToV2(50, 0)).toThrow("needs a memory.limit");
});

test("cpu.max line", () => {
  expect(cpuMax(undefined, undefined)).toBeUndefined();
  expect(cpuMax(50000, undefined)).toBe("50000 100000");
  expect(cpuMax(-1, 200000)).toBe("max 200000");
  expect(cpuMax(0, 200000)).toBe("max 200000");
});

test("cpu lists and hugepage sizes", () => {
  expect(parseCpuList("0-2,5,7-8\n")).toEqual([0, 1, 2, 5, 7, 8]);
  expect(parseCpuList("")).toEqual([]);
  expect(hugepageBytes("2MB")).toBe(2 << 20);
  expect(hugepageName(1 << 30)).toBe("1GB");
  expect(hugepageName(64 << 10)).toBe("64KB");
});
