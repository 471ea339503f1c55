// The manager against fake cgroup trees (no root needed).
import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { openCgroupManager } from "./manager.ts";
import { fakeTree, type FakeTree } from "./fake_tree.ts";
import type { DeviceRule } from "./devices.ts";

const V1_SELF = "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/sandbox\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
// the caller sits in a session scope (processes there): containers go beside it, as runc's v2 driver puts them
const V2_SELF = "0::/user.slice/session-1.scope\n";

let tree: FakeTree | undefined;
afterEach(() => tree?.cleanup());

describe("layout detection", () => {
  test("finds v1, v2 and hybrid", () => {
    for (const layout of ["v1", "v2", "hybrid"] as const) {
      const t = fakeTree(layout);
      try {
        expect(openCgroupManager({ root: t.root }).layout).toBe(layout);
      } finally {
        t.cleanup();
      }
    }
  });
  test("a tree without hierarchies is an error", () => {
    const dir = fs.mkdtempSync("/tmp/isola-empty-");
    try {
      expect(() => openCgroupManager({ root: dir })).toThrow("no cgroup hierarchy found");
    } finally {
      fs.rmdirSync(dir);
    }
  });
});

describe("v1", () => {
  test("creates below the caller's cgroup per controller and applies resources", () => {
    const t = (tree = fakeTree("v1"));
    for (const h of ["cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd"]) t.cgroup(`${h}/isola-runtime/c1`);
    t.cgroup("memory/sandbox/isola-runtime/c1");
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF });
    const { record, procsFiles } = m.create({
      id: "c1",
      resources: {
        memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, swappiness: 0, disableOOMKiller: true },
        cpu: { shares: 512, quota: 20000, period: 100000, cpus: "1", mems: "0" },
        pids: { limit: 10 },
        blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }] },
        devices: [{ allow: false, access: "rwm" }],
      },
    });
    expect(record.layout).toBe("v1");
    expect(record.paths.memory).toBe(`${t.root}/memory/sandbox/isola-runtime/c1`);
    expect(record.paths.cpu).toBe(`${t.root}/cpu/isola-runtime/c1`);
    expect(record.paths["name=systemd"]).toBe(`${t.root}/systemd/isola-runtime/c1`);
    expect(procsFiles).toContain(`${t.root}/memory/sandbox/isola-runtime/c1/cgroup.procs`);
    expect(procsFiles).toHaveLength(9);
    const r = (f: string) => t.read(f);
    expect(r("memory/sandbox/isola-runtime/c1/memory.limit_in_bytes")).toBe(String(64 << 20));
    expect(r("memory/sandbox/isola-runtime/c1/memory.memsw.limit_in_bytes")).toBe(String(128 << 20));
    expect(r("memory/sandbox/isola-runtime/c1/memory.soft_limit_in_bytes")).toBe(String(32 << 20));
    expect(r("memory/sandbox/isola-runtime/c1/memory.oom_control")).toBe("1");
    expect(r("cpu/isola-runtime/c1/cpu.shares")).toBe("512");
    expect(r("cpu/isola-runtime/c1/cpu.cfs_quota_us")).toBe("20000");
    expect(r("cpuset/isola-runtime/c1/cpuset.cpus")).toBe("1");
    expect(r("cpuset/isola-runtime/cpuset.cpus")).toBe("0-3"); // empty parent filled from its own parent
    expect(r("cpuset/isola-runtime/cpuset.mems")).toBe("0");
    expect(r("pids/isola-runtime/c1/pids.max")).toBe("10");
    expect(r("blkio/isola-runtime/c1/blkio.weight")).toBe("300");
    expect(r("blkio/isola-runtime/c1/blkio.throttle.read_bps_device")).toBe("254:0 1048576");
    expect(r("devices/isola-runtime/c1/devices.deny")).toBe("a");
    expect(r("devices/isola-runtime/c1/devices.allow")).toBe("c 10:200 rwm"); // last of the default list

    m.update(record, { pids: { limit: -1 }, cpu: { quota: -1 } });
    expect(r("pids/isola-runtime/c1/pids.max")).toBe("max");
    expect(r("cpu/isola-runtime/c1/cpu.cfs_quota_us")).toBe("-1");
    expect(r("cpu/isola-runtime/c1/cpu.shares")).toBe("512");
  });

  test("new cpuset directories inherit the parent's cpus and mems", () => {
    const t = (tree = fakeTree("v1"));
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF });
    // Only cpuset is missing its leaf: mkdir happens for real there, and the fake tree has no files, so
    // the inherit writes fail with ENOENT: the error names the file and everything made is removed.
    for (const h of ["cpu", "cpuacct", "devices", "freezer", "blkio", "pids", "systemd"]) t.cgroup(`${h}/isola-runtime/c2`);
    t.cgroup("memory/sandbox/isola-runtime/c2");
    expect(() => m.create({ id: "c2" })).toThrow("cgroup cpuset.cpus (inherited from the parent cgroup): writing \"0-3\" to cpuset.cpus failed");
    expect(fs.existsSync(`${t.root}/cpuset/isola-runtime`)).toBe(false);
  });

  test("unified on v1 is an error naming the key, and nothing is left behind", () => {
    const t = (tree = fakeTree("v1"));
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF });
    expect(() => m.create({ id: "c3", resources: { unified: { "memory.high": "1G" } } })).toThrow(
      'linux.resources.unified["memory.high"]: cannot be applied: this host has only cgroup v1',
    );
    expect(fs.readdirSync(`${t.root}/cpu`).filter((f) => f.startsWith("isola"))).toEqual([]);
  });

  test("a file the kernel lacks gives an error naming the field and value", () => {
    const t = (tree = fakeTree("v1"));
    for (const h of ["cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd"]) t.cgroup(`${h}/isola-runtime/c4`);
    t.cgroup("memory/sandbox/isola-runtime/c4");
    fs.unlinkSync(`${t.root}/cpu/isola-runtime/c4/cpu.cfs_burst_us`);
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF });
    expect(() => m.create({ id: "c4", resources: { cpu: { quota: 20000, burst: 1000 } } })).toThrow(
      'linux.resources.cpu.burst: writing "1000" to cpu.cfs_burst_us failed: the file does not exist',
    );
    expect(() => m.create({ id: "c4", resources: { hugepageLimits: [{ pageSize: "2MB", limit: 0 }] } })).toThrow(
      "linux.resources.hugepageLimits: cannot be applied: the hugetlb controller is not available on this host",
    );
    expect(() => m.create({ id: "c4", resources: { memory: { limit: 12 } } })).toThrow("linux.resources.memory.limit: 12 is below the kernel minimum");
  });

  test("freeze, thaw and pids", () => {
    const t = (tree = fakeTree("v1"));
    for (const h of ["cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd"]) t.cgroup(`${h}/isola-runtime/c5`);
    t.cgroup("memory/sandbox/isola-runtime/c5");
    t.write("pids/isola-runtime/c5/cgroup.procs", "12\n7\n");
    t.cgroup("pids/isola-runtime/c5/sub");
    t.write("pids/isola-runtime/c5/sub/cgroup.procs", "30\n");
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF });
    const { record } = m.create({ id: "c5" });
    expect(m.pids(record)).toEqual([7, 12, 30]);
    m.freeze(record);
    expect(m.isFrozen(record)).toBe(true);
    m.thaw(record);
    expect(m.isFrozen(record)).toBe(false);
  });
});

