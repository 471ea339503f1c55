/**
 * Classic BPF as seccomp uses it: the instruction encoding, the opcodes we emit, the
 * seccomp_data layout and SECCOMP_RET_* values. Pure.
 */

/** One `struct sock_filter`. */
export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// Opcode pieces (linux/bpf_common.h).
export const BPF_LD = 0x00, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_RET = 0x06;
export const BPF_W = 0x00, BPF_ABS = 0x20, BPF_K = 0x00;
export const BPF_AND = 0x50;
export const BPF_JA = 0x00, BPF_JEQ = 0x10, BPF_JGT = 0x20, BPF_JGE = 0x30, BPF_JSET = 0x40;

export const OP_LD_ABS = BPF_LD | BPF_W | BPF_ABS;
export const OP_AND_K = BPF_ALU | BPF_AND | BPF_K;
export const OP_JA = BPF_JMP | BPF_JA;
export const OP_JEQ = BPF_JMP | BPF_JEQ | BPF_K;
export const OP_JGT = BPF_JMP | BPF_JGT | BPF_K;
export const OP_JGE = BPF_JMP | BPF_JGE | BPF_K;
export const OP_JSET = BPF_JMP | BPF_JSET | BPF_K;
export const OP_RET_K = BPF_RET | BPF_K;

/** The kernel refuses longer programs (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

// struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
export const OFF_NR = 0;
export const OFF_ARCH = 4;
/** Offset of the low 32 bits of argument i (all supported arches are little-endian). */
export const offArgLo = (i: number): number => 16 + 8 * i;
/** Offset of the high 32 bits of argument i. */
export const offArgHi = (i: number): number => 16 + 8 * i + 4;

// SECCOMP_RET_* (linux/seccomp.h)
export const RET_KILL_PROCESS = 0x80000000;
export const RET_KILL_THREAD = 0x00000000;
export const RET_TRAP = 0x00030000;
export const RET_ERRNO = 0x00050000;
export const RET_USER_NOTIF = 0x7fc00000;
export const RET_TRACE = 0x7ff00000;
export const RET_LOG = 0x7ffc0000;
export const RET_ALLOW = 0x7fff0000;
export const RET_ACTION_FULL = 0xffff0000;
export const RET_DATA = 0x0000ffff;

// SECCOMP_FILTER_FLAG_* (linux/seccomp.h)
export const FILTER_FLAG_TSYNC = 1 << 0;
export const FILTER_FLAG_LOG = 1 << 1;
export const FILTER_FLAG_SPEC_ALLOW = 1 << 2;
export const FILTER_FLAG_NEW_LISTENER = 1 << 3;
export const FILTER_FLAG_TSYNC_ESRCH = 1 << 4;
export const FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5;

/**
 * Orders return values as the kernel does when several filters disagree: a smaller
 * signed action is more restrictive (KILL_PROCESS < KILL_THREAD < TRAP < ERRNO <
 * USER_NOTIF < TRACE < LOG < ALLOW).
 */
export function retPrecedence(ret: number): number {
  return (ret & RET_ACTION_FULL) | 0;
}

/** Encodes instructions as the little-endian `struct sock_filter[]` the kernel reads. */
export function encodeProgram(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const view = new DataView(out.buffer);
  insns.forEach((ins, i) => {
    view.setUint16(i * 8, ins.code, true);
    view.setUint8(i * 8 + 2, ins.jt);
    view.setUint8(i * 8 + 3, ins.jf);
    view.setUint32(i * 8 + 4, ins.k >>> 0, true);
  });
  return out;
}

/** Decodes a `struct sock_filter[]` byte image. */
export function decodeProgram(bytes: Uint8Array): Insn[] {
  if (bytes.length % 8 !== 0) throw new Error(`BPF image of ${bytes.length} bytes is not a whole number of 8-byte instructions`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let o = 0; o < bytes.length; o += 8) {
    out.push({ code: view.getUint16(o, true), jt: view.getUint8(o + 2), jf: view.getUint8(o + 3), k: view.getUint32(o + 4, true) });
  }
  return out;
}

/** Renders one instruction for humans (used in docs, tests and debugging). */
export function disassemble(insns: readonly Insn[]): string {
  const hex = (v: number) => "0x" + (v >>> 0).toString(16);
  return insns
    .map((ins, pc) => {
      const at = String(pc).padStart(4);
      const to = (off: number) => pc + 1 + off;
      switch (ins.code) {
        case OP_LD_ABS: return `${at}: ld [${ins.k}]`;
        case OP_AND_K: return `${at}: and ${hex(ins.k)}`;
        case OP_JA: return `${at}: ja ${to(ins.k)}`;
        case OP_JEQ: return `${at}: jeq ${hex(ins.k)} ${to(ins.jt)} ${to(ins.jf)}`;
        case OP_JGT: return `${at}: jgt ${hex(ins.k)} ${to(ins.jt)} ${to(ins.jf)}`;
        case OP_JGE: return `${at}: jge ${hex(ins.k)} ${to(ins.jt)} ${to(ins.jf)}`;
        case OP_JSET: return `${at}: jset ${hex(ins.k)} ${to(ins.jt)} ${to(ins.jf)}`;
        case OP_RET_K: return `${at}: ret ${hex(ins.k)}`;
        default: return `${at}: op ${hex(ins.code)} jt=${ins.jt} jf=${ins.jf} k=${hex(ins.k)}`;
      }
    })
    .join("\n");
}
