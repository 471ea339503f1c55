/**
 * Syscalls newer than the kernel headers the tables are generated from (Debian 12's
 * linux-libc-dev is 6.1), up to Linux 6.18. scripts/gen-syscalls.ts merges them into the
 * generated tables; a header that already defines one must agree on its number. Pure.
 *
 * Numbers come from the kernel's own tables: arch/x86/entry/syscalls/syscall_64.tbl
 * ("common" entries serve x86_64 and x32, x32 adding bit 30), syscall_32.tbl (x86),
 * scripts/syscall.tbl (asm-generic: aarch64) and arch/arm/tools/syscall.tbl (ARM EABI).
 * Since 424 a new call has the same number on every arch that has it. map_shadow_stack
 * (453) is in all four tables (x86_64's entry is "common", so x32 has it too; the number
 * was reserved for every arch). uretprobe and uprobe are x86_64's own ("common": x32 too).
 */

/** One call: its number (before an ABI's offset) and the tables it belongs in (SCMP_ARCH_*). */
export interface SupplementedSyscall {
  name: string;
  nr: number;
  arches: readonly string[];
}

const X86_64_ONLY = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"];
const EVERY_ARCH = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];

const shared = (nr: number, name: string): SupplementedSyscall => ({ name, nr, arches: EVERY_ARCH });

export const SYSCALL_SUPPLEMENT: readonly SupplementedSyscall[] = [
  { name: "uretprobe", nr: 335, arches: X86_64_ONLY },
  { name: "uprobe", nr: 336, arches: X86_64_ONLY },
  shared(451, "cachestat"),
  shared(452, "fchmodat2"),
  shared(453, "map_shadow_stack"),
  shared(454, "futex_wake"),
  shared(455, "futex_wait"),
  shared(456, "futex_requeue"),
  shared(457, "statmount"),
  shared(458, "listmount"),
  shared(459, "lsm_get_self_attr"),
  shared(460, "lsm_set_self_attr"),
  shared(461, "lsm_list_modules"),
  shared(462, "mseal"),
  shared(463, "setxattrat"),
  shared(464, "getxattrat"),
  shared(465, "listxattrat"),
  shared(466, "removexattrat"),
  shared(467, "open_tree_attr"),
  shared(468, "file_getattr"),
  shared(469, "file_setattr"),
];

/** The kernel release the supplement is complete for. */
export const SUPPLEMENT_KERNEL = "6.18";
