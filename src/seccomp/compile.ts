/**
 * compileSeccomp: OCI `linux.seccomp` → classic BPF for seccomp(SECCOMP_SET_MODE_FILTER).
 * Semantics follow runc + libseccomp (see docs/seccomp.md for the few deliberate
 * differences). Pure.
 */
import { ARCH_FAMILY, ARCHES, type ArchInfo, nativeArchName, X86_IPC, X86_SOCKETCALL } from "./arch.ts";
import {
  encodeProgram, FILTER_FLAG_NEW_LISTENER, FILTER_FLAG_TSYNC, type Insn, RET_ACTION_FULL, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS,
  RET_LOG, RET_TRACE, RET_USER_NOTIF, retPrecedence,
} from "./bpf.ts";
import { type CondRule, generateProgram, type Leaf, leafKey, type Segment, type TokenSection, type WordCond } from "./codegen.ts";
import { type Profile, type ProfileRule, parseProfile, SeccompConfigError } from "./profile.ts";

export interface CompileOptions {
  /** the host's arch: SCMP_ARCH_* or x64/amd64/arm64/aarch64 (default SCMP_ARCH_X86_64) */
  nativeArch?: string;
  /** SECCOMP_FILTER_FLAG_* bits this kernel accepts; flags outside it are refused */
  kernelFlags?: number;
}

export interface CompiledSeccomp {
  /** SECCOMP_FILTER_FLAG_* bits to pass to seccomp(2) */
  flags: number;
  /** struct sock_filter[], little-endian, 8 bytes each */
  program: Uint8Array;
  /** present when a rule uses SCMP_ACT_NOTIFY: where the launcher sends the listener fd */
  notify?: { listenerPath: string; listenerMetadata: string };
  /** syscall names no table of the filtered arches knows (ignored, as runc does; worth a warning) */
  unknownNames: string[];
  /** the filtered ABIs, native first */
  architectures: string[];
}

/** Unknown architectures never reach the rules; kill the whole process, not one thread. */
export const BAD_ARCH_RET = RET_KILL_PROCESS;

/** What runc's stub answers for numbers above every syscall a profile names. */
export const ENOSYS_RET = RET_ERRNO | 38;

/**
 * runc (libcontainer/seccomp/patchbpf) answers ENOSYS, not the default action, for a
 * syscall number above the highest one the profile names on that ABI, so libc falls back
 * from a call newer than the profile (clone3, faccessat2, …) instead of failing with EPERM.
 * It does so unless the default action already lets calls through (ALLOW, LOG, TRACE) or
 * is ENOSYS itself.
 */
function wantsEnosysStub(defaultRet: number): boolean {
  const action = (defaultRet & RET_ACTION_FULL) >>> 0;
  return action !== RET_ALLOW && action !== RET_LOG && action !== RET_TRACE && defaultRet >>> 0 !== ENOSYS_RET;
}

const P = "linux.seccomp";

/** Compiles a profile; throws SeccompConfigError listing every problem. */
export function compileSeccomp(profile: unknown, opts: CompileOptions = {}): CompiledSeccomp {
  const errors: string[] = [];
  const out = compileInto(profile, opts, errors);
  if (!out || errors.length) throw new SeccompConfigError(errors);
  return out;
}

/** Every problem with a profile (empty when it compiles). */
export function validateSeccomp(profile: unknown, opts: CompileOptions = {}): string[] {
  const errors: string[] = [];
  compileInto(profile, opts, errors);
  return errors;
}

/** Compiles to instructions (tests and the bench look at them). */
export function compileToInsns(profile: unknown, opts: CompileOptions = {}): Insn[] {
  const errors: string[] = [];
  const plan = plan_(profile, opts, errors);
  if (!plan || errors.length) throw new SeccompConfigError(errors);
  return generateProgram(plan.sections, BAD_ARCH_RET);
}

interface Plan {
  profile: Profile;
  arches: ArchInfo[];
  sections: TokenSection[];
  unknownNames: string[];
  flags: number;
}

function compileInto(profile: unknown, opts: CompileOptions, errors: string[]): CompiledSeccomp | undefined {
  const plan = plan_(profile, opts, errors);
  if (!plan || errors.length) return undefined;
  let insns: Insn[];
  try {
    insns = generateProgram(plan.sections, BAD_ARCH_RET);
  } catch (e) {
    errors.push(`${P}.syscalls: ${(e as Error).message}`);
    return undefined;
  }
  const p = plan.profile;
  return {
    flags: plan.flags,
    program: encodeProgram(insns),
    ...(p.usesNotify && p.listenerPath !== undefined
      ? { notify: { listenerPath: p.listenerPath, listenerMetadata: p.listenerMetadata ?? "" } }
      : {}),
    unknownNames: plan.unknownNames,
    architectures: plan.arches.map((a) => a.name),
  };
}

