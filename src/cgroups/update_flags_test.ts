import { expect, test } from "bun:test";
import { parseBytes, planUpdate, resourcesFromFlags, withLinkedFields } from "./update_flags.ts";

test("runc's update flags become linux.resources", () => {
  expect(
    resourcesFromFlags({
      memory: "512m", "memory-swap": "1g", "memory-reservation": "256M", "--cpu-shares": "512", "cpu-quota": "-1", "cpu-period": "100000",
      "cpuset-cpus": "0-1", "cpuset-mems": "0", "pids-limit": "100", "blkio-weight": "500",
    }),
  ).toEqual({
    memory: { limit: 512 << 20, reservation: 256 << 20, swap: 1 << 30 },
    cpu: { period: 100000, quota: -1, shares: 512, cpus: "0-1", mems: "0" },
    pids: { limit: 100 },
    blockIO: { weight: 500 },
  });
  expect(parseBytes("memory", "1.5GiB")).toBe(1.5 * 1024 ** 3);
  expect(parseBytes("memory", "-1")).toBe(-1);
  expect(() => parseBytes("memory", "lots")).toThrow('--memory: "lots" is not a size');
  expect(() => resourcesFromFlags({ "pids-limit": "x" })).toThrow('--pids-limit: "x" must be an integer ≥ -1');
});

test("flags override the -r file; the merge keeps what was not changed", () => {
  const current = { memory: { limit: 1 << 30, swap: 2 << 30 }, pids: { limit: 10 }, devices: [{ allow: false }] };
  const { changes, merged } = planUpdate(current, { file: { memory: { limit: 100 << 20 }, cpu: { shares: 100 } }, flags: { memory: "200m" } });
  expect(changes).toEqual({ memory: { limit: 200 << 20 }, cpu: { shares: 100 } });
  expect(merged).toEqual({ memory: { limit: 200 << 20, swap: 2 << 30 }, pids: { limit: 10 }, devices: [{ allow: false }], cpu: { shares: 100 } });
  expect(() => planUpdate(current, { file: [] })).toThrow("-r: the resources file must hold a JSON object");
});

test("a memory limit and its swap, a cpu quota and its period go to the kernel together", () => {
  const current = { memory: { limit: 1 << 30, swap: 2 << 30, reservation: 1 << 20 }, cpu: { quota: 20000, period: 50000, shares: 10 } };
  const swapOnly = planUpdate(current, { flags: { "memory-swap": "3g" } });
  expect(withLinkedFields(swapOnly.changes, swapOnly.merged)).toEqual({ memory: { swap: 3 * 2 ** 30, limit: 1 << 30 } });
  const quotaOnly = planUpdate(current, { flags: { "cpu-quota": "10000" } });
  expect(withLinkedFields(quotaOnly.changes, quotaOnly.merged)).toEqual({ cpu: { quota: 10000, period: 50000 } });
  // nothing linked is asked for: nothing is added
  const shares = planUpdate(current, { flags: { "cpu-shares": "100", "memory-reservation": "2m" } });
  expect(withLinkedFields(shares.changes, shares.merged)).toEqual({ cpu: { shares: 100 }, memory: { reservation: 2 << 20 } });
  // a limit alone stays alone, with or without a swap set before (runc: swap unchanged)
  const limitOnly = planUpdate({}, { flags: { memory: "64m" } });
  expect(withLinkedFields(limitOnly.changes, limitOnly.merged)).toEqual({ memory: { limit: 64 << 20 } });
  const raise = planUpdate(current, { flags: { memory: "4g" } });
  expect(withLinkedFields(raise.changes, raise.merged)).toEqual({ memory: { limit: 4 * 2 ** 30 } });
});
