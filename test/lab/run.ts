// CLI of the lab: bun test/lab/run.ts [--mem MiB] [--cpus N] [--timeout S] [--module M]… [--env K=V]… (-- command… | test-file…)
// A lone *_test.ts argument list runs `bun test` on those files in the guest. Exit status: the
// command's; 77 with a reason when the lab cannot run here; 125 when the guest reported nothing.
import { labUnavailable, runInLab, type LabOptions } from "./lab.ts";

const args = process.argv.slice(2);
const opts: Omit<LabOptions, "command"> = { env: {}, modules: [], onOutput: (t) => process.stdout.write(t) };
let rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  const next = () => args[++i] ?? "";
  if (a === "--mem") opts.memMiB = Number(next());
  else if (a === "--cpus") opts.cpus = Number(next());
  else if (a === "--timeout") opts.timeoutSec = Number(next());
  else if (a === "--module") opts.modules?.push(next());
  else if (a === "--env") {
    const [k = "", ...v] = next().split("=");
    (opts.env as Record<string, string>)[k] = v.join("=");
  } else if (a === "--") {
    rest = args.slice(i + 1);
    break;
  } else rest.push(a);
}
if (rest.length === 0) {
  console.error("usage: bun test/lab/run.ts [--mem MiB] [--cpus N] [--timeout S] [--module M] [--env K=V] (-- command… | file_test.ts…)");
  process.exit(2);
}
const why = labUnavailable();
if (why) {
  console.log(`lab: skipped: ${why}`);
  process.exit(77);
}
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const command = rest.every((f) => f.endsWith("_test.ts"))
  ? `node_modules/.bin/bun test --timeout 300000 ${rest.map((f) => quote(f.startsWith("/") || f.startsWith("./") ? f : `./${f}`)).join(" ")}`
  : rest.map(quote).join(" ");
const r = await runInLab({ ...opts, command, cwd: process.cwd() });
console.log(`\nlab: ${r.status === undefined ? "the guest reported no status" : `exit status ${r.status}`} (${r.accel}, ${r.seconds.toFixed(1)} s)`);
process.exit(r.status ?? 125);
