import { expect, test } from "bun:test";
import { parseBytes, planUpdate, resourcesFromFlags } from "./update_flags.ts";

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
