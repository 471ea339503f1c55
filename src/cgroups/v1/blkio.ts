// cgroup v1 blkio controller: weights (CFQ or BFQ files, whichever the kernel has) and per-device throttles.
import type { CgroupWrite, LinuxThrottleDevice } from "../resources.ts";
import { R, w, type Controller } from "../controller.ts";
import type { BlkioEntry, Reader } from "../stats.ts";

const F = `${R}.blockIO`;

export const THROTTLES = [
  ["throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"],
  ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"],
  ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"],
  ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"],
] as const;

function throttleWrites(file: string, list: LinuxThrottleDevice[] | undefined, field: string): CgroupWrite[] {
  return (list ?? []).map((d, i) => ({ file, value: `${d.major}:${d.minor} ${d.rate}`, field: `${field}[${i}]` }));
}

/** Parses blkio "8:0 Read 4096" lines (the "Total" line is skipped) into runc's entries. */
export function parseBlkioEntries(text: string | undefined): BlkioEntry[] | undefined {
  if (text === undefined) return undefined;
  const out: BlkioEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2 || f[0] === "Total") continue;
    const [maj, min] = (f[0] ?? "").split(":").map(Number);
    const e: BlkioEntry = {};
    if (maj) e.major = maj;
    if (min) e.minor = min;
    const op = f.length === 3 ? f[1] : "";
    if (op) e.op = op;
    const value = Number(f[f.length - 1]);
    if (value) e.value = value;
    out.push(e);
  }
  return out.length > 0 ? out : undefined;
}

export const blkio: Controller = {
  name: "blkio",
  needs: (r) => r.blockIO !== undefined && Object.keys(r.blockIO).length > 0,
  writes(r, ctx) {
    const b = r.blockIO;
    if (!b) return [];
    // With the BFQ scheduler only blkio.bfq.weight exists; CFQ kernels have blkio.weight.
    const bfq = ctx.current("blkio.weight") === undefined && ctx.current("blkio.bfq.weight") !== undefined;
    const weight = bfq ? "blkio.bfq.weight" : "blkio.weight";
    const out: CgroupWrite[] = [];
    if (b.weight) out.push(...w(weight, b.weight, `${F}.weight`));
    if (b.leafWeight) out.push(...w("blkio.leaf_weight", b.leafWeight, `${F}.leafWeight`));
    (b.weightDevice ?? []).forEach((d, i) => {
      if (d.weight) out.push(...w(`${weight}_device`, `${d.major}:${d.minor} ${d.weight}`, `${F}.weightDevice[${i}].weight`));
      if (d.leafWeight) out.push(...w("blkio.leaf_weight_device", `${d.major}:${d.minor} ${d.leafWeight}`, `${F}.weightDevice[${i}].leafWeight`));
    });
    for (const [key, file] of THROTTLES) out.push(...throttleWrites(file, b[key], `${F}.${key}`));
    return out;
  },
  stats(read: Reader, out) {
    // Prefer the throttle accounting (always present); CFQ/BFQ ones when the scheduler has them.
    const pick = (...files: string[]) => {
      for (const f of files) {
        const e = parseBlkioEntries(read(f));
        if (e) return e;
      }
      return undefined;
    };
    const bytes = pick("blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive");
    const ios = pick("blkio.io_serviced_recursive", "blkio.bfq.io_serviced_recursive", "blkio.throttle.io_serviced_recursive");
    if (bytes) out.blkio.ioServiceBytesRecursive = bytes;
    if (ios) out.blkio.ioServicedRecursive = ios;
    const more = [
      ["ioQueueRecursive", "blkio.io_queued_recursive"],
      ["ioServiceTimeRecursive", "blkio.io_service_time_recursive"],
      ["ioWaitTimeRecursive", "blkio.io_wait_time_recursive"],
      ["ioMergedRecursive", "blkio.io_merged_recursive"],
      ["ioTimeRecursive", "blkio.time_recursive"],
      ["sectorsRecursive", "blkio.sectors_recursive"],
    ] as const;
    for (const [key, file] of more) {
      const e = parseBlkioEntries(read(file));
      if (e) out.blkio[key] = e;
    }
  },
};
