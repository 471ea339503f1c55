/**
 * Lifecycle benchmark: `run` of the same busybox bundle (`true`) with
 * isola-runtime, runc and crun, interleaved in one invocation; prints each
 * median and the ratio to runc. Usage: bun bench/lifecycle/run.ts [rounds] [gap-ms]
 *
 * Runs are spaced by a pause (default 60 ms). A runtime's first write of a pid to a
 * cgroup.procs file waits one RCU grace period (≈10–14 ms here; the kernel's
 * cgroup_threadgroup_rwsem), unless another such write happened within about one grace
 * period before it. Back to back, the follower's number then says more about its
 * predecessor than about itself (measured while isola still paid it too: runc right
 * after isola 24 ms, runc alone 34 ms). The pause makes every run start as a container
 * started on its own does. `gap-ms` 0 shows back to back. (isola no longer writes
 * cgroup.procs on start: docs/design.md, "Where the start-up time goes".)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle } from "../../test/bundle.ts";

const rounds = Number(process.argv[2] ?? 40);
const gapMs = Number(process.argv[3] ?? 60);
const repo = path.resolve(import.meta.dir, "../..");
const bundle = makeBundle((s) => {
  s.process!.args = ["true"];
  delete s.linux!.resources; // no cgroup resources: compare the namespace/mount path itself
  s.ociVersion = "1.0.2"; // the newest version Debian's crun accepts
});
const state = fs.mkdtempSync(path.join(os.tmpdir(), "isola-bench-"));
// crun makes /run/crun even when given --root: it is removed again if this run made it
const crunDirBefore = fs.existsSync("/run/crun");

interface Runtime {
  name: string;
  argv: (id: string) => string[];
}
const runtimes: Runtime[] = [
  { name: "isola-runtime", argv: (id) => [path.join(repo, "bin/isola-runtime"), "--root", `${state}/isola`, "run", "-b", bundle, id] },
  { name: "runc", argv: (id) => ["runc", "--root", `${state}/runc`, "run", "-b", bundle, id] },
  { name: "crun", argv: (id) => ["crun", "--root", `${state}/crun`, "run", "-b", bundle, id] },
];

function once(rt: Runtime, id: string): number | string {
  if (gapMs > 0) Bun.sleepSync(gapMs);
  const t0 = performance.now();
  const r = Bun.spawnSync(rt.argv(id), { stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) return `${rt.name} failed (${r.exitCode}): ${r.stderr.toString().trim().split("\n").pop()}`;
  return ms;
}

const usable = runtimes.filter((rt) => {
  const r = once(rt, `bench-probe-${rt.name}`);
  if (typeof r === "string") console.log(`skipping ${rt.name}: ${r}`);
  return typeof r === "number";
});
const times = new Map<string, number[]>(usable.map((rt) => [rt.name, []]));
try {
  for (let i = 0; i < rounds; i++)
    for (const rt of usable) {
      const r = once(rt, `bench-${i}`);
      if (typeof r === "string") throw new Error(r);
      times.get(rt.name)!.push(r);
    }
} finally {
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.rmSync(state, { recursive: true, force: true });
  if (!crunDirBefore) {
    try {
      fs.rmdirSync("/run/crun"); // only when empty: never what another crun user keeps there
    } catch {
      // not there, or not empty
    }
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const runcMedian = times.has("runc") ? median(times.get("runc")!) : undefined;
console.log(`run of busybox \`true\`, ${rounds} interleaved rounds, ${gapMs > 0 ? `${gapMs} ms apart` : "back to back"}`);
console.log("runtime          median ms   min ms   ratio to runc");
for (const [name, xs] of times) {
  const m = median(xs);
  const ratio = runcMedian ? (m / runcMedian).toFixed(2) : "-";
  console.log(`${name.padEnd(16)} ${m.toFixed(1).padStart(9)} ${Math.min(...xs).toFixed(1).padStart(8)}   ${ratio}`);
}
