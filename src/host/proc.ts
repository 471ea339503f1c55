// What /proc says of a process, for the runtime and net alike.
import * as fs from "node:fs";

/** Field 22 (starttime) and field 3 (state) of /proc/<pid>/stat, or undefined when gone. */
export function procStat(pid: number): { startTime: string; state: string } | undefined {
  if (!pid) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0] ?? "", startTime: rest[19] ?? "" };
}
