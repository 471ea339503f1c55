// cgroup v2 io controller: io.weight / io.bfq.weight and io.max per device; stats from io.stat.
import { CgroupError, type CgroupWrite } from "../resources.ts";
import { R, w, type Controller } from "../controller.ts";
import { blkioWeightToIoWeight } from "../convert.ts";
import { THROTTLES } from "../v1/blkio.ts";
import { parsePsi, type BlkioEntry } from "../stats.ts";

const F = `${R}.blockIO`;

/** Parses io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0") into runc's entries. */
export function parseIoStat(text: string): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  const ops = { rbytes: ["Read", bytes], wbytes: ["Write", bytes], rios: ["Read", ios], wios: ["Write", ios] } as const;
  for (const line of text.split("\n")) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    if (!dev || !dev.includes(":")) continue;
    const [major, minor] = dev.split(":").map(Number);
    for (const kv of kvs) {
      const [k, v] = kv.split("=");
      const op = ops[k as keyof typeof ops];
      if (!op) continue;
      const e: BlkioEntry = {};
      if (major) e.major = major;
      if (minor) e.minor = minor;
      e.op = op[0];
      if (Number(v)) e.value = Number(v);
      op[1].push(e);
    }
  }
  return { bytes, ios };
}

export const io: Controller = {
  name: "io",
  needs: (r) => r.blockIO !== undefined && Object.keys(r.blockIO).length > 0,
  writes(r, ctx) {
    const b = r.blockIO;
    if (!b) return [];
    if (b.leafWeight) throw new CgroupError(`${F}.leafWeight: ${b.leafWeight} cannot be applied: cgroup v2 has no leaf weight`, `${F}.leafWeight`);
    // BFQ takes blkio's 10..1000 scale as is; the plain io.weight needs the 1..10000 scale.
    const bfq = ctx.current("io.bfq.weight") !== undefined;
    const out: CgroupWrite[] = [];
    if (b.weight) {
      out.push(...(bfq ? w("io.bfq.weight", b.weight, `${F}.weight`) : w("io.weight", `default ${blkioWeightToIoWeight(b.weight)}`, `${F}.weight`)));
    }
    (b.weightDevice ?? []).forEach((d, i) => {
      if (d.leafWeight) throw new CgroupError(`${F}.weightDevice[${i}].leafWeight: ${d.leafWeight} cannot be applied: cgroup v2 has no leaf weight`);
      if (!d.weight) return;
      const value = bfq ? `${d.major}:${d.minor} ${d.weight}` : `${d.major}:${d.minor} ${blkioWeightToIoWeight(d.weight)}`;
      out.push(...w(bfq ? "io.bfq.weight" : "io.weight", value, `${F}.weightDevice[${i}].weight`));
    });
    for (const [key, , name] of THROTTLES) {
      (b[key] ?? []).forEach((d, i) => {
        // 0 removes a v1 throttle; "max" is v2's word for it.
        out.push(...w("io.max", `${d.major}:${d.minor} ${name}=${d.rate === 0 ? "max" : d.rate}`, `${F}.${key}[${i}]`));
      });
    }
    return out;
  },
  stats(read, out) {
    const { bytes, ios } = parseIoStat(read("io.stat") ?? "");
    if (bytes.length) out.blkio.ioServiceBytesRecursive = bytes;
    if (ios.length) out.blkio.ioServicedRecursive = ios;
    const psi = parsePsi(read("io.pressure"));
    if (psi) out.blkio.psi = psi;
  },
};
