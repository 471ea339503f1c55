/** Where the runtime's warnings (and, with --debug, its debug lines) go: stderr, unless the CLI points them at its --log. */
import * as fs from "node:fs";

let sink: (msg: string) => void = (msg) => void fs.writeSync(2, `isola-runtime: warning: ${msg}\n`);

export function warn(msg: string): void {
  sink(msg);
}

export function setWarn(fn: (msg: string) => void): void {
  sink = fn;
}

let debugSink: ((msg: string) => void) | undefined;

/** Whether --debug asked for debug lines (callers skip the work of making them otherwise). */
export function debugging(): boolean {
  return debugSink !== undefined;
}

export function debug(msg: string): void {
  debugSink?.(msg);
}

export function setDebug(fn: ((msg: string) => void) | undefined): void {
  debugSink = fn;
}

/** Phase timings for a --debug line: mark(name) after each phase, then line() says them all. */
export function phaseClock(): { mark(name: string): void; line(): string } {
  let last = performance.now();
  const parts: string[] = [];
  const first = last;
  return {
    mark(name) {
      const now = performance.now();
      parts.push(`${name} ${(now - last).toFixed(2)}`);
      last = now;
    },
    line: () => `${parts.join(", ")} (ms; ${(last - first).toFixed(2)} in all)`,
  };
}
