import { expect, test } from "bun:test";
import { decodeProgram, disassemble, encodeProgram, type Insn, OP_AND_K, OP_JA, OP_JEQ, OP_JGE, OP_JGT, OP_JSET, OP_LD_ABS, OP_RET_K } from "./bpf.ts";
import { runBpf } from "./interp.ts";

const I = (code: number, k: number, jt = 0, jf = 0): Insn => ({ code, k, jt, jf });

test("loads seccomp_data fields little-endian and counts executed instructions", () => {
  const prog = [I(OP_LD_ABS, 4), I(OP_JEQ, 0xc000003e, 0, 3), I(OP_LD_ABS, 0), I(OP_JEQ, 110, 0, 1), I(OP_RET_K, 0x7fff0000), I(OP_RET_K, 0x50001)];
  expect(runBpf(prog, { nr: 110, arch: 0xc000003e })).toEqual({ ret: 0x7fff0000, executed: 5 });
  expect(runBpf(prog, { nr: 111, arch: 0xc000003e })).toEqual({ ret: 0x50001, executed: 5 });
  expect(runBpf(prog, { nr: 110, arch: 0x40000003 })).toEqual({ ret: 0x50001, executed: 3 });
});

test("reads argument words: low word at 16+8i, high word at 20+8i", () => {
  const hi = [I(OP_LD_ABS, 28), I(OP_RET_K, 0)];
  const lo = [I(OP_LD_ABS, 24), I(OP_RET_K, 0)];
  // ret A
  hi[1] = { code: 0x16, jt: 0, jf: 0, k: 0 };
  lo[1] = { code: 0x16, jt: 0, jf: 0, k: 0 };
  const args = [0n, 0x1234567890abcdefn];
  expect(runBpf(hi, { nr: 0, arch: 0, args }).ret).toBe(0x12345678);
  expect(runBpf(lo, { nr: 0, arch: 0, args }).ret).toBe(0x90abcdef);
});

test("unsigned jumps, jset, and, ja", () => {
  const prog = [
    I(OP_LD_ABS, 16), I(OP_JGT, 0x80000000, 0, 1), I(OP_RET_K, 1), I(OP_JGE, 5, 0, 1), I(OP_RET_K, 2),
    I(OP_JSET, 0x4, 0, 1), I(OP_RET_K, 3), I(OP_AND_K, 0xf0), I(OP_JA, 1), I(OP_RET_K, 99), { code: 0x16, jt: 0, jf: 0, k: 0 },
  ];
  expect(runBpf(prog, { nr: 0, arch: 0, args: [0xffffffffn] }).ret).toBe(1);
  expect(runBpf(prog, { nr: 0, arch: 0, args: [5n] }).ret).toBe(2);
  expect(runBpf(prog, { nr: 0, arch: 0, args: [4n] }).ret).toBe(3);
  // 3: jset misses, `and 0xf0` clears it, ja skips the ret 99, ret A
  expect(runBpf(prog, { nr: 0, arch: 0, args: [3n] })).toEqual({ ret: 0, executed: 7 });
});

test("refuses loads outside seccomp_data and running off the end", () => {
  expect(() => runBpf([I(OP_LD_ABS, 64), I(OP_RET_K, 0)], { nr: 0, arch: 0 })).toThrow(/outside seccomp_data/);
  expect(() => runBpf([I(OP_LD_ABS, 0)], { nr: 0, arch: 0 })).toThrow(/ran off the end/);
});

test("trace records the offsets a path loads", () => {
  const prog = [I(OP_LD_ABS, 4), I(OP_LD_ABS, 0), I(OP_RET_K, 0)];
  const r = runBpf(prog, { nr: 0, arch: 0 }, { trace: true });
  expect([...(r.trace?.offsets ?? [])]).toEqual([4, 0]);
});

test("encode/decode round-trip the 8-byte struct sock_filter layout", () => {
  const prog = [I(OP_JEQ, 0xdeadbeef, 3, 7), I(OP_RET_K, 0x7fff0000)];
  const bytes = encodeProgram(prog);
  expect([...bytes.slice(0, 8)]).toEqual([0x15, 0x00, 3, 7, 0xef, 0xbe, 0xad, 0xde]);
  expect(decodeProgram(bytes)).toEqual(prog);
  expect(() => decodeProgram(new Uint8Array(7))).toThrow(/8-byte/);
  expect(disassemble(prog)).toContain("jeq 0xdeadbeef 4 8");
});
