// runc's `events` JSON lines: {"type":"stats","id":…,"data":{…}} and {"type":"oom","id":…}.
// Integers above 2^53 (unlimited memory is 9223372036854771712 on v1) are printed exactly, as
// Go does, instead of JavaScript's shortest round-trip form.

const MARK = "\u0000isola-int:";

/** JSON.stringify that prints every integral number with all its digits. */
export function stringifyExact(value: unknown): string {
  const json = JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "number" && Number.isInteger(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER ? `${MARK}${BigInt(v)}` : v,
  );
  return json.replace(/"\\u0000isola-int:(-?\d+)"/g, "$1");
}

/** One event line as `runc events` prints it (no trailing newline). */
export function formatEvent(type: "stats" | "oom" | "memoryHighEvent" | "memorySwapHigh", id: string, data?: unknown): string {
  return stringifyExact(data === undefined ? { type, id } : { type, id, data });
}
