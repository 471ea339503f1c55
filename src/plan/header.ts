import { ArgKind, Create, Msg, PLAN_MAGIC, PLAN_VERSION, Section, Step, STEP_ARGS } from "./steps.ts";

/** Renders native/plan_steps.h from the TypeScript step vocabulary. Pure. */
export function renderStepsHeader(): string {
  const lines: string[] = [
    "/* Generated from src/plan/steps.ts by scripts/gen-header.ts. Do not edit. */",
    "#ifndef ISOLA_PLAN_STEPS_H",
    "#define ISOLA_PLAN_STEPS_H",
    "",
    `#define PLAN_MAGIC 0x${PLAN_MAGIC.toString(16)}u`,
    `#define PLAN_VERSION ${PLAN_VERSION}`,
    "",
  ];
  const block = (prefix: string, table: Record<string, number>) => {
    for (const [name, value] of Object.entries(table)) lines.push(`#define ${prefix}_${name} ${value}`);
    lines.push("");
  };
  block("SECTION", Section);
  lines.push(`#define SECTION_COUNT ${Object.keys(Section).length}`, "");
  for (const [name, value] of Object.entries(Step)) {
    const args = STEP_ARGS[name as keyof typeof Step].join(", ");
    lines.push(`#define STEP_${name} ${value} /* ${args || "no arguments"} */`);
  }
  lines.push(`#define STEP_MAX ${Math.max(...Object.values(Step))}`, "");
  lines.push("static const char *const step_names[] = {");
  for (const [name, value] of Object.entries(Step)) lines.push(`  [${value}] = "${name}",`);
  lines.push("};", "");
  block("ARG", ArgKind);
  block("CREATE", Create);
  block("MSG", Msg);
  lines.push("#endif", "");
  return lines.join("\n");
}
