/**
 * Writes to stdout/stderr with write(2) directly. Bun sets up process.stdout/stderr
 * lazily and that costs ≈10 ms on first use — more than the rest of a `state` call.
 */
import * as fs from "node:fs";

function writeAll(fd: number, text: string) {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Bun.sleepSync(1); // a non-blocking pipe that is full
    }
  }
}

export const writeOut = (text: string) => writeAll(1, text);
export const writeErr = (text: string) => writeAll(2, text);
