// Differential test: our programs and libseccomp's (built by Debian's libseccomp the way
// runc feeds it, behind runc's ENOSYS stub) must give the same verdict for every syscall number and a spread of
// argument values, on Docker's default profile and on generated profiles.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64 } from "./arch.ts";
import { decodeProgram, type Insn } from "./bpf.ts";
import { compileSeccomp } from "./compile.ts";
import { runBpf } from "./interp.ts";
import { DOCKER_DEFAULT_CAPS, resolveMobyProfile } from "./moby.ts";
import { parseProfile } from "./profile.ts";
import { buildExporter, ensureLibseccomp, libseccompProgram } from "./testdata/oracle.ts";
import { mulberry32, randomProfile } from "./testdata/random_profile.ts";
import { referenceVerdict, runcEnosysStub } from "./testdata/reference.ts";

const missing = ensureLibseccomp();
if (missing) console.log(`skipped differential tests: ${missing}`);
const exe = missing ? "" : buildExporter();
afterAll(() => {
  if (exe) rmSync(dirname(exe), { recursive: true, force: true });
});

/** Every (arch, nr) worth asking: all numbers of every ABI up to past its table, odd ones beyond. */
function probes(): Array<{ arch: number; nr: number }> {
  const out: Array<{ arch: number; nr: number }> = [];
  const odd = [1000, 4095, 0x3fffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  for (let nr = 0; nr < 600; nr++) {
    out.push({ arch: AUDIT_ARCH_X86_64, nr }, { arch: AUDIT_ARCH_I386, nr }, { arch: AUDIT_ARCH_X86_64, nr: 0x40000000 + nr });
  }
  for (const nr of odd) out.push({ arch: AUDIT_ARCH_X86_64, nr }, { arch: AUDIT_ARCH_I386, nr });
  out.push({ arch: AUDIT_ARCH_AARCH64, nr: 56 }, { arch: 0, nr: 0 }, { arch: 0xffffffff, nr: 1 });
  return out;
}

/** Argument vectors built around the values a profile compares against. */
function argVectors(profile: unknown, rand: () => number, count: number): bigint[][] {
  const errors: string[] = [];
  const p = parseProfile(profile, errors);
  const seeds = new Set<bigint>([0n, 1n, 0xffffffffn, 0x100000000n, (1n << 64n) - 1n]);
  for (const r of p?.rules ?? []) {
    for (const c of r.conds) {
      for (const v of [c.value, c.valueTwo, c.value & c.valueTwo]) {
        for (const w of [v, v + 1n, v - 1n, v ^ (1n << 32n), v ^ 1n, v | 0xffff0000n]) if (w >= 0n && w < 1n << 64n) seeds.add(w);
      }
    }
  }
  const pool = [...seeds];
  const out: bigint[][] = [[0n, 0n, 0n, 0n, 0n, 0n]];
  for (let i = 0; i < count; i++) out.push(Array.from({ length: 6 }, () => pool[Math.floor(rand() * pool.length)] as bigint));
  return out;
}

interface Comparison {
  checked: number;
  /** ours differs from the rules' meaning: always a bug */
  wrong: string[];
  /** ours differs from libseccomp although at most one conditional rule is involved */
  mismatches: string[];
  /** libseccomp differs from the rules' meaning where several conditional rules overlap */
  libseccompMerges: number;
}

/** Runs every probe through our program, libseccomp's two programs and the reference evaluator. */
function compare(profile: object, rand: () => number, argCount: number): Comparison {
  const ours = decodeProgram(compileSeccomp(profile).program);
  const theirs: Insn[] = decodeProgram(libseccompProgram(exe, profile, 1));
  const tree: Insn[] = decodeProgram(libseccompProgram(exe, profile, 2));
  const vectors = argVectors(profile, rand, argCount);
  const out: Comparison = { checked: 0, wrong: [], mismatches: [], libseccompMerges: 0 };
  for (const { arch, nr } of probes()) {
    for (const args of vectors) {
      const d = { nr, arch, args };
      // runc puts its ENOSYS stub in front of libseccomp's program.
      const stub = runcEnosysStub(profile, d);
      const a = runBpf(ours, d).ret, b = stub ?? runBpf(theirs, d).ret, c = stub ?? runBpf(tree, d).ret;
      const ref = referenceVerdict(profile, d);
      out.checked++;
      const where = `arch=0x${arch.toString(16)} nr=${nr} args=[${args.join(",")}]: ours 0x${a.toString(16)}, reference 0x${ref.ret.toString(16)}, libseccomp 0x${b.toString(16)}, libseccomp tree 0x${c.toString(16)}`;
      if (a !== ref.ret) out.wrong.push(where);
      if (a !== b || b !== c) {
        if (ref.conditionalRules >= 2 && b !== ref.ret) out.libseccompMerges++;
        else out.mismatches.push(where);
      }
    }
  }
  return out;
}

describe.skipIf(!!missing)("same verdicts as libseccomp", () => {
  test("Docker's default profile (amd64, Docker's default capabilities), every nr of x86_64, x86 and x32", () => {
    const moby = JSON.parse(readFileSync(new URL("./testdata/moby-default.json", import.meta.url), "utf8"));
    const profile = resolveMobyProfile(moby, { goArch: "amd64", caps: DOCKER_DEFAULT_CAPS, kernel: "6.1" });
    const r = compare(profile, mulberry32(7), 30);
    expect(r.checked).toBeGreaterThan(50000);
    expect(r.wrong.slice(0, 10)).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.libseccompMerges).toBe(0);
  });

  test("Docker's default profile with every capability (CAP_SYS_ADMIN changes clone and friends)", () => {
    const moby = JSON.parse(readFileSync(new URL("./testdata/moby-default.json", import.meta.url), "utf8"));
    const caps = [...DOCKER_DEFAULT_CAPS, "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME", "CAP_SYS_NICE", "CAP_BPF", "CAP_PERFMON", "CAP_SYSLOG", "CAP_SYS_MODULE"];
    const profile = resolveMobyProfile(moby, { goArch: "amd64", caps, kernel: "6.1" });
    const r = compare(profile, mulberry32(8), 10);
    expect(r.wrong.slice(0, 10)).toEqual([]);
    expect(r.mismatches.slice(0, 10)).toEqual([]);
    expect(r.libseccompMerges).toBe(0);
  });

  // Where several conditional rules of one syscall overlap, libseccomp 2.5's rule-tree
  // merge is known to get some answers wrong (docs/seccomp.md); there we are held to the
  // reference semantics only, everywhere else to libseccomp too.
  let merges = 0, checked = 0;
  for (let seed = 1; seed <= 30; seed++) {
    test(`generated profile #${seed}`, () => {
      const rand = mulberry32(seed * 7919);
      const profile = randomProfile(rand);
      const r = compare(profile, rand, 40);
      merges += r.libseccompMerges;
      checked += r.checked;
      if (r.wrong.length || r.mismatches.length) console.log(JSON.stringify(profile, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      expect(r.wrong.slice(0, 10)).toEqual([]);
      expect(r.mismatches.slice(0, 10)).toEqual([]);
    });
  }
  test("summary of generated profiles", () => {
    console.log(`generated profiles: ${checked} verdicts compared; libseccomp's overlapping-rule merge disagreed with the rules ${merges} times`);
    expect(checked).toBeGreaterThan(30 * 50000);
  });

  test("the comparison can fail: a wrong program is caught", () => {
    const profile = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 5, op: "SCMP_CMP_GT" }] }] };
    const wrong = { ...profile, syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 5, op: "SCMP_CMP_GE" }] }] };
    const ours = compileSeccomp(wrong).program;
    const theirs = libseccompProgram(exe, profile, 1);
    const d = { nr: 0, arch: AUDIT_ARCH_X86_64, args: [5n] };
    expect(runBpf(ours, d).ret).not.toBe(runBpf(theirs, d).ret);
  });
});