function plan_(raw: unknown, opts: CompileOptions, errors: string[]): Plan | undefined {
  const profile = parseProfile(raw, errors);
  const native = nativeArchName(opts.nativeArch ?? "SCMP_ARCH_X86_64");
  if (!native) {
    errors.push(`options.nativeArch: ${JSON.stringify(opts.nativeArch)} is not an architecture isola has syscall tables for (expected one of ${Object.keys(ARCHES).join(", ")})`);
  }
  if (!profile || !native) return undefined;

  // Arches: the native one always (as libseccomp's filter starts with it), then those listed.
  const family = ARCH_FAMILY[native] ?? [native];
  const arches: ArchInfo[] = [ARCHES[native] as ArchInfo];
  profile.architectures.forEach((name, i) => {
    if (!family.includes(name)) return; // can never run on this host: nothing to filter
    const info = ARCHES[name];
    if (!info) errors.push(`${P}.architectures[${i}]: ${name} can run on this host but isola has no syscall table for it`);
    else if (!arches.includes(info)) arches.push(info);
  });

  let flags = 0;
  for (const f of profile.flags) {
    if (f.bit === FILTER_FLAG_TSYNC) continue; // the launcher is single-threaded when it installs the filter
    if (opts.kernelFlags !== undefined && (opts.kernelFlags & f.bit) === 0) {
      errors.push(`${f.field}: this kernel does not support ${f.name}`);
    }
    flags |= f.bit;
  }
  if (profile.usesNotify) {
    if (opts.kernelFlags !== undefined && (opts.kernelFlags & FILTER_FLAG_NEW_LISTENER) === 0) {
      const first = profile.rules.find((r) => (r.ret & RET_ACTION_FULL) >>> 0 === RET_USER_NOTIF);
      errors.push(`${P}.syscalls[${first?.origin ?? 0}].action: SCMP_ACT_NOTIFY needs SECCOMP_FILTER_FLAG_NEW_LISTENER, which this kernel does not support`);
    }
    flags |= FILTER_FLAG_NEW_LISTENER;
  }

  // Resolve names per ABI.
  const known = new Set<string>();
  const perArch = arches.map((arch) => ({ arch, ...resolveRules(profile, arch, known) }));
  const unknownNames = [...new Set(profile.rules.flatMap((r) => r.names))].filter((n) => !known.has(n)).sort();

  // Verdict per syscall number, per ABI.
  const stub = wantsEnosysStub(profile.defaultRet);
  const leaves = perArch.map(({ arch, byNr, lastNr }) => {
    const m = new Map<number, Leaf>();
    for (const [nr, rules] of byNr) {
      const leaf = verdict(arch, rules, profile.defaultRet, errors);
      if (leaf) m.set(nr, leaf);
    }
    // As runc: no stub on an ABI where the profile names nothing (or only number 0).
    return { arch, leaves: m, enosysFrom: stub && lastNr > 0 ? lastNr + 1 : undefined };
  });
  if (errors.length) return undefined;

  // One section per audit token, native token first.
  const tokens = [...new Set(arches.map((a) => a.audit))];
  const sections = tokens.map((audit): TokenSection => {
    const abis = leaves.filter((l) => l.arch.audit === audit);
    return { audit, segments: segments(abis, profile.defaultRet, arches[0] as ArchInfo) };
  });
  return { profile, arches, sections, unknownNames, flags };
}

interface ArchRule {
  ret: number;
  conds: WordCond[];
  origin: number;
  name: string;
}

function archConds(rule: ProfileRule, arch: ArchInfo): WordCond[] {
  const mask = arch.bits === 32 ? 0xffffffffn : (1n << 64n) - 1n;
  return rule.conds.map((c) => {
    const value = c.value & mask;
    const valueTwo = c.op === "SCMP_CMP_MASKED_EQ" ? c.valueTwo & c.value & mask : 0n;
    return { index: c.index, op: c.op, value, valueTwo };
  });
}

/**
 * The rules of one ABI by syscall number, and the highest number any rule names there
 * (runc's last syscall: rules with the default action count too; -1 when none).
 */
