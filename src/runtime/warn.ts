/** Where the runtime's warnings go: stderr, unless the CLI points them at its --log. */
import * as fs from "node:fs";

let sink: (msg: string) => void = (msg) => void fs.writeSync(2, `isola-runtime: warning: ${msg}\n`);

export function warn(msg: string): void {
  sink(msg);
}

export function setWarn(fn: (msg: string) => void): void {
  sink = fn;
}
