/**
 * The architectures isola can filter: audit token, word size as libseccomp treats it
 * (32-bit ABIs compare only the low word of an argument), and the generated syscall
 * table. Pure.
 */
import { SYSCALLS_AARCH64 } from "./syscalls_aarch64.ts";
import { SYSCALLS_ARM } from "./syscalls_arm.ts";
import { SYSCALLS_X32 } from "./syscalls_x32.ts";
import { SYSCALLS_X86 } from "./syscalls_x86.ts";
import { SYSCALLS_X86_64 } from "./syscalls_x86_64.ts";

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
export const AUDIT_ARCH_ARM = 0x40000028;
/** x32 syscalls arrive with AUDIT_ARCH_X86_64 and this bit set in nr. */
export const X32_SYSCALL_BIT = 0x40000000;

export interface ArchInfo {
  name: string;
  audit: number;
  /** 32: libseccomp compares only the low 32 bits of arguments */
  bits: 32 | 64;
  syscalls: Readonly<Record<string, number>>;
  /** numbers this ABI owns under its audit token: [lo, hi) */
  nrRange: readonly [number, number];
}

export const ARCHES: Readonly<Record<string, ArchInfo>> = {
  SCMP_ARCH_X86_64: { name: "SCMP_ARCH_X86_64", audit: AUDIT_ARCH_X86_64, bits: 64, syscalls: SYSCALLS_X86_64, nrRange: [0, X32_SYSCALL_BIT] },
  SCMP_ARCH_X32: { name: "SCMP_ARCH_X32", audit: AUDIT_ARCH_X86_64, bits: 32, syscalls: SYSCALLS_X32, nrRange: [X32_SYSCALL_BIT, 2 ** 32] },
  SCMP_ARCH_X86: { name: "SCMP_ARCH_X86", audit: AUDIT_ARCH_I386, bits: 32, syscalls: SYSCALLS_X86, nrRange: [0, 2 ** 32] },
  SCMP_ARCH_AARCH64: { name: "SCMP_ARCH_AARCH64", audit: AUDIT_ARCH_AARCH64, bits: 64, syscalls: SYSCALLS_AARCH64, nrRange: [0, 2 ** 32] },
  SCMP_ARCH_ARM: { name: "SCMP_ARCH_ARM", audit: AUDIT_ARCH_ARM, bits: 32, syscalls: SYSCALLS_ARM, nrRange: [0, 2 ** 32] },
};

/** Every architecture name the OCI runtime spec lists (accepted in profiles). */
export const OCI_ARCHES: readonly string[] = [
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
];

/**
 * ABIs a process on a host of the given native arch can use. An arch outside the
 * family can never reach the filter there, so listing it in a profile changes nothing
 * and is ignored; an arch inside the family without a table is an error.
 */
export const ARCH_FAMILY: Readonly<Record<string, readonly string[]>> = {
  SCMP_ARCH_X86_64: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  SCMP_ARCH_X32: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  SCMP_ARCH_X86: ["SCMP_ARCH_X86"],
  SCMP_ARCH_AARCH64: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
  SCMP_ARCH_ARM: ["SCMP_ARCH_ARM"],
};

/** Maps Node/Go/uname spellings of the host arch to SCMP_ARCH_* names. */
export function nativeArchName(arch: string): string | undefined {
  const aliases: Record<string, string> = {
    x64: "SCMP_ARCH_X86_64", amd64: "SCMP_ARCH_X86_64", x86_64: "SCMP_ARCH_X86_64",
    ia32: "SCMP_ARCH_X86", x86: "SCMP_ARCH_X86", i386: "SCMP_ARCH_X86", i686: "SCMP_ARCH_X86", "386": "SCMP_ARCH_X86",
    arm64: "SCMP_ARCH_AARCH64", aarch64: "SCMP_ARCH_AARCH64", x32: "SCMP_ARCH_X32", arm: "SCMP_ARCH_ARM",
  };
  if (arch in ARCHES) return arch;
  return aliases[arch];
}

// socketcall(2) and ipc(2) multiplex these calls on x86 (linux/net.h, linux/ipc.h); the
// values are the first argument of the multiplexer.
export const X86_SOCKETCALL: Readonly<Record<string, number>> = {
  socket: 1, bind: 2, connect: 3, listen: 4, accept: 5, getsockname: 6, getpeername: 7, socketpair: 8,
  send: 9, recv: 10, sendto: 11, recvfrom: 12, shutdown: 13, setsockopt: 14, getsockopt: 15, sendmsg: 16,
  recvmsg: 17, accept4: 18, recvmmsg: 19, sendmmsg: 20,
};
export const X86_IPC: Readonly<Record<string, number>> = {
  semop: 1, semget: 2, semctl: 3, semtimedop: 4, msgsnd: 11, msgrcv: 12, msgget: 13, msgctl: 14,
  shmat: 21, shmdt: 22, shmget: 23, shmctl: 24,
};
