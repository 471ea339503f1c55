/** Serialises a launch plan into the launcher's wire format (see native/launcher.c). Pure. */
import type { LaunchPlan, PlanArg } from "./compile.ts";
import { ArgKind, PLAN_MAGIC, PLAN_VERSION, Section, Step, type SectionName } from "./steps.ts";

const encoder = new TextEncoder();

/** Returns the plan prefixed with its u32 length, ready to write to the launcher. */
export function encodePlan(plan: LaunchPlan): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (c: Uint8Array) => {
    chunks.push(c);
    size += c.length;
  };
  const u32 = (n: number) => {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, n >>> 0, true);
    push(c);
  };
  const i64 = (n: bigint) => {
    const c = new Uint8Array(8);
    new DataView(c.buffer).setBigInt64(0, BigInt.asIntN(64, n), true);
    push(c);
  };
  const arg = (a: PlanArg) => {
    if (typeof a === "number" || typeof a === "bigint") {
      if (typeof a === "number" && !Number.isInteger(a)) throw new Error(`launch plan: ${a} is not an integer`);
      push(Uint8Array.of(ArgKind.INT));
      i64(BigInt(a));
      return;
    }
    const bytes = typeof a === "string" ? encoder.encode(a) : a;
    push(Uint8Array.of(ArgKind.BYTES));
    u32(bytes.length);
    push(bytes);
  };

  u32(0); // total length, patched below
  u32(PLAN_MAGIC);
  u32(PLAN_VERSION);
  i64(BigInt(plan.cloneFlags));
  const names = Object.keys(Section) as SectionName[];
  u32(names.length);
  for (const name of names.sort((a, b) => Section[a] - Section[b])) {
    const steps = plan.sections[name];
    u32(steps.length);
    for (const s of steps) {
      u32(Step[s.step]);
      u32(s.args.length);
      s.args.forEach(arg);
    }
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  new DataView(out.buffer).setUint32(0, size - 4, true);
  return out;
}
