// Cost of a container's cgroups on this host: create (mkdir every hierarchy, apply typical
// resources) + destroy, against the floor of doing the same kernel writes with no logic.
// Usage (root): bun bench/cgroups/create_destroy.ts [iterations]. Prints ratios, asserts nothing.
import * as fs from "node:fs";
import { openCgroupManager, type CgroupRecord } from "../../src/cgroups/mod.ts";

const n = Number(process.argv[2] ?? 200);
const tag = `isola-bench-${Math.random().toString(36).slice(2, 8)}`;
const resources = {
  memory: { limit: 256 << 20, reservation: 128 << 20 },
  cpu: { shares: 512, quota: 50000, period: 100000 },
  pids: { limit: 1024 },
  devices: [{ allow: false, access: "rwm" }],
};

const t0 = performance.now();
const m = openCgroupManager();
const openMs = performance.now() - t0;

function timeIt(label: string, fn: (i: number) => void): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    fn(i);
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / n;
  console.log(`${label.padEnd(28)} mean ${mean.toFixed(3)} ms  p50 ${times[Math.floor(n / 2)]?.toFixed(3)} ms  p95 ${times[Math.floor(n * 0.95)]?.toFixed(3)} ms`);
  return times;
}

let last: CgroupRecord | undefined;
const created: CgroupRecord[] = [];
try {
  const ours = timeIt("isola create+destroy", (i) => {
    const { record } = m.create({ id: `b${i}`, cgroupsPath: `${tag}/b${i}`, resources });
    created.push(record);
    m.destroy(record);
    created.pop();
    last = record;
  });
  // The floor: the same directories and the same final values, written directly.
  const dirs = [...new Set(Object.values(last?.paths ?? {}))];
  const floor = timeIt("raw mkdir+write+rmdir", (i) => {
    const mine = dirs.map((d) => d.replace(/\/b\d+$/, `/f${i}`));
    for (const d of mine) fs.mkdirSync(d, { recursive: true });
    for (const d of mine) {
      const w = (f: string, v: string) => fs.existsSync(`${d}/${f}`) && fs.writeFileSync(`${d}/${f}`, v);
      w("memory.limit_in_bytes", String(256 << 20));
      w("memory.max", String(256 << 20));
      w("cpu.shares", "512");
      w("cpu.cfs_quota_us", "50000");
      w("pids.max", "1024");
      w("devices.deny", "a");
    }
    for (const d of mine) fs.rmdirSync(d);
  });
  const mean = (t: number[]) => t.reduce((a, b) => a + b, 0) / t.length;
  console.log(`layout ${m.layout}, ${dirs.length} cgroup directories per container, openCgroupManager ${openMs.toFixed(2)} ms`);
  console.log(`ratio isola / raw floor: ${(mean(ours) / mean(floor)).toFixed(2)}`);
} finally {
  for (const r of created) m.destroy(r);
  for (const d of Bun.spawnSync(["find", "/sys/fs/cgroup", "-name", `${tag}*`, "-type", "d"]).stdout.toString().split("\n").filter(Boolean).sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(d);
    } catch {
      // left for the report below
    }
  }
  const left = Bun.spawnSync(["find", "/sys/fs/cgroup", "-name", `${tag}*`]).stdout.toString().trim();
  if (left) console.log(`left behind:\n${left}`);
}
