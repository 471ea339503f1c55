// The kernel's seccomp flags, asked through seccomp(2) with a NULL program (nothing is installed).
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  FILTER_FLAG_LOG, FILTER_FLAG_NEW_LISTENER, FILTER_FLAG_SPEC_ALLOW, FILTER_FLAG_TSYNC, FILTER_FLAG_TSYNC_ESRCH,
  FILTER_FLAG_WAIT_KILLABLE_RECV,
} from "../seccomp/bpf.ts";
import { kernelSeccompFlags, seccompFlagsAccepted } from "./seccomp_probe.ts";

const [major = 0, minor = 0] = spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout.split(".").map((p) => Number.parseInt(p, 10));
const atLeast = (a: number, b: number) => major > a || (major === a && minor >= b);

test("a flag no kernel has is refused, one every supported kernel has is accepted", () => {
  expect(seccompFlagsAccepted(1 << 30)).toBe(false);
  expect(seccompFlagsAccepted(FILTER_FLAG_TSYNC)).toBe(true);
  expect(seccompFlagsAccepted(FILTER_FLAG_WAIT_KILLABLE_RECV)).toBe(false); // not without NEW_LISTENER
});

test("the probed mask is what the kernel accepts flag by flag, and has every flag this kernel's version brought", () => {
  const mask = kernelSeccompFlags();
  expect(mask).toBeDefined();
  for (const bit of [FILTER_FLAG_TSYNC, FILTER_FLAG_LOG, FILTER_FLAG_SPEC_ALLOW, FILTER_FLAG_NEW_LISTENER, FILTER_FLAG_TSYNC_ESRCH]) {
    expect(`${bit}: ${((mask as number) & bit) !== 0}`).toBe(`${bit}: ${seccompFlagsAccepted(bit)}`);
  }
  expect(((mask as number) & FILTER_FLAG_WAIT_KILLABLE_RECV) !== 0).toBe(seccompFlagsAccepted(FILTER_FLAG_WAIT_KILLABLE_RECV | FILTER_FLAG_NEW_LISTENER) as boolean);
  expect((mask as number) & ~0x3f).toBe(0);
  // LOG and SPEC_ALLOW came in 4.14 and 4.17, NEW_LISTENER in 5.0, TSYNC_ESRCH in 5.7, WAIT_KILLABLE_RECV in 5.19.
  const expected = [
    [4, 14, FILTER_FLAG_LOG], [4, 17, FILTER_FLAG_SPEC_ALLOW], [5, 0, FILTER_FLAG_NEW_LISTENER],
    [5, 7, FILTER_FLAG_TSYNC_ESRCH], [5, 19, FILTER_FLAG_WAIT_KILLABLE_RECV],
  ] as const;
  for (const [a, b, bit] of expected) if (atLeast(a, b)) expect(((mask as number) & bit) !== 0).toBe(true);
  expect(kernelSeccompFlags()).toBe(mask); // asked once, then remembered
});
