// Pure tests of the controller modules' writes and stats parsing (v1 and v2).
import { describe, expect, test } from "bun:test";
import type { ApplyContext } from "./controller.ts";
import type { LinuxResources } from "./resources.ts";
import { emptyStats } from "./stats.ts";
import { memory as memV1 } from "./v1/memory.ts";
import { cpu as cpuV1 } from "./v1/cpu.ts";
import { cpuacct } from "./v1/cpuacct.ts";
import { blkio, parseBlkioEntries } from "./v1/blkio.ts";
import { netCls } from "./v1/net_cls.ts";
import { netPrio } from "./v1/net_prio.ts";
import { hugetlb as hugetlbV1, hugepageSizes } from "./v1/hugetlb.ts";
import { memory as memV2 } from "./v2/memory.ts";
import { io, parseIoStat } from "./v2/io.ts";
import { rdma } from "./rdma.ts";
import { oomCount } from "./oom.ts";

const ctx = (files: Record<string, string> = {}, updating = false): ApplyContext => ({ current: (f) => files[f], updating });
const lines = (c: { writes(r: LinuxResources, x: ApplyContext): { file: string; value: string }[] }, r: LinuxResources, x = ctx()) =>
  c.writes(r, x).map((w) => `${w.file}=${w.value}`);

describe("v1 memory", () => {
  const has = { "memory.memsw.limit_in_bytes": "9223372036854771712", "memory.usage_in_bytes": "1000" };
  test("raises memsw before the limit when growing, after it when shrinking", () => {
    expect(lines(memV1, { memory: { limit: 100 << 20, swap: 200 << 20 } }, ctx({ ...has, "memory.memsw.limit_in_bytes": String(50 << 20) }))).toEqual([
      `memory.memsw.limit_in_bytes=${200 << 20}`,
      `memory.limit_in_bytes=${100 << 20}`,
    ]);
    expect(lines(memV1, { memory: { limit: 10 << 20, swap: 20 << 20 } }, ctx(has))).toEqual([
      `memory.limit_in_bytes=${10 << 20}`,
      `memory.memsw.limit_in_bytes=${20 << 20}`,
    ]);
  });
  test("unlimited memory means unlimited swap; no swap accounting is an error only when swap is asked for", () => {
    expect(lines(memV1, { memory: { limit: -1 } }, ctx(has))).toEqual(["memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"]);
    expect(lines(memV1, { memory: { limit: -1 } })).toEqual(["memory.limit_in_bytes=-1"]);
    expect(() => memV1.writes({ memory: { limit: 4096, swap: 8192 } }, ctx())).toThrow("linux.resources.memory.swap: 8192 cannot be applied: this kernel has no swap accounting");
  });
  test("reservation, swappiness, OOM killer, kernelTCP; kernel is ignored", () => {
    expect(lines(memV1, { memory: { reservation: 4096, swappiness: 0, disableOOMKiller: true, kernel: 1 << 20, kernelTCP: 1 << 20 } })).toEqual([
      "memory.soft_limit_in_bytes=4096",
      `memory.kmem.tcp.limit_in_bytes=${1 << 20}`,
      "memory.swappiness=0",
      "memory.oom_control=1",
    ]);
  });
  test("stats", () => {
    const s = emptyStats();
    const files: Record<string, string> = {
      "memory.usage_in_bytes": "8192\n", "memory.max_usage_in_bytes": "16384\n", "memory.limit_in_bytes": "33554432\n", "memory.failcnt": "2\n",
      "memory.stat": "cache 4096\nrss 4096\ntotal_cache 4096\n",
    };
    memV1.stats((f) => files[f], s);
    expect(s.memory.usage).toEqual({ limit: 33554432, usage: 8192, max: 16384, failcnt: 2 });
    expect(s.memory.cache).toBe(4096);
    expect(s.memory.raw).toEqual({ cache: 4096, rss: 4096, total_cache: 4096 });
  });
});

describe("v1 cpu and cpuacct", () => {
  test("writes period before quota", () => {
    expect(lines(cpuV1, { cpu: { shares: 2, quota: 5000, period: 10000, burst: 0, realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 1 } })).toEqual([
      "cpu.shares=2", "cpu.cfs_period_us=10000", "cpu.cfs_quota_us=5000", "cpu.cfs_burst_us=0", "cpu.rt_period_us=1000000", "cpu.rt_runtime_us=950000", "cpu.idle=1",
    ]);
  });
  test("usage in nanoseconds; ticks converted", () => {
    const s = emptyStats();
    const files: Record<string, string> = { "cpuacct.usage": "3000\n", "cpuacct.usage_percpu": "1000 2000 \n", "cpuacct.stat": "user 3\nsystem 1\n" };
    cpuacct.stats((f) => files[f], s);
    expect(s.cpu.usage).toEqual({ total: 3000, percpu: [1000, 2000], kernel: 10_000_000, user: 30_000_000 });
  });
});

