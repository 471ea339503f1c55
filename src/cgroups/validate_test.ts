import { describe, expect, test } from "bun:test";
import { validateResources } from "./validate.ts";

describe("validateResources", () => {
  test("accepts a full, valid linux.resources", () => {
    expect(
      validateResources({
        devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rw" }],
        memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, swappiness: 10, disableOOMKiller: false, checkBeforeUpdate: true },
        cpu: { shares: 512, quota: 50000, period: 100000, burst: 10000, cpus: "0-1,3", mems: "0", idle: 0, realtimeRuntime: 0, realtimePeriod: 0 },
        pids: { limit: 100 },
        blockIO: {
          weight: 500, leafWeight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 100 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        },
        hugepageLimits: [{ pageSize: "2MB", limit: 1 << 30 }],
        network: { classID: 0x100001, priorities: [{ name: "eth0", priority: 5 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { "memory.high": "1G", "io.latency": "8:0 target=10" },
      }),
    ).toEqual([]);
    expect(validateResources(undefined)).toEqual([]);
    expect(validateResources({})).toEqual([]);
  });

  test("each error names the field, the value and what was expected", () => {
    expect(validateResources({ memory: { limit: 12 } })).toEqual([
      "linux.resources.memory.limit: 12 is below the kernel minimum of one page (4096 bytes); use -1 for no limit",
    ]);
    expect(validateResources({ cpu: { shares: 1 } })).toEqual(["linux.resources.cpu.shares: must be an integer from 2 to 262144, got 1"]);
    expect(validateResources({ cpu: { quota: 10 } })).toEqual([
      "linux.resources.cpu.quota: must be -1 (no limit) or an integer number of microseconds ≥ 1000, got 10",
    ]);
    expect(validateResources({ cpu: { cpus: "0-a" } })).toEqual(['linux.resources.cpu.cpus: must be a list like "0-3,5", got "0-a"']);
    expect(validateResources({ pids: { limit: 1.5 } })).toEqual([
      "linux.resources.pids.limit: must be an integer ≥ -1 (0 or -1: no limit), got 1.5",
    ]);
    expect(validateResources({ blockIO: { weight: 5 } })).toEqual(["linux.resources.blockIO.weight: must be an integer from 10 to 1000, got 5"]);
    expect(validateResources({ blockIO: { throttleReadBpsDevice: [{ major: 8, rate: -1 }] } })).toEqual([
      "linux.resources.blockIO.throttleReadBpsDevice[0].minor: required",
      "linux.resources.blockIO.throttleReadBpsDevice[0].rate: must be an integer ≥ 0, got -1",
    ]);
    expect(validateResources({ hugepageLimits: [{ pageSize: "2M", limit: 1 }] })).toEqual([
      'linux.resources.hugepageLimits[0].pageSize: must look like "2MB" or "1GB", got "2M"',
    ]);
    expect(validateResources({ devices: [{ allow: "yes", type: "x", access: "rwx" }] })).toEqual([
      'linux.resources.devices[0].allow: must be true or false, got "yes"',
      'linux.resources.devices[0].type: must be "a", "b" or "c", got "x"',
      'linux.resources.devices[0].access: must be a combination of "r", "w" and "m", got "rwx"',
    ]);
    expect(validateResources({ unified: { "../etc/passwd": "x", "cgroup.procs": "1", "memory.high": 5 } })).toEqual([
      'linux.resources.unified["../etc/passwd"]: must name a cgroup v2 file like "memory.high" (no "/"), got "../etc/passwd"',
      'linux.resources.unified["cgroup.procs"]: cgroup.procs is managed by the runtime and cannot be set through unified',
      'linux.resources.unified["memory.high"]: must be a string, got 5',
    ]);
    expect(validateResources({ network: { classID: -1, priorities: [{ name: "", priority: 1 }] } })).toEqual([
      "linux.resources.network.classID: must be an integer from 0 to 4294967295, got -1",
      'linux.resources.network.priorities[0].name: must be an interface name, got ""',
    ]);
    expect(validateResources("x")).toEqual(['linux.resources: must be an object, got "x"']);
  });

  test("swap is memory+swap and needs a limit below it", () => {
    expect(validateResources({ memory: { limit: 1 << 30, swap: 1 << 20 } })).toEqual([
      "linux.resources.memory.swap: 1048576 is below memory.limit 1073741824; swap is memory+swap, so it must be ≥ the memory limit (or -1)",
    ]);
    expect(validateResources({ memory: { swap: 1 << 20 } })).toEqual(["linux.resources.memory.swap: 1048576 needs a memory.limit too (swap is memory+swap)"]);
    expect(validateResources({ memory: { limit: -1, swap: -1 } })).toEqual([]);
  });

  test("burst above quota is refused", () => {
    expect(validateResources({ cpu: { quota: 10000, burst: 20000 } })).toEqual([
      "linux.resources.cpu.burst: 20000 is above cpu.quota 10000; the kernel needs burst ≤ quota",
    ]);
  });
});
