/**
 * Client benchmark: the same podman (`run --rm IMAGE true`) and containerd (`ctr run --rm
 * IMAGE id true`) commands with runc, crun (where it runs) and isola-runtime, interleaved in
 * one invocation; prints each median and the ratio to runc of the same client.
 * Root only. Runs in a private mount + network namespace with its own podman storage and
 * containerd, all removed at the end (as the client tests do).
 * Usage: bun bench/clients/run.ts [rounds]
 */
import { Containerd, IMAGE as CTR_IMAGE } from "../../test/clients/containerd.ts";
import { IMAGE, Podman } from "../../test/clients/podman.ts";
import { buildRuntime, RUNTIME, Sandbox, which } from "../../test/clients/sandbox.ts";

const rounds = Number(process.argv[2] ?? 20);
if ((process.getuid?.() ?? 1) !== 0) {
  console.log("bench/clients needs root");
  process.exit(1);
}
buildRuntime();

const runtimes = [
  { name: "runc", path: which("runc") },
  { name: "crun", path: which("crun") },
  { name: "isola-runtime", path: RUNTIME },
].filter((r): r is { name: string; path: string } => {
  if (!r.path) console.log(`skipping ${r.name}: not installed`);
  return r.path !== undefined;
});

interface Case {
  client: "podman" | "ctr";
  runtime: string;
  /** runs the command once; returns ms or the reason it failed */
  once: (i: number) => number | string;
}

const box = new Sandbox("bench-clients");
let containerd: Containerd | undefined;
let podman: Podman | undefined;
const clients = ["podman", "ctr"].filter((c) => {
  const tools = c === "podman" ? ["podman", "conmon"] : ["containerd", "ctr", "containerd-shim-runc-v2"];
  const missing = tools.filter((t) => !which(t));
  if (missing.length) console.log(`skipping ${c}: ${missing.join(", ")} not installed`);
  return missing.length === 0;
});

const timed = (argv: () => { code: number; stderr: string }) => {
  const t0 = performance.now();
  const r = argv();
  const ms = performance.now() - t0;
  return r.code === 0 ? ms : `exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`;
};

const times = new Map<string, number[]>();
try {
  box.start();
  const cases: Case[] = [];
  if (clients.includes("podman")) {
    podman = new Podman(box, runtimes.map((r) => r.path));
    podman.loadImage(RUNTIME);
    for (const rt of runtimes)
      cases.push({
        client: "podman",
        runtime: rt.name,
        once: () => timed(() => podman!.run(rt.path, ["run", "--rm", "--cgroup-parent", `/${box.cgroupParent}`, IMAGE, "true"])),
      });
  }
  if (clients.includes("ctr")) {
    containerd = new Containerd(box);
    containerd.start();
    containerd.importImage();
    for (const rt of runtimes)
      cases.push({
        client: "ctr",
        runtime: rt.name,
        once: (i) => {
          const id = `bench-${rt.name}-${i < 0 ? "probe" : i}`;
          return timed(() => containerd!.ctr(["run", "--rm", "--runc-binary", rt.path, "--cgroup", `/${box.cgroupParent}/${id}`, CTR_IMAGE, id, "true"]));
        },
      });
  }
  const usable = cases.filter((c) => {
    const r = c.once(-1);
    if (typeof r === "string") console.log(`skipping ${c.client} with ${c.runtime}: ${r}`);
    return typeof r === "number";
  });
  for (const c of usable) times.set(`${c.client} ${c.runtime}`, []);
  for (let i = 0; i < rounds; i++)
    for (const c of usable) {
      const r = c.once(i);
      if (typeof r === "string") throw new Error(`${c.client} with ${c.runtime}: ${r}`);
      times.get(`${c.client} ${c.runtime}`)!.push(r);
    }
} finally {
  podman?.removeAll(RUNTIME);
  if (containerd) {
    containerd.removeAll();
    containerd.stop();
  }
  const problems = box.cleanup();
  if (problems.length) console.log(`cleanup: ${problems.join("; ")}`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
console.log(`\`run --rm\` of busybox \`true\` through the clients, ${rounds} interleaved rounds`);
console.log("client  runtime          median ms   min ms   ratio to runc");
for (const [key, xs] of times) {
  const [client, runtime] = key.split(" ") as [string, string];
  const runc = times.get(`${client} runc`);
  const ratio = runc ? (median(xs) / median(runc)).toFixed(2) : "-";
  console.log(`${client.padEnd(7)} ${runtime.padEnd(16)} ${median(xs).toFixed(1).padStart(9)} ${Math.min(...xs).toFixed(1).padStart(8)}   ${ratio}`);
}
