// cgroup v2 specifics against a real cgroup2-only hierarchy (the lab's guest runs it; on other
// hosts it is skipped with the reason). The suite shared by all layouts is manager_root_test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { openCgroupManager, type CgroupManager, type CgroupRecord } from "./manager.ts";
import { attachedDevicePrograms } from "./v2/devices.ts";

const isRoot = process.getuid?.() === 0;
const m: CgroupManager | undefined = isRoot ? openCgroupManager() : undefined;
const isV2 = m?.layout === "v2";
if (!isV2) console.log(`skipping cgroup v2 tests: ${isRoot ? `this host's layout is ${m?.layout}` : "not root"} (the lab runs them: test/lab)`);
const run = isV2 ? describe : describe.skip;
const TAG = `isola-test-${Math.random().toString(36).slice(2, 10)}`;
let seq = 0;
const mgr = () => m as CgroupManager;

function withCgroup(resources: unknown, body: (rec: CgroupRecord, procsFile: string) => void | Promise<void>): Promise<void> {
  const id = `v${++seq}`;
  const { record, procsFiles } = mgr().create({ id, cgroupsPath: `${TAG}/${id}`, resources });
  return (async () => {
    try {
      await body(record, procsFiles[0] as string);
    } finally {
      mgr().killAll(record, 9);
      for (let i = 0; i < 200 && mgr().pids(record).length > 0; i++) await Bun.sleep(10);
      mgr().destroy(record);
      expect(fs.existsSync(record.paths.unified as string)).toBe(false);
    }
  })();
}

const read = (rec: CgroupRecord, f: string) => fs.readFileSync(`${rec.paths.unified}/${f}`, "utf8").trim();

run("cgroup v2", () => {
  afterAll(() => {
    for (const d of Bun.spawnSync(["find", "/sys/fs/cgroup", "-name", `${TAG}*`, "-type", "d"]).stdout.toString().split("\n").filter(Boolean)) {
      try {
        fs.rmdirSync(d);
      } catch {
        // reported below
      }
    }
    expect(Bun.spawnSync(["find", "/sys/fs/cgroup", "-name", `${TAG}*`]).stdout.toString().trim()).toBe("");
  });

  test("values are converted for v2 files and unified keys are written", async () => {
    await withCgroup(
      {
        memory: { limit: 64 << 20, swap: 96 << 20, reservation: 8 << 20 },
        cpu: { shares: 512, quota: 30000, period: 60000, burst: 1000 },
        pids: { limit: 0 },
        hugepageLimits: fs.existsSync("/sys/kernel/mm/hugepages/hugepages-2048kB") ? [{ pageSize: "2MB", limit: 0 }] : [],
        unified: { "memory.high": "50331648", "memory.oom.group": "1" },
      },
      (rec) => {
        expect(rec.layout).toBe("v2");
        expect(Object.keys(rec.paths)).toEqual(["unified"]);
        expect(read(rec, "memory.max")).toBe(String(64 << 20));
        if (fs.existsSync(`${rec.paths.unified}/memory.swap.max`)) expect(read(rec, "memory.swap.max")).toBe(String(32 << 20));
        expect(read(rec, "memory.low")).toBe(String(8 << 20));
        expect(read(rec, "memory.high")).toBe("50331648");
        expect(read(rec, "memory.oom.group")).toBe("1");
        expect(read(rec, "cpu.weight")).toBe("59");
        expect(read(rec, "cpu.max")).toBe("30000 60000");
        expect(read(rec, "cpu.max.burst")).toBe("1000");
        expect(read(rec, "pids.max")).toBe("max");
        if (fs.existsSync(`${rec.paths.unified}/hugetlb.2MB.max`)) expect(read(rec, "hugetlb.2MB.max")).toBe("0");
        expect(attachedDevicePrograms(rec.paths.unified as string)).toHaveLength(1);
        mgr().update(rec, { cpu: { period: 100000 }, memory: { limit: -1 } });
        expect(read(rec, "cpu.max")).toBe("30000 100000");
        expect(read(rec, "memory.max")).toBe("max");
        // devices are replaced, not stacked
        mgr().update(rec, { devices: [{ allow: false }] });
        expect(attachedDevicePrograms(rec.paths.unified as string)).toHaveLength(1);
      },
    );
  });

  test("checkBeforeUpdate refuses a limit below live usage", async () => {
    await withCgroup({ memory: { limit: 256 << 20 } }, async (rec, procs) => {
      const p = Bun.spawn(["sh", "-c", `echo $$ > ${procs}; exec dd if=/dev/zero of=/dev/shm/${TAG} bs=1M count=24 status=none; sleep 60`]);
      try {
        for (let i = 0; i < 500 && Number(read(rec, "memory.current")) < 20 << 20; i++) await Bun.sleep(10);
        expect(() => mgr().update(rec, { memory: { limit: 8 << 20, checkBeforeUpdate: true } })).toThrow(/^linux\.resources\.memory\.limit: 8388608 is below the current usage of \d+ bytes/);
        expect(read(rec, "memory.max")).toBe(String(256 << 20));
      } finally {
        p.kill(9);
        await p.exited;
        fs.rmSync(`/dev/shm/${TAG}`, { force: true });
      }
    });
  });

  test("stats carry v2 numbers and pressure", async () => {
    await withCgroup({ pids: { limit: 50 } }, async (rec, procs) => {
      const p = Bun.spawn(["sh", "-c", `echo $$ > ${procs}; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 60`]);
      try {
        for (let i = 0; i < 500 && mgr().pids(rec).length < 2; i++) await Bun.sleep(10);
        const s = mgr().stats(rec);
        expect(s.pids).toEqual({ current: 2, limit: 50 });
        expect(s.memory.usage.usage ?? 0).toBeGreaterThan(0);
        expect(s.memory.raw?.anon).toBeDefined();
        if (fs.existsSync(`${rec.paths.unified}/cpu.pressure`)) expect(s.cpu.psi?.some).toBeDefined();
      } finally {
        p.kill(9);
        await p.exited;
      }
    });
  });
});
