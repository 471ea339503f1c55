// Test support: a fake cgroup filesystem in a temporary directory, laid out as v1, v2 or hybrid.
// Unlike cgroupfs, mkdir makes no control files, so tests pre-create the container's directory
// with `cgroup(...)`; writes replace a file's content, so only the last write to a file is seen.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const V1_HIERARCHIES = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"];

const V1_FILES: Record<string, string[]> = {
  cpu: ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle", "cpu.stat"],
  cpuacct: ["cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"],
  cpuset: ["cpuset.cpus", "cpuset.mems"],
  memory: [
    "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.swappiness", "memory.oom_control",
    "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.stat", "memory.kmem.tcp.limit_in_bytes",
  ],
  devices: ["devices.allow", "devices.deny"],
  freezer: ["freezer.state"],
  blkio: ["blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"],
  pids: ["pids.max", "pids.current"],
  systemd: [],
};

const V2_FILES = [
  "cgroup.controllers", "cgroup.subtree_control", "cgroup.max.depth", "cgroup.freeze", "cgroup.events", "cgroup.kill",
  "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpu.stat", "cpuset.cpus", "cpuset.mems",
  "memory.max", "memory.high", "memory.low", "memory.swap.max", "memory.current", "memory.events", "memory.stat",
  "pids.max", "pids.current", "io.weight", "io.max", "io.stat", "hugetlb.2MB.max", "hugetlb.2MB.current", "rdma.max",
];

export interface FakeTree {
  root: string;
  /** Creates a cgroup directory (relative to root) with the control files of its hierarchy. */
  cgroup(rel: string, extra?: Record<string, string>): string;
  read(rel: string): string;
  write(rel: string, content: string): void;
  cleanup(): void;
}

export function fakeTree(layout: "v1" | "v2" | "hybrid", v2Controllers = "cpuset cpu io memory hugetlb pids rdma misc"): FakeTree {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "isola-fake-cgroup-"));
  const put = (rel: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  };
  /** Makes `rel` and its parents cgroups, as cgroupfs would (control files in each; existing ones kept). */
  const populate = (rel: string, extra: Record<string, string> = {}) => {
    const top = rel.split("/")[0] ?? "";
    const files = layout === "v2" || top === "unified" ? V2_FILES : (V1_FILES[top] ?? []);
    const parts = rel.split("/").filter((p) => p !== "");
    for (let i = layout === "v2" ? 0 : 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      fs.mkdirSync(path.join(root, dir), { recursive: true });
      for (const f of ["cgroup.procs", ...files]) {
        if (!fs.existsSync(path.join(root, dir, f))) put(`${dir}/${f}`, f === "cgroup.controllers" ? v2Controllers : "");
      }
    }
    for (const [f, v] of Object.entries(extra)) put(`${rel}/${f}`, v);
    return path.join(root, rel);
  };
  if (layout !== "v2") {
    for (const h of V1_HIERARCHIES) populate(h, h === "cpuset" ? { "cpuset.cpus": "0-3", "cpuset.mems": "0" } : {});
  }
  if (layout === "v2") populate("");
  if (layout === "hybrid") populate("unified");
  return {
    root,
    cgroup: populate,
    read: (rel) => fs.readFileSync(path.join(root, rel), "utf8"),
    write: put,
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
