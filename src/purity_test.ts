// Pure modules (spec handling, planning, seccomp compilation) never touch the host:
// no node:* or bun imports and no Bun global outside their tests.
import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";

const PURE_DIRS = ["oci", "plan", "seccomp"];
const PURE_FILES_ELSEWHERE = ["runtime/signals.ts", "runtime/errno.ts", "cli/args.ts"];

function pureFiles(): string[] {
  const out: string[] = [];
  for (const dir of PURE_DIRS) {
    const abs = path.join(import.meta.dir, dir);
    if (!fs.existsSync(abs)) continue;
    for (const f of fs.readdirSync(abs, { recursive: true }) as string[])
      if (f.endsWith(".ts") && !f.endsWith("_test.ts") && !f.includes("testdata")) out.push(path.join(dir, f));
  }
  return [...out, ...PURE_FILES_ELSEWHERE];
}

test("pure modules import no host APIs", () => {
  const offenders: string[] = [];
  for (const rel of pureFiles()) {
    const text = fs.readFileSync(path.join(import.meta.dir, rel), "utf8");
    if (/from\s+["'](node:|bun)/.test(text) || /\bBun\./.test(text) || /(?<![\w."`$])process\.(argv|exit|cwd\(\)|getuid)/.test(text)) offenders.push(rel);
  }
  expect(offenders).toEqual([]);
});
