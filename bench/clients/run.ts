/**
 * Client benchmark: the same podman and containerd flows with runc, crun (where it runs) and
 * isola-runtime, interleaved in one invocation; prints each step's median, the flow's median
 * total and its ratio to runc of the same client and flow. The flows are the client tests':
 *   podman `run --rm IMAGE true`; `run -d` + `exec true` + `stop` + `rm`;
 *   ctr `run --rm IMAGE id true`; `run -d` + `tasks exec true` + `tasks kill` + `tasks delete`
 *   (retried until the task has stopped) + `containers rm`.
 * Root only. Runs in a private mount + network namespace with its own podman storage and
 * containerd, all removed at the end (as the client tests do).
 * Usage: bun bench/clients/run.ts [rounds]
 */
import { Containerd, IMAGE as CTR_IMAGE } from "../../test/clients/containerd.ts";
import { IMAGE, Podman } from "../../test/clients/podman.ts";
import { buildRuntime, RUNTIME, Sandbox, type Result, which } from "../../test/clients/sandbox.ts";

const rounds = Number(process.argv[2] ?? 20);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.log(`rounds: expected a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}
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

/** A detached container's init: exits on SIGTERM (a pid 1 without a handler ignores it), steady otherwise. */
const DAEMON = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"];

interface Flow {
  client: "podman" | "ctr";
  name: string;
  steps: string[];
}

interface Case {
  flow: Flow;
  runtime: string;
  /** runs the flow once (i < 0: a probe); each step's ms, or why a step failed */
  once: (i: number) => number[] | string;
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

/** Runs the steps in order, timing each; stops at the first that fails. */
function timeSteps(steps: [string, () => Result][]): number[] | string {
  const ms: number[] = [];
  for (const [name, step] of steps) {
    const t0 = performance.now();
    const r = step();
    ms.push(performance.now() - t0);
    if (r.code !== 0) return `${name}: exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`;
  }
  return ms;
}

/** `ctr tasks delete` until the killed task has stopped (it refuses a running one). */
function deleteWhenStopped(id: string): Result {
  let r = containerd!.ctr(["tasks", "delete", id]);
  for (let i = 0; i < 2000 && r.code !== 0 && /running/.test(r.stderr); i++) {
    Bun.sleepSync(2);
    r = containerd!.ctr(["tasks", "delete", id]);
  }
  return r;
}

const flows: Record<string, Flow> = {
  podmanOnce: { client: "podman", name: "run --rm true", steps: ["run --rm"] },
  podmanDetached: { client: "podman", name: "run -d + exec + stop + rm", steps: ["run -d", "exec", "stop", "rm"] },
  ctrOnce: { client: "ctr", name: "run --rm true", steps: ["run --rm"] },
  ctrDetached: { client: "ctr", name: "run -d + task exec + kill + delete", steps: ["run -d", "task exec", "task kill", "task delete", "container rm"] },
};

const times = new Map<string, number[][]>(); // `${flow name} ${runtime}` -> rounds of step times
const key = (c: Case) => `${c.flow.client} ${c.flow.name}\t${c.runtime}`;
try {
  box.start();
  const cases: Case[] = [];
  const cg = `/${box.cgroupParent}`;
  if (clients.includes("podman")) {
    podman = new Podman(box, runtimes.map((r) => r.path));
    podman.loadImage(RUNTIME);
    const p = podman;
    for (const rt of runtimes) {
      cases.push({ flow: flows.podmanOnce!, runtime: rt.name, once: () => timeSteps([["run --rm", () => p.run(rt.path, ["run", "--rm", "--cgroup-parent", cg, IMAGE, "true"])]]) });
      cases.push({
        flow: flows.podmanDetached!,
        runtime: rt.name,
        once: (i) => {
          const name = `bench-${rt.name}-${i < 0 ? "probe" : i}`;
          const r = timeSteps([
            ["run -d", () => p.run(rt.path, ["run", "-d", "--name", name, "--cgroup-parent", cg, IMAGE, ...DAEMON])],
            ["exec", () => p.run(rt.path, ["exec", name, "true"])],
            ["stop", () => p.run(rt.path, ["stop", "--time", "10", name])],
            ["rm", () => p.run(rt.path, ["rm", name])],
          ]);
          if (typeof r === "string") p.run(rt.path, ["rm", "--force", "--time", "0", name]);
          return r;
        },
      });
    }
  }
  if (clients.includes("ctr")) {
    containerd = new Containerd(box);
    containerd.start();
    containerd.importImage();
    const c = containerd;
    for (const rt of runtimes) {
      const flags = (id: string) => ["--runc-binary", rt.path, "--cgroup", `${cg}/${id}`];
      cases.push({
        flow: flows.ctrOnce!,
        runtime: rt.name,
        once: (i) => {
          const id = `bench-${rt.name}-${i < 0 ? "probe" : i}`;
          return timeSteps([["run --rm", () => c.ctr(["run", "--rm", ...flags(id), CTR_IMAGE, id, "true"])]]);
        },
      });
      cases.push({
        flow: flows.ctrDetached!,
        runtime: rt.name,
        once: (i) => {
          const id = `bench-d-${rt.name}-${i < 0 ? "probe" : i}`;
          const r = timeSteps([
            ["run -d", () => c.ctr(["run", "-d", ...flags(id), CTR_IMAGE, id, ...DAEMON])],
            ["task exec", () => c.ctr(["tasks", "exec", "--exec-id", "e", id, "true"])],
            ["task kill", () => c.ctr(["tasks", "kill", id])],
            ["task delete", () => deleteWhenStopped(id)],
            ["container rm", () => c.ctr(["containers", "rm", id])],
          ]);
          if (typeof r === "string") {
            c.ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
            deleteWhenStopped(id);
            c.ctr(["containers", "rm", id]);
          }
          return r;
        },
      });
    }
  }
  const usable = cases.filter((c) => {
    const r = c.once(-1);
    if (typeof r === "string") console.log(`skipping ${c.flow.client} ${c.flow.name} with ${c.runtime}: ${r}`);
    return typeof r !== "string";
  });
  for (const c of usable) times.set(key(c), []);
  for (let i = 0; i < rounds; i++)
    for (const c of usable) {
      const r = c.once(i);
      if (typeof r === "string") throw new Error(`${c.flow.client} ${c.flow.name} with ${c.runtime}: ${r}`);
      times.get(key(c))!.push(r);
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
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
console.log(`busybox through the clients, ${rounds} interleaved rounds; medians in ms, ratio of the total's median to runc's`);
for (const flow of Object.values(flows)) {
  const rows = [...times].filter(([k]) => k.startsWith(`${flow.client} ${flow.name}\t`));
  if (rows.length === 0) continue;
  console.log(`\n${flow.client} ${flow.name}`);
  const cols = flow.steps.length > 1 ? [...flow.steps, "total"] : ["total"];
  console.log(`  ${"runtime".padEnd(15)}${cols.map((c) => c.padStart(14)).join("")}   ratio`);
  const totalOf = (runs: number[][]) => median(runs.map(sum));
  const runc = times.get(`${flow.client} ${flow.name}\trunc`);
  for (const [k, runs] of rows) {
    const runtime = k.split("\t")[1]!;
    const steps = flow.steps.length > 1 ? flow.steps.map((_, s) => median(runs.map((r) => r[s]!))) : [];
    const cells = [...steps, totalOf(runs)].map((v) => v.toFixed(1).padStart(14)).join("");
    const ratio = runc ? (totalOf(runs) / totalOf(runc)).toFixed(2) : "-";
    console.log(`  ${runtime.padEnd(15)}${cells}   ${ratio}`);
  }
}
