import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { renderStepsHeader } from "./header.ts";
import { Step, STEP_ARGS } from "./steps.ts";

test("native/plan_steps.h matches src/plan/steps.ts (run scripts/gen-header.ts after changing steps)", () => {
  const onDisk = readFileSync(new URL("../../native/plan_steps.h", import.meta.url), "utf8");
  expect(onDisk).toBe(renderStepsHeader());
});

test("every step has a unique tag and an argument list", () => {
  const tags = Object.values(Step);
  expect(new Set(tags).size).toBe(tags.length);
  for (const name of Object.keys(Step)) expect(STEP_ARGS[name as keyof typeof Step]).toBeDefined();
});
