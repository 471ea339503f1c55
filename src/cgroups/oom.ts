// OOM notifications from the kernel's OOM-kill counters (memory.events' "oom_kill" on v2,
// with inotify on memory.events waking us up as soon as the kernel changes it; on v1 the
// fallback when no eventfd can be registered: v1/oom_eventfd.ts), polled as well.
import * as fs from "node:fs";
import { parseKeyValues } from "./convert.ts";
import { tryRead } from "./io.ts";

/** How often the counters are read. */
export const OOM_POLL_MS = 100;

/** Count of OOM events in a memory.oom_control (v1) or memory.events (v2) text; undefined when unreadable. */
export function oomCount(text: string | undefined, v2: boolean): number | undefined {
  if (text === undefined) return undefined;
  const kv = parseKeyValues(text);
  // v1 with the killer disabled never kills: count entering the OOM state instead.
  return v2 ? (kv.oom_kill ?? 0) : (kv.oom_kill ?? 0) + (kv.under_oom ?? 0);
}

/** Calls onOom each time the cgroup's OOM counter grows; returns a function that stops watching. */
export function watchOomFile(file: string, v2: boolean, onOom: () => void): () => void {
  let last = oomCount(tryRead(file), v2) ?? 0;
  let stopped = false;
  let watcher: fs.FSWatcher | undefined;
  const check = () => {
    if (stopped) return;
    const n = oomCount(tryRead(file), v2);
    if (n === undefined) {
      stop(); // the cgroup is gone
      return;
    }
    if (n > last) {
      last = n;
      onOom();
    } else if (n < last) {
      last = n; // v1 under_oom went back to 0
    }
  };
  const timer = setInterval(check, OOM_POLL_MS);
  if (v2) {
    try {
      watcher = fs.watch(file, check);
      watcher.on("error", () => {});
    } catch {
      // polling alone is enough
    }
  }
  const stop = () => {
    stopped = true;
    clearInterval(timer);
    watcher?.close();
  };
  return stop;
}
