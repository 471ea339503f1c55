// The cgroup layer keeps its decisions pure: only these modules may touch the filesystem,
// processes or Bun's APIs. Everything else is testable without root and without a kernel.
import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";

const IMPURE = new Set(["io.ts", "manager.ts", "oom.ts", "fake_tree.ts", "v2/devices.ts", "v1/oom_eventfd.ts"]);

function sources(dir: string, rel = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) return sources(path.join(dir, e.name), r);
    return e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") ? [r] : [];
  });
}

test("pure modules import no fs, process or Bun APIs", () => {
  const offenders: string[] = [];
  for (const f of sources(import.meta.dir)) {
    if (IMPURE.has(f)) continue;
    const text = fs.readFileSync(path.join(import.meta.dir, f), "utf8");
    if (/from "node:(fs|child_process|os)"|\bBun\.|\bprocess\.(env|kill|getuid)/.test(text)) offenders.push(f);
  }
  expect(offenders).toEqual([]);
});
