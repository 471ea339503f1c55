/**
 * Exec benchmark: `exec <id> true` into a running busybox container (`sleep`) with
 * isola-runtime, runc and crun (where it runs on this host), interleaved in one invocation,
 * 60 ms apart (see run.ts for why); prints each median and the ratio to runc.
 * Usage: bun bench/lifecycle/exec.ts [rounds]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle } from "../../test/bundle.ts";

const rounds = Number(process.argv[2] ?? 30);
const repo = path.resolve(import.meta.dir, "../..");
const bundle = makeBundle((s) => {
  s.process!.args = ["sleep", "1000"];
  delete s.linux!.resources;
  s.ociVersion = "1.0.2"; // the newest version Debian's crun accepts
});
const state = fs.mkdtempSync(path.join(os.tmpdir(), "isola-bench-"));
// crun makes /run/crun even when given --root: it is removed again if this run made it
const crunDirBefore = fs.existsSync("/run/crun");
const runtimes = [
  { name: "isola-runtime", bin: path.join(repo, "bin/isola-runtime") },
  { name: "runc", bin: "runc" },
  { name: "crun", bin: "crun" },
];
const argv = (rt: { name: string; bin: string }, args: string[]) => [rt.bin, "--root", `${state}/${rt.name}`, ...args];
// stderr through a file: a detached container keeps what it inherits open, and a pipe never ends
const errFile = `${state}/stderr`;
const quiet = { stdin: "ignore", stdout: "ignore", stderr: Bun.file(errFile) } as const;
const lastError = () => (fs.existsSync(errFile) ? fs.readFileSync(errFile, "utf8").trim().split("\n").pop() : "");

const usable: typeof runtimes = [];
try {
  for (const rt of runtimes) {
    const r = Bun.spawnSync(argv(rt, ["run", "-d", "-b", bundle, "bench-exec"]), quiet);
    if (r.exitCode === 0) usable.push(rt);
    else console.log(`skipping ${rt.name}: ${lastError()}`);
  }
  const times = new Map<string, number[]>(usable.map((rt) => [rt.name, []]));
  for (let i = 0; i < rounds; i++)
    for (const rt of usable) {
      Bun.sleepSync(60);
      const t0 = performance.now();
      const r = Bun.spawnSync(argv(rt, ["exec", "bench-exec", "true"]), quiet);
      const ms = performance.now() - t0;
      if (r.exitCode !== 0) throw new Error(`${rt.name} exec failed (${r.exitCode}): ${lastError()}`);
      times.get(rt.name)!.push(ms);
    }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const runc = times.has("runc") ? median(times.get("runc")!) : undefined;
  console.log(`exec of busybox \`true\` into a running container, ${rounds} interleaved rounds, 60 ms apart`);
  console.log("runtime          median ms   min ms   ratio to runc");
  for (const [name, xs] of times) {
    const m = median(xs);
    console.log(`${name.padEnd(16)} ${m.toFixed(1).padStart(9)} ${Math.min(...xs).toFixed(1).padStart(8)}   ${runc ? (m / runc).toFixed(2) : "-"}`);
  }
} finally {
  for (const rt of usable) Bun.spawnSync(argv(rt, ["delete", "--force", "bench-exec"]), quiet);
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
