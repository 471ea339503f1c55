import { describe, expect, test } from "bun:test";
import { effectiveDeviceRules } from "../devices.ts";
import { compileDeviceFilter, disassemble, encodeProgram, runDeviceFilter } from "./device_filter.ts";

const PROLOGUE = ["ldxw r2, [r1+0]", "and32 r2, 0xffff", "ldxw r3, [r1+0]", "rsh32 r3, 16", "ldxw r4, [r1+4]", "ldxw r5, [r1+8]"];

describe("compileDeviceFilter golden programs", () => {
  test("no rules: allow everything (a fresh cgroup's default)", () => {
    expect(disassemble(compileDeviceFilter([]))).toEqual([...PROLOGUE, "mov r0, 1", "exit"]);
  });

  test("deny all, then allow c 1:3 rw and b *:* m", () => {
    const prog = compileDeviceFilter(
      effectiveDeviceRules(
        [
          { allow: false, access: "rwm" },
          { allow: true, type: "c", major: 1, minor: 3, access: "rw" },
          { allow: true, type: "b", access: "m" },
        ],
        false,
      ),
    );
    expect(disassemble(prog)).toEqual([
      ...PROLOGUE,
      // last rule first: b *:* m
      "jne r2, 1, +5",
      "mov32 r1, r3",
      "and32 r1, 0x6",
      "jne r1, 0, +2",
      "mov r0, 1",
      "exit",
      // c 1:3 rw
      "jne r2, 2, +7",
      "mov32 r1, r3",
      "and32 r1, 0x1",
      "jne r1, 0, +4",
      "jne r4, 1, +3",
      "jne r5, 3, +2",
      "mov r0, 1",
      "exit",
      // default: deny
      "mov r0, 0",
      "exit",
    ]);
    const bytes = encodeProgram(prog);
    expect(bytes.length).toBe(prog.length * 8);
    // "jne r2, 1, +5": op 0x55, dst 2, off 5, imm 1
    expect([...bytes.slice(6 * 8, 7 * 8)]).toEqual([0x55, 0x02, 5, 0, 1, 0, 0, 0]);
    // "ldxw r4, [r1+4]": op 0x61, src 1 / dst 4, off 4
    expect([...bytes.slice(4 * 8, 5 * 8)]).toEqual([0x61, 0x14, 4, 0, 0, 0, 0, 0]);
  });

  test("deny rule matches any overlapping access", () => {
    const prog = compileDeviceFilter(effectiveDeviceRules([{ allow: false, type: "c", major: 1, minor: 3, access: "w" }], false));
    expect(disassemble(prog).slice(6)).toEqual(["jne r2, 2, +7", "mov32 r1, r3", "and32 r1, 0x4", "jeq r1, 0, +4", "jne r4, 1, +3", "jne r5, 3, +2", "mov r0, 0", "exit", "mov r0, 1", "exit"]);
  });
});

describe("semantics (run by the interpreter)", () => {
  const prog = compileDeviceFilter(
    effectiveDeviceRules([
      { allow: false, access: "rwm" },
      { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
      { allow: false, type: "c", major: 1, minor: 3, access: "w" },
    ]),
  );
  const can = (type: "b" | "c", major: number, minor: number, access: string) => runDeviceFilter(prog, { type, major, minor, access });
  test("runc's defaults are allowed, the rest is denied", () => {
    expect(can("c", 1, 5, "rw")).toBe(true); // /dev/zero
    expect(can("c", 136, 7, "rw")).toBe(true); // a pty
    expect(can("c", 4, 1, "m")).toBe(true); // mknod of anything
    expect(can("c", 4, 1, "r")).toBe(false); // but not opening it
    expect(can("b", 254, 0, "r")).toBe(false);
    expect(can("c", 10, 200, "rw")).toBe(true); // listed tun
  });
  test("later rules win: defaults come after the spec's deny of /dev/null writes, as in runc", () => {
    expect(can("c", 1, 3, "rw")).toBe(true);
    const only = compileDeviceFilter(effectiveDeviceRules([{ allow: true }, { allow: false, type: "c", major: 1, minor: 3, access: "w" }], false));
    expect(runDeviceFilter(only, { type: "c", major: 1, minor: 3, access: "r" })).toBe(true);
    expect(runDeviceFilter(only, { type: "c", major: 1, minor: 3, access: "rw" })).toBe(false);
    expect(runDeviceFilter(only, { type: "c", major: 1, minor: 5, access: "rw" })).toBe(true);
  });
  test("an allow needs every requested bit", () => {
    const ro = compileDeviceFilter(effectiveDeviceRules([{ allow: false }, { allow: true, type: "c", major: 1, minor: 3, access: "r" }], false));
    expect(runDeviceFilter(ro, { type: "c", major: 1, minor: 3, access: "r" })).toBe(true);
    expect(runDeviceFilter(ro, { type: "c", major: 1, minor: 3, access: "rw" })).toBe(false);
  });
});
