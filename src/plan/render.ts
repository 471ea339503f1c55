/** A readable text form of a launch plan, one step per line (golden tests, --debug). Pure. */
import type { LaunchPlan, PlanArg } from "./compile.ts";
import { Section, type SectionName } from "./steps.ts";

function show(a: PlanArg): string {
  if (typeof a === "bigint") return `0x${a.toString(16)}`;
  if (typeof a === "number") return String(a);
  if (typeof a === "string") return JSON.stringify(a);
  return `<${a.length} bytes>`;
}

export function renderPlan(plan: LaunchPlan): string {
  const lines = [`clone 0x${plan.cloneFlags.toString(16)}`];
  for (const name of (Object.keys(Section) as SectionName[]).sort((a, b) => Section[a] - Section[b])) {
    lines.push(`[${name}]`);
    for (const s of plan.sections[name]) lines.push(`  ${s.step} ${s.args.map(show).join(" ")}  # ${s.origin}`.replace(/ +#/, "  #"));
  }
  return lines.join("\n") + "\n";
}