function resolveRules(profile: Profile, arch: ArchInfo, known: Set<string>): { byNr: Map<number, ArchRule[]>; lastNr: number } {
  const byNr = new Map<number, ArchRule[]>();
  let lastNr = -1;
  const add = (nr: number, r: ArchRule) => {
    let l = byNr.get(nr);
    if (!l) byNr.set(nr, (l = []));
    l.push(r);
    lastNr = Math.max(lastNr, nr);
  };
  const x86 = arch.name === "SCMP_ARCH_X86";
  for (const rule of profile.rules) {
    for (const n of rule.names) lastNr = Math.max(lastNr, arch.syscalls[n] ?? -1);
    // runc leaves out rules whose action is the default one (libseccomp refuses them).
    if (rule.ret === profile.defaultRet) {
      for (const n of rule.names) if (n in arch.syscalls || (x86 && (n in X86_SOCKETCALL || n in X86_IPC))) known.add(n);
      continue;
    }
    const all = archConds(rule, arch);
    const condSets = rule.splitConds ? all.map((c) => [c]) : [all];
    const conds = all;
    for (const name of rule.names) {
      const nr = arch.syscalls[name];
      if (nr !== undefined) {
        known.add(name);
        for (const cs of condSets) add(nr, { ret: rule.ret, conds: cs, origin: rule.origin, name });
      }
      // On x86 the socket and SysV IPC calls also go through socketcall(2)/ipc(2) with the
      // call number in the first argument; libseccomp adds that rule too. We add it only
      // for rules without argument checks: the multiplexed call's arguments sit in memory
      // the filter cannot read, so a conditional rule cannot be carried over faithfully.
      if (x86) {
        const sc = X86_SOCKETCALL[name], ipc = X86_IPC[name];
        const mux = sc !== undefined ? arch.syscalls.socketcall : ipc !== undefined ? arch.syscalls.ipc : undefined;
        const call = sc ?? ipc;
        if (mux !== undefined && call !== undefined) {
          known.add(name);
          if (conds.length === 0) {
            add(mux, { ret: rule.ret, conds: [{ index: 0, op: "SCMP_CMP_EQ", value: BigInt(call), valueTwo: 0n }], origin: rule.origin, name });
          }
        }
      }
    }
  }
  return { byNr, lastNr };
}

const condsKey = (conds: readonly WordCond[]): string => conds.map((c) => `${c.index}:${c.op}:${c.value}:${c.valueTwo}`).join(",");

/**
 * The verdict of one syscall on one ABI. An unconditional rule decides alone (as in
 * libseccomp); otherwise conditional rules are tried most restrictive action first, so
 * when several match, the strictest wins — the kernel's rule for stacked filters.
 */
function verdict(arch: ArchInfo, rules: ArchRule[], defaultRet: number, errors: string[]): Leaf | undefined {
  const uncond = rules.filter((r) => r.conds.length === 0);
  if (uncond.length) {
    // libseccomp 2.5 accepts a second unconditional rule with another action and keeps
    // the first (measured); podman's generated profiles rely on it (setns: allow, then
    // errno without CAP_SYS_ADMIN), so the first unconditional rule decides here too.
    const first = uncond.reduce((a, b) => (b.origin < a.origin ? b : a));
    return { kind: "ret", ret: first.ret };
  }
  const seen = new Map<string, ArchRule>();
  const ordered: CondRule[] = [];
  const sorted = [...rules].sort((a, b) => retPrecedence(a.ret) - retPrecedence(b.ret) || a.origin - b.origin);
  for (const r of sorted) {
    const key = condsKey(r.conds);
    const prev = seen.get(key);
    if (prev) {
      if (prev.ret !== r.ret) {
        const [a, b] = prev.origin < r.origin ? [prev, r] : [r, prev];
        errors.push(`${P}.syscalls[${b.origin}]: "${b.name}" has the same argument checks as syscalls[${a.origin}] but a different action on ${arch.name} (libseccomp refuses this too)`);
        return undefined;
      }
      continue;
    }
    seen.set(key, r);
    ordered.push({ ret: r.ret, conds: r.conds });
  }
  return { kind: "args", bits: arch.bits, rules: ordered, fallback: defaultRet };
}

/** Compat ABIs (x86 and x32 on an x86_64 host) are rare; their numbers sit deeper. */
const FOREIGN_ABI_WEIGHT = 0.05;