describe("v1 blkio", () => {
  test("weights (CFQ or BFQ file) and throttles per device", () => {
    const r: LinuxResources = {
      blockIO: {
        weight: 500, leafWeight: 200, weightDevice: [{ major: 8, minor: 0, weight: 100, leafWeight: 50 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }], throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 3 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 4 }],
      },
    };
    expect(lines(blkio, r, ctx({ "blkio.weight": "" }))).toEqual([
      "blkio.weight=500", "blkio.leaf_weight=200", "blkio.weight_device=8:0 100", "blkio.leaf_weight_device=8:0 50",
      "blkio.throttle.read_bps_device=8:0 1", "blkio.throttle.write_bps_device=8:0 2",
      "blkio.throttle.read_iops_device=8:16 3", "blkio.throttle.write_iops_device=8:16 4",
    ]);
    expect(lines(blkio, { blockIO: { weight: 500 } }, ctx({ "blkio.bfq.weight": "100" }))).toEqual(["blkio.bfq.weight=500"]);
  });
  test("parses the recursive stats", () => {
    expect(parseBlkioEntries("8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n")).toEqual([
      { major: 8, op: "Read", value: 4096 }, { major: 8, op: "Write" }, { major: 8, op: "Total", value: 4096 },
    ]);
  });
});

describe("network, rdma, hugetlb", () => {
  test("net_cls, net_prio", () => {
    expect(lines(netCls, { network: { classID: 1048577 } })).toEqual(["net_cls.classid=1048577"]);
    expect(lines(netPrio, { network: { priorities: [{ name: "eth0", priority: 5 }, { name: "lo", priority: 1 }] } })).toEqual([
      "net_prio.ifpriomap=eth0 5", "net_prio.ifpriomap=lo 1",
    ]);
  });
  test("rdma", () => {
    expect(lines(rdma, { rdma: { mlx4_0: { hcaHandles: 2, hcaObjects: 2000 }, mlx5_1: { hcaObjects: 10 } } })).toEqual([
      "rdma.max=mlx4_0 hca_handle=2 hca_object=2000", "rdma.max=mlx5_1 hca_handle=max hca_object=10",
    ]);
  });
  test("hugetlb names a page size the host lacks", () => {
    const c = ctx({ "hugetlb.2MB.limit_in_bytes": "0" });
    expect(lines(hugetlbV1, { hugepageLimits: [{ pageSize: "2MB", limit: 4194304 }] }, c)).toEqual(["hugetlb.2MB.limit_in_bytes=4194304"]);
    expect(() => hugetlbV1.writes({ hugepageLimits: [{ pageSize: "1GB", limit: 0 }] }, c)).toThrow(
      'linux.resources.hugepageLimits[0].pageSize: "1GB" is not a huge page size of this host (hugetlb.1GB.limit_in_bytes is missing)',
    );
    expect(hugepageSizes(["hugetlb.2MB.max", "hugetlb.1GB.max", "hugetlb.2MB.current", "cgroup.procs"])).toEqual(["1GB", "2MB"]);
  });
});

describe("v2 memory and io", () => {
  test("swap is swap alone; unlimited is max", () => {
    const c = ctx({ "memory.swap.max": "max" });
    expect(lines(memV2, { memory: { limit: 100, swap: 300, reservation: 50 } }, c)).toEqual(["memory.swap.max=200", "memory.max=100", "memory.low=50"]);
    expect(lines(memV2, { memory: { limit: -1 } }, c)).toEqual(["memory.swap.max=max", "memory.max=max"]);
  });
  test("io weight scales unless BFQ; throttles go to io.max", () => {
    const r: LinuxResources = { blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 0 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 10 }] } };
    expect(lines(io, r)).toEqual(["io.weight=default 910", "io.max=8:0 rbps=max", "io.max=8:0 wiops=10"]);
    expect(lines(io, { blockIO: { weight: 100 } }, ctx({ "io.bfq.weight": "default 100" }))).toEqual(["io.bfq.weight=100"]);
  });
  test("io.stat", () => {
    expect(parseIoStat("8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n")).toEqual({
      bytes: [{ major: 8, minor: 16, op: "Read", value: 1 }, { major: 8, minor: 16, op: "Write", value: 2 }],
      ios: [{ major: 8, minor: 16, op: "Read", value: 3 }, { major: 8, minor: 16, op: "Write", value: 4 }],
    });
  });
});

test("OOM counters", () => {
  expect(oomCount("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", false)).toBe(2);
  expect(oomCount("oom_kill_disable 1\nunder_oom 1\noom_kill 0\n", false)).toBe(1);
  expect(oomCount("low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n", true)).toBe(1);
  expect(oomCount(undefined, true)).toBeUndefined();
});