describe("v2", () => {
  test("enables controllers down the tree, converts values, attaches the device filter", () => {
    const t = (tree = fakeTree("v2"));
    t.cgroup("user.slice");
    t.cgroup("user.slice/isola-runtime");
    t.cgroup("user.slice/isola-runtime/c1");
    let attached: { dir: string; rules: DeviceRule[] } | undefined;
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V2_SELF, attachDevices: (dir, rules) => (attached = { dir, rules }) });
    const { record, procsFiles } = m.create({
      id: "c1",
      resources: {
        memory: { limit: 64 << 20, swap: 96 << 20, reservation: 1 << 20 },
        cpu: { shares: 1024, quota: 50000, burst: 1000, cpus: "0" },
        pids: { limit: 0 },
        blockIO: { weight: 1000, weightDevice: [{ major: 8, minor: 0, weight: 10 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }] },
        hugepageLimits: [{ pageSize: "2MB", limit: 2 << 20 }],
        rdma: { mlx5_0: { hcaHandles: 3 } },
        devices: [{ allow: false }],
        unified: { "memory.high": "50000000" },
      },
    });
    const dir = `${t.root}/user.slice/isola-runtime/c1`;
    expect(record).toEqual({ layout: "v2", paths: { unified: dir }, prune: [`${t.root}/user.slice/isola-runtime`] });
    expect(procsFiles).toEqual([`${dir}/cgroup.procs`]);
    const r = (f: string) => t.read(`user.slice/isola-runtime/c1/${f}`);
    expect(t.read("cgroup.subtree_control")).toBe("+misc"); // the last of the enables written at each level
    expect(t.read("user.slice/isola-runtime/cgroup.subtree_control")).toBe("+misc");
    expect(r("memory.max")).toBe(String(64 << 20));
    expect(r("memory.swap.max")).toBe(String(32 << 20));
    expect(r("memory.low")).toBe(String(1 << 20));
    expect(r("memory.high")).toBe("50000000");
    expect(r("cpu.weight")).toBe("100");
    expect(r("cpu.max")).toBe("50000 100000");
    expect(r("cpu.max.burst")).toBe("1000");
    expect(r("cpuset.cpus")).toBe("0");
    expect(r("pids.max")).toBe("max");
    expect(r("io.weight")).toBe("8:0 1");
    expect(r("io.max")).toBe("8:0 wiops=100");
    expect(r("hugetlb.2MB.max")).toBe(String(2 << 20));
    expect(r("rdma.max")).toBe("mlx5_0 hca_handle=3 hca_object=max");
    expect(attached?.dir).toBe(dir);
    expect(attached?.rules[0]).toEqual({ allow: false, type: "a", major: -1, minor: -1, access: "rwm" });
    expect(attached?.rules).toHaveLength(12);

    // update: only the period changes, the quota stays
    m.update(record, { cpu: { period: 200000 } });
    expect(r("cpu.max")).toBe("50000 200000");
    attached = undefined;
    m.update(record, { memory: { limit: 32 << 20 } });
    expect(attached).toBeUndefined(); // devices untouched when the update does not name them
  });

  test("realtime and missing controllers are errors naming the field", () => {
    const t = (tree = fakeTree("v2", "cpu memory pids"));
    t.cgroup("user.slice");
    t.cgroup("user.slice/x");
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V2_SELF, attachDevices: () => {} });
    expect(() => m.create({ id: "c", cgroupsPath: "x", resources: { cpu: { realtimeRuntime: 100 } } })).toThrow(
      "linux.resources.cpu.realtimeRuntime: 100 cannot be applied: cgroup v2 has no realtime CPU bandwidth control",
    );
    expect(() => m.create({ id: "c", cgroupsPath: "x", resources: { blockIO: { weight: 100 } } })).toThrow(
      "linux.resources.blockIO: the io controller is not available in",
    );
    expect(() => m.create({ id: "c", cgroupsPath: "x", resources: { blockIO: { leafWeight: 100 } } })).toThrow("linux.resources.blockIO");
  });

  test("network (net_cls/net_prio) is an error on v2", () => {
    const t = (tree = fakeTree("v2"));
    t.cgroup("x");
    const m = openCgroupManager({ root: t.root, procSelfCgroup: "0::/\n", attachDevices: () => {} });
    expect(() => m.create({ id: "c", cgroupsPath: "/x", resources: { network: { classID: 1 } } })).toThrow(
      "linux.resources.network.classID: cannot be applied: net_cls is a cgroup v1 controller and this host has cgroup v2 only",
    );
  });

  test("checkBeforeUpdate refuses a limit below usage", () => {
    const t = (tree = fakeTree("v2"));
    t.cgroup("c", { "memory.current": "20000000" });
    const m = openCgroupManager({ root: t.root, procSelfCgroup: "0::/\n", attachDevices: () => {} });
    const { record } = m.create({ id: "c", cgroupsPath: "/c" });
    expect(() => m.update(record, { memory: { limit: 10000000, checkBeforeUpdate: true } })).toThrow(
      "linux.resources.memory.limit: 10000000 is below the current usage of 20000000 bytes (checkBeforeUpdate is set)",
    );
    m.update(record, { memory: { limit: 10000000 } });
    expect(t.read("c/memory.max")).toBe("10000000");
  });

  test("stats have runc's shape", () => {
    const t = (tree = fakeTree("v2"));
    t.cgroup("c", {
      "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 30\n",
      "memory.current": "4096\n",
      "memory.max": "max\n",
      "memory.stat": "anon 4096\nfile 8192\n",
      "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
      "memory.swap.current": "0\n",
      "memory.swap.max": "max\n",
      "pids.current": "2\n",
      "pids.max": "max\n",
      "io.stat": "254:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
      "cpuset.cpus.effective": "0-1\n",
      "cpuset.mems.effective": "0\n",
      "hugetlb.2MB.current": "0\n",
      "hugetlb.2MB.events": "max 0\n",
    });
    const m = openCgroupManager({ root: t.root, procSelfCgroup: "0::/\n", attachDevices: () => {} });
    const { record } = m.create({ id: "c", cgroupsPath: "/c" });
    const s = m.stats(record);
    expect(s.cpu).toEqual({ usage: { total: 1500000, kernel: 500000, user: 1000000 }, throttling: { periods: 4, throttledPeriods: 2, throttledTime: 30000 } });
    expect(s.memory.usage).toEqual({ limit: Number.MAX_SAFE_INTEGER, usage: 4096, failcnt: 3 });
    expect(s.memory.cache).toBe(8192);
    expect(s.memory.raw).toEqual({ anon: 4096, file: 8192 });
    expect(s.pids).toEqual({ current: 2 });
    expect(s.blkio.ioServiceBytesRecursive).toEqual([{ major: 254, op: "Read", value: 4096 }, { major: 254, op: "Write" }]);
    expect(s.cpuset.cpus).toEqual([0, 1]);
    expect(s.hugetlb).toEqual({ "2MB": { failcnt: 0 } });
    expect(Object.keys(s)).toEqual(["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]);
  });
});

