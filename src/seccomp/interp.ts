/**
 * A classic-BPF interpreter for seccomp programs, as the kernel runs them (scratch
 * memory, X register, ALU and all jumps). It counts executed instructions, which is
 * what the tests and the bench compare. Pure.
 */
import { decodeProgram, type Insn } from "./bpf.ts";

/** What the kernel hands a seccomp filter. */
export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  /** up to six 64-bit arguments; missing ones are 0 */
  args?: readonly bigint[];
}

/** Result of one run: the filter's return value and how many instructions ran. */
export interface BpfRun {
  ret: number;
  executed: number;
  /** with `trace`: seccomp_data offsets loaded and opcodes executed on this path */
  trace?: { offsets: Set<number>; codes: Set<number> };
}

/** Serialises seccomp_data into its 64-byte little-endian layout. */
export function seccompDataBytes(d: SeccompData): DataView {
  const view = new DataView(new ArrayBuffer(64));
  view.setUint32(0, d.nr >>> 0, true);
  view.setUint32(4, d.arch >>> 0, true);
  view.setBigUint64(8, BigInt.asUintN(64, d.instructionPointer ?? 0n), true);
  for (let i = 0; i < 6; i++) view.setBigUint64(16 + 8 * i, BigInt.asUintN(64, d.args?.[i] ?? 0n), true);
  return view;
}

/** Runs a program on one syscall; throws on anything the kernel's verifier would refuse at run time. */
export function runBpf(program: Uint8Array | readonly Insn[], data: SeccompData, opts: { trace?: boolean } = {}): BpfRun {
  const insns = program instanceof Uint8Array ? decodeProgram(program) : program;
  const trace = opts.trace ? { offsets: new Set<number>(), codes: new Set<number>() } : undefined;
  const done = (ret: number): BpfRun => (trace ? { ret, executed, trace } : { ret, executed });
  const mem = seccompDataBytes(data);
  const scratch = new Uint32Array(16);
  let a = 0, x = 0, pc = 0, executed = 0;
  const load = (off: number): number => {
    if (off < 0 || off + 4 > 64 || off % 4 !== 0) throw new Error(`pc ${pc}: load at offset ${off} outside seccomp_data`);
    trace?.offsets.add(off);
    return mem.getUint32(off, true);
  };
  for (;;) {
    const ins = insns[pc];
    if (!ins) throw new Error(`pc ${pc}: ran off the end of the program`);
    executed++;
    trace?.codes.add(ins.code);
    const cls = ins.code & 0x07;
    const src = ins.code & 0x08 ? x : ins.k >>> 0;
    let next = pc + 1;
    switch (cls) {
      case 0x00: // LD
        switch (ins.code & 0xe0) {
          case 0x20: a = load(ins.k); break; // ABS
          case 0x00: a = ins.k >>> 0; break; // IMM
          case 0x60: a = scratch[ins.k & 15] ?? 0; break; // MEM
          case 0x80: a = 64; break; // LEN
          default: throw new Error(`pc ${pc}: unsupported load ${ins.code.toString(16)}`);
        }
        break;
      case 0x01: // LDX
        switch (ins.code & 0xe0) {
          case 0x00: x = ins.k >>> 0; break;
          case 0x60: x = scratch[ins.k & 15] ?? 0; break;
          case 0x80: x = 64; break;
          default: throw new Error(`pc ${pc}: unsupported ldx ${ins.code.toString(16)}`);
        }
        break;
      case 0x02: scratch[ins.k & 15] = a; break; // ST
      case 0x03: scratch[ins.k & 15] = x; break; // STX
      case 0x04: { // ALU
        const op = ins.code & 0xf0;
        switch (op) {
          case 0x00: a = (a + src) >>> 0; break;
          case 0x10: a = (a - src) >>> 0; break;
          case 0x20: a = Math.imul(a, src) >>> 0; break;
          case 0x30: if (src === 0) return done(0); a = Math.floor(a / src) >>> 0; break;
          case 0x40: a = (a | src) >>> 0; break;
          case 0x50: a = (a & src) >>> 0; break;
          case 0x60: a = src >= 32 ? 0 : (a << src) >>> 0; break;
          case 0x70: a = src >= 32 ? 0 : a >>> src; break;
          case 0x80: a = -a >>> 0; break;
          case 0x90: if (src === 0) return done(0); a = (a % src) >>> 0; break;
          case 0xa0: a = (a ^ src) >>> 0; break;
          default: throw new Error(`pc ${pc}: unsupported alu ${ins.code.toString(16)}`);
        }
        break;
      }
      case 0x05: { // JMP
        const op = ins.code & 0xf0;
        if (op === 0x00) next = pc + 1 + (ins.k >>> 0);
        else {
          let cond: boolean;
          switch (op) {
            case 0x10: cond = a === src; break;
            case 0x20: cond = a > src; break;
            case 0x30: cond = a >= src; break;
            case 0x40: cond = (a & src) !== 0; break;
            default: throw new Error(`pc ${pc}: unsupported jump ${ins.code.toString(16)}`);
          }
          next = pc + 1 + (cond ? ins.jt : ins.jf);
        }
        break;
      }
      case 0x06: // RET
        return done((ins.code & 0x18) === 0x10 ? a : ins.k >>> 0);
      case 0x07: // MISC
        if (ins.code & 0x80) a = x; else x = a;
        break;
    }
    pc = next;
  }
}
