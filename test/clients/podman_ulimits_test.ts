// podman's default_ulimits must stay within the limits podman starts with (no root needed).
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { defaultUlimits, hardLimit } from "./podman.ts";

const limits = (nproc: string, nofile: string) =>
  [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max cpu time              unlimited            unlimited            seconds   ",
    `Max processes             ${nproc.padEnd(20)} ${nproc.padEnd(20)} processes `,
    `Max open files            1024                 ${nofile.padEnd(20)} files     `,
    "Max locked memory         8388608              8388608              bytes     ",
    "",
  ].join("\n");

describe("podman default_ulimits", () => {
  test("nproc is at most the hard nproc limit, pid_max and 32768", () => {
    expect(defaultUlimits(limits("4096", "20000"), 4194304)).toEqual(["nofile=20000:20000", "nproc=4096:4096"]);
    expect(defaultUlimits(limits("96368", "20000"), 4194304)).toEqual(["nofile=20000:20000", "nproc=32768:32768"]);
    expect(defaultUlimits(limits("96368", "20000"), 10000)).toEqual(["nofile=20000:20000", "nproc=10000:10000"]);
    expect(defaultUlimits(limits("unlimited", "unlimited"), 4194304)).toEqual(["nofile=1048576:1048576", "nproc=32768:32768"]);
  });

  test("the hard limit is the second number, not the soft one", () => {
    const text = "Max processes             100                  5000                 processes \n";
    expect(hardLimit(text, "Max processes")).toBe(5000);
  });

  test("this process's own limits parse", () => {
    const own = fs.readFileSync("/proc/self/limits", "utf8");
    expect(hardLimit(own, "Max processes")).toBeGreaterThan(0);
    expect(hardLimit(own, "Max open files")).toBeGreaterThan(0);
  });

  test("bad input names what was expected", () => {
    expect(() => hardLimit("Max open files 1 2 files\n", "Max processes")).toThrow('no "Max processes" row');
    expect(() => hardLimit("Max processes 1 lots processes\n", "Max processes")).toThrow('"Max processes" hard limit is "lots", expected a number or unlimited');
    expect(() => defaultUlimits(limits("10", "10"), Number.NaN)).toThrow("pid_max is NaN, expected a positive integer");
  });
});
