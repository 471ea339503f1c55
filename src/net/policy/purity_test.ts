// The policy model, evaluator, compiler and CHECK view are pure: no node:* or Bun APIs.
import { expect, test } from "bun:test";
import { readFile } from "node:fs/promises";

const PURE = ["model.ts", "evaluate.ts", "compile.ts", "check.ts", "bridge_netfilter.ts"];

test("pure policy modules stay pure", async () => {
  for (const f of PURE) {
    const text = await readFile(new URL(f, import.meta.url), "utf8");
    expect({ f, host: /from "(node:|bun)|require\(|\bBun\./.test(text) }).toEqual({ f, host: false });
  }
});
