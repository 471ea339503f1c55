import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTable, headerPath, parseSyscallHeader, renderSyscallTable, TABLE_SPECS, withSupplement } from "./syscall_header.ts";
import { SYSCALL_SUPPLEMENT } from "./syscall_supplement.ts";
import { SYSCALLS_ARM } from "./syscalls_arm.ts";
import { ensureLibseccomp, libseccompNumbers } from "./testdata/oracle.ts";
import { SYSCALLS_AARCH64 } from "./syscalls_aarch64.ts";
import { SYSCALLS_X32 } from "./syscalls_x32.ts";
import { SYSCALLS_X86 } from "./syscalls_x86.ts";
import { SYSCALLS_X86_64 } from "./syscalls_x86_64.ts";

test("the preprocessor follows #if/#ifdef/#else, defined() and macro arithmetic", () => {
  const text = `
#define __NR_a 1
#ifdef WANT_B
#define __NR_b 2
#else
#define __NR_notb 3
#endif
#if defined(X) || __BITS != 32
#define __NR_c (BASE + 4)
#elif 1
#define __NR_never 9
#endif
#if 0
#define __NR_off 5
#endif
#define __NR_alias __NR3264_x
#define __NR3264_x 77
#undef __NR_a
#define __NR_syscalls 99
`;
  const t = parseSyscallHeader(text, { WANT_B: 1, __BITS: 64, BASE: 0x40000000 });
  expect(Object.fromEntries(t)).toEqual({ b: 2, c: 0x40000004, alias: 77 });
  expect(() => parseSyscallHeader("#if 1\n", {})).toThrow(/unterminated/);
});

test("tables hold the numbers the kernel uses", () => {
  expect(SYSCALLS_X86_64.read).toBe(0);
  expect(SYSCALLS_X86_64.getppid).toBe(110);
  expect(SYSCALLS_X86_64.personality).toBe(135);
  expect(SYSCALLS_X86.getppid).toBe(64);
  expect(SYSCALLS_X86.socketcall).toBe(102);
  expect(SYSCALLS_X32.read).toBe(0x40000000);
  expect(SYSCALLS_X32.execve).toBe(0x40000000 + 520);
  expect(SYSCALLS_AARCH64.openat).toBe(56);
  expect(SYSCALLS_AARCH64.open).toBeUndefined();
  expect(SYSCALLS_AARCH64.fstat).toBe(80);
  expect(SYSCALLS_AARCH64.clone3).toBe(435);
  expect(SYSCALLS_ARM.getppid).toBe(64);
  expect(SYSCALLS_ARM.openat).toBe(322);
  expect(SYSCALLS_ARM.sync_file_range2).toBe(SYSCALLS_ARM.arm_sync_file_range as number);
  expect(SYSCALLS_ARM.cacheflush).toBe(0xf0002);
  expect(SYSCALLS_ARM.set_tls).toBe(0xf0005);
  expect(SYSCALLS_ARM.SYSCALL_BASE).toBeUndefined();
  expect(SYSCALLS_ARM.BASE).toBeUndefined();
});

// An independent source for every table: Debian's libseccomp knows most names (not those
// newer than it) and must agree on each number it knows.
const noLibseccomp = ensureLibseccomp();
test.skipIf(!!noLibseccomp)("every table agrees with libseccomp on each name libseccomp knows", () => {
  const dir = mkdtempSync(join(tmpdir(), "isola-seccomp-tables-"));
  try {
    const tables: Array<[string, Readonly<Record<string, number>>]> = [
      ["SCMP_ARCH_X86_64", SYSCALLS_X86_64], ["SCMP_ARCH_X86", SYSCALLS_X86], ["SCMP_ARCH_X32", SYSCALLS_X32],
      ["SCMP_ARCH_AARCH64", SYSCALLS_AARCH64], ["SCMP_ARCH_ARM", SYSCALLS_ARM],
    ];
    for (const [arch, table] of tables) {
      const names = Object.keys(table);
      const theirs = libseccompNumbers(dir, arch, names);
      const known = names.filter((_, i) => (theirs[i] as number) >= 0);
      expect(known.length).toBeGreaterThan(names.length * 0.9);
      expect(known.filter((n) => theirs[names.indexOf(n)] !== table[n]).map((n) => `${arch} ${n}: ours ${table[n]}, libseccomp ${theirs[names.indexOf(n)]}`)).toEqual([]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
if (noLibseccomp) console.log(`skipped the libseccomp comparison: ${noLibseccomp}`);

test("calls newer than the headers come from the supplement, with each ABI's numbering", () => {
  expect(SYSCALLS_X86_64.cachestat).toBe(451);
  expect(SYSCALLS_X86_64.open_tree_attr).toBe(467);
  expect(SYSCALLS_X86_64.file_setattr).toBe(469);
  expect(SYSCALLS_X86_64.uretprobe).toBe(335);
  expect(SYSCALLS_X86.mseal).toBe(462);
  expect(SYSCALLS_X86.uretprobe).toBeUndefined(); // x86's 335 is rt_tgsigqueueinfo
  expect(SYSCALLS_X32.map_shadow_stack).toBe(0x40000000 + 453);
  expect(SYSCALLS_X32.futex_wake).toBe(0x40000000 + 454);
  expect(SYSCALLS_AARCH64.futex_wake).toBe(454);
  expect(SYSCALLS_AARCH64.uretprobe).toBeUndefined();
  for (const s of SYSCALL_SUPPLEMENT) for (const t of [SYSCALLS_X86_64, SYSCALLS_X86, SYSCALLS_AARCH64]) if (t[s.name] !== undefined) expect(t[s.name]).toBe(s.nr);
});

test("the supplement must agree with a header that already has the call", () => {
  const spec = TABLE_SPECS[0]!;
  const header = new Map([["read", 0], ["cachestat", 451]]);
  expect(withSupplement(spec, header).get("fchmodat2")).toBe(452);
  expect(() => withSupplement(spec, new Map([["cachestat", 999]]))).toThrow(/numbers cachestat 999, the supplement 451/);
  expect(() => withSupplement(spec, new Map([["other_call", 452]]))).toThrow(/gives 452 to other_call, the supplement to fchmodat2/);
});

const read = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
for (const spec of TABLE_SPECS) {
  const present = existsSync(headerPath(spec));
  test.skipIf(!present)(`committed ${spec.file} matches ${headerPath(spec)} (run scripts/gen-syscalls.ts)`, () => {
    const committed = readFileSync(new URL(`./${spec.file}`, import.meta.url), "utf8");
    expect(committed).toBe(renderSyscallTable(spec, buildTable(spec, read)));
  });
  if (!present) console.log(`skipped header comparison for ${spec.file}: ${headerPath(spec)} is not installed (scripts/apt-packages.txt)`);
}
