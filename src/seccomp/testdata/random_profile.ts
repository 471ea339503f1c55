// Test helper: seeded random OCI seccomp profiles for the differential test.
import { ARCHES, X86_IPC, X86_SOCKETCALL } from "../arch.ts";
import { SYSCALL_SUPPLEMENT } from "../syscall_supplement.ts";

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OPS = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
const ACTIONS: Array<[string, number?]> = [
  ["SCMP_ACT_ALLOW"], ["SCMP_ACT_ERRNO"], ["SCMP_ACT_ERRNO", 38], ["SCMP_ACT_ERRNO", 13], ["SCMP_ACT_KILL_PROCESS"],
  ["SCMP_ACT_KILL"], ["SCMP_ACT_TRAP"], ["SCMP_ACT_LOG"], ["SCMP_ACT_TRACE", 3],
];
// x86 multiplexes these through socketcall/ipc; we carry over only unconditional rules
// (docs/seccomp.md), so generated profiles leave them out.
const MUX = new Set([...Object.keys(X86_SOCKETCALL), ...Object.keys(X86_IPC), "socketcall", "ipc"]);
// Debian 12's libseccomp (2.5.4) does not know most of the calls the tables' supplement
// adds: it would drop them as unknown, so generated profiles leave them out.
const NEWER_THAN_LIBSECCOMP = new Set(SYSCALL_SUPPLEMENT.map((s) => s.name));

/** A random but valid profile: each name keeps one action, so no two rules conflict. */
export function randomProfile(rand: () => number): Record<string, unknown> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const names = [...new Set([...Object.keys(ARCHES.SCMP_ARCH_X86_64?.syscalls ?? {}), ...Object.keys(ARCHES.SCMP_ARCH_X86?.syscalls ?? {})])].filter((n) => !MUX.has(n) && !NEWER_THAN_LIBSECCOMP.has(n));
  const [defAction, defErrno] = pick(ACTIONS);
  const values = (): bigint => {
    const r = rand();
    if (r < 0.5) return BigInt(pick([0, 1, 2, 3, 5, 40, 0x7fffffff, 0x80000000, 0xffffffff]));
    if (r < 0.7) return BigInt(Math.floor(rand() * 2 ** 32));
    if (r < 0.85) return pick([0x100000000n, 0x100000001n, 0xffffffff00000000n, (1n << 64n) - 1n, 0x8000000000000000n]);
    return (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
  };
  const byAction = new Map<number, string[]>();
  const chosen = Array.from({ length: 20 + Math.floor(rand() * 40) }, () => pick(names));
  for (const n of new Set(chosen)) {
    const a = Math.floor(rand() * ACTIONS.length);
    let l = byAction.get(a);
    if (!l) byAction.set(a, (l = []));
    l.push(n);
  }
  const syscalls: unknown[] = [];
  const ruleCount = 30 + Math.floor(rand() * 50);
  const actionIds = [...byAction.keys()];
  for (let i = 0; i < ruleCount; i++) {
    const a = pick(actionIds);
    const pool = byAction.get(a) ?? [];
    const ruleNames = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(pool)))];
    const [action, errnoRet] = ACTIONS[a] as [string, number?];
    const rule: Record<string, unknown> = { names: ruleNames, action };
    if (errnoRet !== undefined) rule.errnoRet = errnoRet;
    if (rand() > 0.2) {
      const idx = [0, 1, 2, 3, 4, 5].sort(() => rand() - 0.5).slice(0, 1 + Math.floor(rand() * 3));
      rule.args = idx.map((index) => {
        const op = pick(OPS);
        return { index, op, value: values(), ...(op === "SCMP_CMP_MASKED_EQ" ? { valueTwo: rand() < 0.5 ? values() : 0n } : {}) };
      });
    }
    syscalls.push(rule);
  }
  const arches = ["SCMP_ARCH_X86_64", ...(rand() < 0.7 ? ["SCMP_ARCH_X86"] : []), ...(rand() < 0.5 ? ["SCMP_ARCH_X32"] : [])];
  return { defaultAction: defAction, ...(defErrno !== undefined ? { defaultErrnoRet: defErrno } : {}), architectures: arches, syscalls };
}

