// Test helper: the verdict a profile gives one syscall, evaluated straight from the
// rules (no BPF), as docs/seccomp.md states the semantics, runc's ENOSYS stub included. The differential test holds
// our programs to it everywhere, and libseccomp's wherever libseccomp is not known to
// merge overlapping rules wrongly.
import { ARCH_FAMILY, ARCHES, type ArchInfo, X86_IPC, X86_SOCKETCALL } from "../arch.ts";
import { RET_ACTION_FULL, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_LOG, RET_TRACE, retPrecedence } from "../bpf.ts";
import { type ArgCond, parseProfile, type Profile } from "../profile.ts";

export interface ReferenceVerdict {
  ret: number;
  /** how many conditional rules apply to this syscall on this ABI */
  conditionalRules: number;
}

function holds(c: ArgCond, arg: bigint, bits: 32 | 64): boolean {
  const m = bits === 32 ? 0xffffffffn : (1n << 64n) - 1n;
  const a = arg & m, v = c.value & m;
  switch (c.op) {
    case "SCMP_CMP_NE": return a !== v;
    case "SCMP_CMP_LT": return a < v;
    case "SCMP_CMP_LE": return a <= v;
    case "SCMP_CMP_EQ": return a === v;
    case "SCMP_CMP_GE": return a >= v;
    case "SCMP_CMP_GT": return a > v;
    case "SCMP_CMP_MASKED_EQ": return (a & v) === (c.valueTwo & v);
  }
}

const parsed = new WeakMap<object, Profile>();

function parsedProfile(profile: object): Profile {
  let p = parsed.get(profile);
  if (!p) {
    const errors: string[] = [];
    p = parseProfile(profile, errors);
    if (!p) throw new Error(errors.join("\n"));
    parsed.set(profile, p);
  }
  return p;
}

function filteredArches(p: Profile, native: string): ArchInfo[] {
  const family = ARCH_FAMILY[native] ?? [native];
  return [native, ...p.architectures].filter((a, i, all) => family.includes(a) && all.indexOf(a) === i).map((a) => ARCHES[a]).filter((a): a is ArchInfo => !!a);
}

const ENOSYS = RET_ERRNO | 38;

/**
 * runc's ENOSYS stub (libcontainer/seccomp/patchbpf), which runs before libseccomp's
 * program: unless the default action is ALLOW, LOG, TRACE or ENOSYS, a number above the
 * highest one any rule names on its ABI (x32: the numbers with bit 30) gets ENOSYS.
 * Undefined where the stub lets the call through to the filter.
 */
export function runcEnosysStub(profile: object, d: { arch: number; nr: number }, native = "SCMP_ARCH_X86_64"): number | undefined {
  const p = parsedProfile(profile);
  const action = (p.defaultRet & RET_ACTION_FULL) >>> 0;
  if (action === RET_ALLOW || action === RET_LOG || action === RET_TRACE || p.defaultRet >>> 0 === ENOSYS) return undefined;
  const abi = filteredArches(p, native).find((a) => a.audit === d.arch >>> 0 && d.nr >>> 0 >= a.nrRange[0] && d.nr >>> 0 < a.nrRange[1]);
  if (!abi) return undefined;
  let last = 0;
  for (const r of p.rules) for (const n of r.names) last = Math.max(last, abi.syscalls[n] ?? 0);
  return last !== 0 && d.nr >>> 0 > last ? ENOSYS : undefined;
}

export function referenceVerdict(profile: object, d: { arch: number; nr: number; args: readonly bigint[] }, native = "SCMP_ARCH_X86_64"): ReferenceVerdict {
  const p = parsedProfile(profile);
  const stub = runcEnosysStub(profile, d, native);
  if (stub !== undefined) return { ret: stub, conditionalRules: 0 };
  const arches = filteredArches(p, native);
  let abi = arches.find((a) => a.audit === d.arch >>> 0 && d.nr >= a.nrRange[0] && d.nr < a.nrRange[1]);
  // nr -1 (a tracer skipping the call) gets x86_64's default even outside its range, as in libseccomp
  if (!abi && d.nr >>> 0 === 0xffffffff) abi = arches.find((a) => a.name === "SCMP_ARCH_X86_64" && a.audit === d.arch >>> 0);
  if (!abi) return { ret: RET_KILL_PROCESS, conditionalRules: 0 };
  const applicable: Array<{ ret: number; conds: readonly ArgCond[]; origin: number }> = [];
  for (const r of p.rules) {
    if (r.ret === p.defaultRet) continue;
    const sets = r.splitConds ? r.conds.map((c) => [c]) : [r.conds];
    for (const name of r.names) {
      if (abi.syscalls[name] === d.nr) for (const conds of sets) applicable.push({ ret: r.ret, conds, origin: r.origin });
      if (abi.name === "SCMP_ARCH_X86" && r.conds.length === 0) {
        const viaSocketcall = X86_SOCKETCALL[name] !== undefined && abi.syscalls.socketcall === d.nr;
        const viaIpc = X86_IPC[name] !== undefined && abi.syscalls.ipc === d.nr;
        const call = viaSocketcall ? X86_SOCKETCALL[name] : viaIpc ? X86_IPC[name] : undefined;
        if (call !== undefined) applicable.push({ ret: r.ret, conds: [{ index: 0, op: "SCMP_CMP_EQ", value: BigInt(call), valueTwo: 0n }], origin: r.origin });
      }
    }
  }
  const uncond = applicable.find((r) => r.conds.length === 0);
  const conditional = applicable.filter((r) => r.conds.length > 0);
  if (uncond) return { ret: uncond.ret, conditionalRules: conditional.length };
  const matching = conditional.filter((r) => r.conds.every((c) => holds(c, d.args[c.index] ?? 0n, abi.bits)));
  matching.sort((a, b) => retPrecedence(a.ret) - retPrecedence(b.ret) || a.origin - b.origin);
  return { ret: matching[0]?.ret ?? p.defaultRet, conditionalRules: conditional.length };
}
