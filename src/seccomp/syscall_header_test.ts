import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { parseSyscallHeader, renderSyscallTable, TABLE_SPECS } from "./syscall_header.ts";
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
});

const include = "/usr/include";
const haveHeaders = TABLE_SPECS.every((s) => existsSync(`${include}/${s.header}`));
test.skipIf(!haveHeaders)("committed tables match the installed kernel headers (run scripts/gen-syscalls.ts)", () => {
  for (const spec of TABLE_SPECS) {
    const table = parseSyscallHeader(readFileSync(`${include}/${spec.header}`, "utf8"), spec.predefined);
    const committed = readFileSync(new URL(`./${spec.file}`, import.meta.url), "utf8");
    expect(committed).toBe(renderSyscallTable(spec, table));
  }
});
if (!haveHeaders) console.log("skipped header comparison: linux-libc-dev headers are not installed");
