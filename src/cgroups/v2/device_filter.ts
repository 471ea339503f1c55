// Compiles device rules to an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, the v2
// replacement for the devices controller. Pure: the program is data; attaching it is
// native/cgroup_devices.c's job.
//
// The kernel calls the program with struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
// u32 minor; } where access_type = (access << 16) | type; it returns 1 to allow, 0 to deny.
// Rules are checked last to first and the first match decides, so a later rule wins as in v1.
// An allow rule matches when it grants every requested access bit; a deny rule matches when it
// covers any of them (the v1 kernel's semantics for exceptions).
import { reduceRules, type DeviceRule } from "../devices.ts";

export interface BpfInsn {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Opcodes (include/uapi/linux/bpf_common.h, bpf.h).
export const BPF = {
  LDXW: 0x61, // BPF_LDX | BPF_MEM | BPF_W
  AND32_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32_K: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32_X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X
  MOV64_K: 0xb7, // BPF_ALU64 | BPF_MOV | BPF_K
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

export const DEV_TYPE = { b: 1, c: 2 } as const; // BPF_DEVCG_DEV_BLOCK / _CHAR
export const DEV_ACC = { m: 1, r: 2, w: 4 } as const; // BPF_DEVCG_ACC_MKNOD / _READ / _WRITE

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;
const insn = (op: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ op, dst, src, off, imm });

function accessMask(access: string): number {
  let m = 0;
  for (const c of access) m |= DEV_ACC[c as keyof typeof DEV_ACC] ?? 0;
  return m;
}

/** One rule's block; jumps with off = -1 mean "to the end of this block", fixed up below. */
function ruleBlock(r: DeviceRule): BpfInsn[] {
  const out: BpfInsn[] = [];
  if (r.type !== "a") out.push(insn(BPF.JNE_K, R2, 0, -1, DEV_TYPE[r.type]));
  const acc = accessMask(r.access);
  if (acc !== 7) {
    out.push(insn(BPF.MOV32_X, R1, R3, 0, 0));
    if (r.allow) {
      // skip unless every requested bit is granted: (access & ~acc) must be 0
      out.push(insn(BPF.AND32_K, R1, 0, 0, ~acc & 7), insn(BPF.JNE_K, R1, 0, -1, 0));
    } else {
      // skip unless some requested bit is denied: (access & acc) must be non-zero
      out.push(insn(BPF.AND32_K, R1, 0, 0, acc), insn(BPF.JEQ_K, R1, 0, -1, 0));
    }
  }
  if (r.major >= 0) out.push(insn(BPF.JNE_K, R4, 0, -1, r.major));
  if (r.minor >= 0) out.push(insn(BPF.JNE_K, R5, 0, -1, r.minor));
  out.push(insn(BPF.MOV64_K, R0, 0, 0, r.allow ? 1 : 0), insn(BPF.EXIT, 0, 0, 0, 0));
  return out.map((x, i) => (x.off === -1 ? { ...x, off: out.length - 1 - i } : x));
}

/** Compiles rules (in spec order, later wins) into the program's instructions. */
export function compileDeviceFilter(rules: DeviceRule[]): BpfInsn[] {
  const { defaultAllow, rules: rest } = reduceRules(rules);
  const prog: BpfInsn[] = [
    insn(BPF.LDXW, R2, R1, 0, 0), // r2 = access_type
    insn(BPF.AND32_K, R2, 0, 0, 0xffff), // r2 = device type
    insn(BPF.LDXW, R3, R1, 0, 0),
    insn(BPF.RSH32_K, R3, 0, 0, 16), // r3 = requested access bits
    insn(BPF.LDXW, R4, R1, 4, 0), // r4 = major
    insn(BPF.LDXW, R5, R1, 8, 0), // r5 = minor
  ];
  for (let i = rest.length - 1; i >= 0; i--) prog.push(...ruleBlock(rest[i] as DeviceRule));
  prog.push(insn(BPF.MOV64_K, R0, 0, 0, defaultAllow ? 1 : 0), insn(BPF.EXIT, 0, 0, 0, 0));
  return prog;
}

/** The program as the kernel takes it: 8 bytes per instruction, little endian. */
export function encodeProgram(prog: BpfInsn[]): Uint8Array {
  const buf = new Uint8Array(prog.length * 8);
  const view = new DataView(buf.buffer);
  prog.forEach((x, i) => {
    view.setUint8(i * 8, x.op);
    view.setUint8(i * 8 + 1, ((x.src & 0xf) << 4) | (x.dst & 0xf));
    view.setInt16(i * 8 + 2, x.off, true);
    view.setInt32(i * 8 + 4, x.imm | 0, true);
  });
  return buf;
}

/** Human-readable listing, one instruction per line (for golden tests and debugging). */
export function disassemble(prog: BpfInsn[]): string[] {
  return prog.map((x) => {
    const off = x.off >= 0 ? `+${x.off}` : String(x.off);
    switch (x.op) {
      case BPF.LDXW: return `ldxw r${x.dst}, [r${x.src}+${x.off}]`;
      case BPF.AND32_K: return `and32 r${x.dst}, 0x${(x.imm >>> 0).toString(16)}`;
      case BPF.RSH32_K: return `rsh32 r${x.dst}, ${x.imm}`;
      case BPF.MOV32_X: return `mov32 r${x.dst}, r${x.src}`;
      case BPF.MOV64_K: return `mov r${x.dst}, ${x.imm}`;
      case BPF.JEQ_K: return `jeq r${x.dst}, ${x.imm}, ${off}`;
      case BPF.JNE_K: return `jne r${x.dst}, ${x.imm}, ${off}`;
      case BPF.EXIT: return "exit";
      default: return `.op 0x${x.op.toString(16)}`;
    }
  });
}

/** Runs the program on one request, as the kernel would (only the opcodes the compiler emits). */
export function runDeviceFilter(prog: BpfInsn[], req: { type: "b" | "c"; access: string; major: number; minor: number }): boolean {
  const ctx = [(accessMask(req.access) << 16) | DEV_TYPE[req.type], req.major, req.minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0; pc < prog.length; pc++) {
    const x = prog[pc] as BpfInsn;
    switch (x.op) {
      case BPF.LDXW: r[x.dst] = (ctx[x.off / 4] ?? 0) >>> 0; break;
      case BPF.AND32_K: r[x.dst] = ((r[x.dst] ?? 0) & x.imm) >>> 0; break;
      case BPF.RSH32_K: r[x.dst] = (r[x.dst] ?? 0) >>> x.imm; break;
      case BPF.MOV32_X: r[x.dst] = (r[x.src] ?? 0) >>> 0; break;
      case BPF.MOV64_K: r[x.dst] = x.imm; break;
      case BPF.JEQ_K: if (r[x.dst] === x.imm >>> 0) pc += x.off; break;
      case BPF.JNE_K: if (r[x.dst] !== x.imm >>> 0) pc += x.off; break;
      case BPF.EXIT: return r[R0] === 1;
      default: throw new Error(`unknown opcode 0x${x.op.toString(16)} at ${pc}`);
    }
  }
  throw new Error("program fell off its end");
}