/**
 * How much a syscall's path length matters: allowed calls are what programs make all
 * day; denied ones mostly fail once; argument-checked ones pay for their checks after
 * the tree, so they get shorter tree paths.
 */
function syscallWeight(leaf: Leaf): number {
  if (leaf.kind === "args") return 16;
  return leaf.ret === RET_ALLOW ? 1 : 0.25;
}

/**
 * Splits [0, 2^32) into runs of equal verdict for one audit token. Numbers outside
 * every filtered ABI's range get the bad-arch verdict (x32 numbers when only x86_64 is
 * filtered, and the reverse), numbers an ABI does not define get the default action,
 * and numbers from `enosysFrom` to the end of the ABI's range get runc's ENOSYS. The
 * ENOSYS stub is thus one more run in the tree, read from `nr` alone: it costs no
 * instruction on any path and keeps the kernel's action cache.
 */
function segments(abis: ReadonlyArray<{ arch: ArchInfo; leaves: Map<number, Leaf>; enosysFrom: number | undefined }>, defaultRet: number, native: ArchInfo): Segment[] {
  type Point = { lo: number; hi: number; leaf: Leaf; weight: number };
  const pts: Point[] = [];
  const bad: Leaf = { kind: "ret", ret: BAD_ARCH_RET };
  const dflt: Leaf = { kind: "ret", ret: defaultRet };
  const enosys: Leaf = { kind: "ret", ret: ENOSYS_RET };
  const ranges = abis.map((a) => a.arch.nrRange).sort((x, y) => x[0] - y[0]);
  let cursor = 0;
  for (const [lo, hi] of ranges) {
    if (lo > cursor) pts.push({ lo: cursor, hi: lo - 1, leaf: bad, weight: 0 });
    cursor = Math.max(cursor, hi);
  }
  if (cursor < 2 ** 32) pts.push({ lo: cursor, hi: 2 ** 32 - 1, leaf: bad, weight: 0 });
  for (const { arch, leaves, enosysFrom } of abis) {
    const defined = new Set(Object.values(arch.syscalls));
    const [lo, hi] = arch.nrRange;
    const end = Math.min(hi, enosysFrom ?? hi);
    const nrs = [...defined, ...leaves.keys()].filter((n) => n >= lo && n < end);
    const sortedNrs = [...new Set(nrs)].sort((a, b) => a - b);
    let at = lo;
    for (const nr of sortedNrs) {
      if (nr > at) pts.push({ lo: at, hi: nr - 1, leaf: dflt, weight: 0 });
      const leaf = leaves.get(nr) ?? dflt;
      pts.push({ lo: nr, hi: nr, leaf, weight: defined.has(nr) ? syscallWeight(leaf) * (arch === native ? 1 : FOREIGN_ABI_WEIGHT) : 0 });
      at = nr + 1;
    }
    if (at < end) pts.push({ lo: at, hi: end - 1, leaf: dflt, weight: 0 });
    if (end < hi) {
      // Calls the profile does not know: rare, since a program falls back after one ENOSYS.
      const newer = [...defined].filter((n) => n >= end && n < hi).length;
      pts.push({ lo: end, hi: hi - 1, leaf: enosys, weight: newer * 0.25 * (arch === native ? 1 : FOREIGN_ABI_WEIGHT) });
    }
  }
  // nr -1 is how a tracer skips a syscall; libseccomp lets it through the x32 check so
  // it gets the x86_64 default action rather than the bad-arch one. So do we.
  const x8664 = abis.find((a) => a.arch.name === "SCMP_ARCH_X86_64");
  if (x8664 && !abis.some((a) => a.arch.name === "SCMP_ARCH_X32")) {
    const last = pts.find((p) => p.lo <= 0xffffffff && p.hi >= 0xffffffff);
    if (last && last.leaf === bad) {
      if (last.lo === 0xffffffff) last.leaf = dflt;
      else {
        last.hi = 0xfffffffe;
        pts.push({ lo: 0xffffffff, hi: 0xffffffff, leaf: dflt, weight: 0 });
      }
    }
  }
  pts.sort((a, b) => a.lo - b.lo);
  const out: Segment[] = [];
  for (const p of pts) {
    const last = out.at(-1);
    if (last && last.hi + 1 === p.lo && leafKey(last.leaf) === leafKey(p.leaf)) {
      last.hi = p.hi;
      last.weight += p.weight;
    } else out.push({ ...p });
  }
  // Ranges no defined syscall lives in are rare at run time but not impossible.
  for (const s of out) s.weight += 0.01;
  return out;
}