describe("hybrid without net_cls", () => {
  test("a v1 controller that neither hierarchy has is an error, not silently skipped", () => {
    const t = (tree = fakeTree("hybrid", "hugetlb"));
    for (const h of ["cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd"]) t.cgroup(`${h}/isola-runtime/c1`);
    t.cgroup("memory/sandbox/isola-runtime/c1");
    t.cgroup("unified/isola-runtime/c1", { "cgroup.controllers": "hugetlb" });
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF });
    expect(() => m.create({ id: "c1", resources: { network: { priorities: [{ name: "eth0", priority: 1 }] } } })).toThrow(
      "linux.resources.network.priorities: cannot be applied: the net_prio controller is not available on this host",
    );
  });
});

describe("hybrid", () => {
  test("v1 controllers plus a cgroup2 directory; a controller only cgroup2 has is enabled there", () => {
    const t = (tree = fakeTree("hybrid", "hugetlb"));
    for (const h of ["cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd"]) t.cgroup(`${h}/isola-runtime/c1`);
    t.cgroup("memory/sandbox/isola-runtime/c1");
    t.cgroup("unified/isola-runtime", { "cgroup.controllers": "hugetlb" });
    t.cgroup("unified/isola-runtime/c1", { "cgroup.controllers": "hugetlb" });
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF, attachDevices: () => { throw new Error("v1 devices are used on hybrid"); } });
    const { record, procsFiles } = m.create({
      id: "c1",
      resources: { memory: { limit: 1 << 30 }, hugepageLimits: [{ pageSize: "2MB", limit: 4 << 20 }], unified: { "cgroup.max.depth": "3" } },
    });
    expect(record.layout).toBe("hybrid");
    expect(record.paths.unified).toBe(`${t.root}/unified/isola-runtime/c1`);
    expect(procsFiles).toContain(`${t.root}/unified/isola-runtime/c1/cgroup.procs`);
    expect(t.read("unified/cgroup.subtree_control")).toBe("+hugetlb");
    expect(t.read("unified/isola-runtime/c1/hugetlb.2MB.max")).toBe(String(4 << 20));
    expect(t.read("unified/isola-runtime/c1/cgroup.max.depth")).toBe("3");
    expect(t.read("memory/sandbox/isola-runtime/c1/memory.limit_in_bytes")).toBe(String(1 << 30));
    expect(m.pids(record)).toEqual([]);
  });

  test("a unified key for a controller bound to v1 is an error naming the key and what to use", () => {
    const t = (tree = fakeTree("hybrid", "hugetlb"));
    for (const h of ["cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "pids", "systemd"]) t.cgroup(`${h}/isola-runtime/c1`);
    t.cgroup("memory/sandbox/isola-runtime/c1");
    t.cgroup("unified/isola-runtime/c1", { "cgroup.controllers": "hugetlb" });
    const m = openCgroupManager({ root: t.root, procSelfCgroup: V1_SELF, attachDevices: () => {} });
    expect(() => m.create({ id: "c1", resources: { unified: { "memory.high": "1000000" } } })).toThrow(
      'linux.resources.unified["memory.high"] (memory is bound to cgroup v1 on this host: use linux.resources.memory instead): the memory controller is not available',
    );
  });
});
