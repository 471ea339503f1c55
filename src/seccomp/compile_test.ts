import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { ARCH_FAMILY, ARCHES, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64 } from "./arch.ts";
import { OP_AND_K, OP_JA, OP_JEQ, OP_JGE, OP_JGT, OP_JSET, OP_LD_ABS, OP_RET_K } from "./bpf.ts";
import { compileSeccomp, compileToInsns, validateSeccomp } from "./compile.ts";
import { runBpf } from "./interp.ts";
import { DOCKER_DEFAULT_CAPS, resolveMobyProfile } from "./moby.ts";
import { SeccompConfigError } from "./profile.ts";
import { SYSCALLS_AARCH64 } from "./syscalls_aarch64.ts";
import { SYSCALLS_ARM } from "./syscalls_arm.ts";
import { SYSCALLS_X32 } from "./syscalls_x32.ts";
import { SYSCALLS_X86 } from "./syscalls_x86.ts";
import { SYSCALLS_X86_64 } from "./syscalls_x86_64.ts";

const ALLOW = 0x7fff0000, EPERM = 0x50001, KILL_PROCESS = 0x80000000;
const X64 = AUDIT_ARCH_X86_64;
const run = (p: unknown, nr: number, args: bigint[] = [], arch = X64) => runBpf(compileSeccomp(p).program, { nr, arch, args }).ret;

test("a second unconditional rule with another action: the first decides, as libseccomp 2.5 does (podman's profiles rely on it)", () => {
  const read = SYSCALLS_X86_64.read as number;
  const allowFirst = { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38, syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }, { names: ["read"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }] };
  const denyFirst = { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38, syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }, { names: ["read"], action: "SCMP_ACT_ALLOW" }] };
  expect(run(allowFirst, read)).toBe(ALLOW);
  expect(run(denyFirst, read)).toBe(EPERM);
});

describe("validation names the field", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["not an object", [], /^linux\.seccomp: expected an object/],
    ["unknown default action", { defaultAction: "SCMP_ACT_NOPE" }, /linux\.seccomp\.defaultAction: "SCMP_ACT_NOPE" is not an action \(expected one of SCMP_ACT_KILL/],
    ["unknown action", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }, { names: ["a"], action: "SCMP_ACT_ALLOW" }, { names: ["b"], action: "SCMP_ACT_ALLOW" }, { names: ["x"], action: "SCMP_ACT_FOO" }] }, /linux\.seccomp\.syscalls\[3\]\.action: "SCMP_ACT_FOO" is not an action \(expected one of/],
    ["unknown arch", { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"] }, /linux\.seccomp\.architectures\[1\]: "SCMP_ARCH_Z80" is not an architecture/],
    ["bad operator", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_ABOUT" }] }] }, /linux\.seccomp\.syscalls\[0\]\.args\[0\]\.op: "SCMP_CMP_ABOUT" is not an operator/],
    ["too many args", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [0, 1, 2, 3, 4, 5, 0].map((index) => ({ index, value: 1, op: "SCMP_CMP_EQ" })) }] }, /linux\.seccomp\.syscalls\[0\]\.args: 7 comparisons, but a syscall has at most 6 arguments/],
    ["arg index out of range", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }] }] }, /syscalls\[0\]\.args\[0\]\.index: 6 is not an argument index/],
    ["errnoRet without ERRNO", { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", errnoRet: 5 }] }, /linux\.seccomp\.syscalls\[0\]\.errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, but the action is SCMP_ACT_ALLOW/],
    ["defaultErrnoRet without ERRNO", { defaultAction: "SCMP_ACT_KILL", defaultErrnoRet: 1 }, /linux\.seccomp\.defaultErrnoRet: only SCMP_ACT_ERRNO/],
    ["non-array names", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: "read", action: "SCMP_ACT_ERRNO" }] }, /linux\.seccomp\.syscalls\[0\]\.names: expected a non-empty array of syscall names, found "read"/],
    ["empty names", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }] }, /syscalls\[0\]\.names: expected a non-empty array/],
    ["bad name", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read", 7], action: "SCMP_ACT_ERRNO" }] }, /syscalls\[0\]\.names\[1\]: 7 is not a syscall name/],
    ["negative value", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: -1, op: "SCMP_CMP_EQ" }] }] }, /args\[0\]\.value: -1 is not an unsigned 64-bit integer/],
    ["errno out of range", { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 70000 }, /defaultErrnoRet: 70000 is not an errno/],
    ["unknown flag", { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FAST"] }, /linux\.seccomp\.flags\[0\]: "SECCOMP_FILTER_FLAG_FAST" is not a seccomp flag/],
    ["notify without listener", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }, /linux\.seccomp\.listenerPath: required when a rule uses SCMP_ACT_NOTIFY/],
    ["notify as default", { defaultAction: "SCMP_ACT_NOTIFY", listenerPath: "/run/l.sock" }, /defaultAction: SCMP_ACT_NOTIFY cannot be the default action/],
    ["notify on write", { defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/l", syscalls: [{ names: ["write"], action: "SCMP_ACT_NOTIFY" }] }, /syscalls\[0\]\.names: SCMP_ACT_NOTIFY cannot apply to write/],
    ["relative listener", { defaultAction: "SCMP_ACT_ALLOW", listenerPath: "l.sock", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }, /listenerPath: expected an absolute path/],
    ["wait-killable without notify", { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] }, /flags\[0\]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY/],
    ["conflicting identical conditions", { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] }, { names: ["read"], action: "SCMP_ACT_LOG", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] }] }, /syscalls\[1\]: "read" has the same argument checks as syscalls\[0\]/],
  ];
  for (const [what, profile, re] of cases) {
    test(what, () => {
      const errors = validateSeccomp(profile);
      expect(errors.some((e) => re.test(e))).toBe(true);
      expect(() => compileSeccomp(profile)).toThrow(SeccompConfigError);
    });
  }

  test("every problem is reported at once", () => {
    const errors = validateSeccomp({ defaultAction: "X", architectures: ["Y"], syscalls: [{ names: [], action: "Z" }] });
    expect(errors.length).toBe(4);
  });

  test("a valid profile has no errors; unknown fields are ignored", () => {
    expect(validateSeccomp({ defaultAction: "SCMP_ACT_ALLOW", comment: "hi", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", errnoRet: 5, comment: "x" }] })).toEqual([]);
  });

  test("kernelFlags: a flag this kernel lacks is refused, TSYNC is dropped", () => {
    const p = { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"] };
    expect(validateSeccomp(p, { kernelFlags: 0b10 })).toEqual(["linux.seccomp.flags[0]: this kernel does not support SECCOMP_FILTER_FLAG_SPEC_ALLOW"]);
    expect(compileSeccomp(p).flags).toBe(4);
    expect(compileSeccomp({ ...p, flags: ["SECCOMP_FILTER_FLAG_LOG"] }, { kernelFlags: 0xff }).flags).toBe(2);
  });
});

describe("actions and defaults", () => {
  test("each action's SECCOMP_RET value, errnoRet defaulting to EPERM", () => {
    const rule = (action: string, extra: object = {}) => ({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/l", syscalls: [{ names: ["mkdir"], action, ...extra }] });
    const mkdir = SYSCALLS_X86_64.mkdir as number;
    expect(run(rule("SCMP_ACT_KILL"), mkdir)).toBe(0);
    expect(run(rule("SCMP_ACT_KILL_THREAD"), mkdir)).toBe(0);
    expect(run(rule("SCMP_ACT_KILL_PROCESS"), mkdir)).toBe(KILL_PROCESS);
    expect(run(rule("SCMP_ACT_TRAP"), mkdir)).toBe(0x30000);
    expect(run(rule("SCMP_ACT_ERRNO"), mkdir)).toBe(EPERM);
    expect(run(rule("SCMP_ACT_ERRNO", { errnoRet: 38 }), mkdir)).toBe(0x50026);
    expect(run(rule("SCMP_ACT_TRACE", { errnoRet: 7 }), mkdir)).toBe(0x7ff00007);
    expect(run(rule("SCMP_ACT_LOG"), mkdir)).toBe(0x7ffc0000);
    expect(run(rule("SCMP_ACT_NOTIFY"), mkdir)).toBe(0x7fc00000);
    expect(run(rule("SCMP_ACT_TRAP"), SYSCALLS_X86_64.read as number)).toBe(ALLOW);
    expect(run({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38 }, 0)).toBe(0x50026);
  });

  test("notify: NEW_LISTENER flag and listener details for the launcher", () => {
    const c = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/l.sock", listenerMetadata: "m", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] });
    expect(c.flags).toBe(8 | 32);
    expect(c.notify).toEqual({ listenerPath: "/run/l.sock", listenerMetadata: "m" });
    expect(compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/l" }).notify).toBeUndefined();
  });

  test("names no table knows are ignored and reported; names missing on one arch apply elsewhere", () => {
    const c = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], syscalls: [{ names: ["getppid", "no_such_call", "socketcall", "arch_prctl"], action: "SCMP_ACT_ALLOW" }] });
    expect(c.unknownNames).toEqual(["no_such_call"]);
    const r = (nr: number, arch: number) => runBpf(c.program, { nr, arch }).ret;
    expect(r(SYSCALLS_X86_64.getppid as number, X64)).toBe(ALLOW);
    expect(r(SYSCALLS_X86.getppid as number, AUDIT_ARCH_I386)).toBe(ALLOW);
    expect(r(SYSCALLS_X86.socketcall as number, AUDIT_ARCH_I386)).toBe(ALLOW);
    expect(r(SYSCALLS_X86_64.arch_prctl as number, X64)).toBe(ALLOW);
  });

  test("calls newer than Debian's 6.1 headers are known, not dropped as unknown", () => {
    const c = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["cachestat", "fchmodat2", "futex_wake", "mseal", "open_tree_attr", "file_getattr"], action: "SCMP_ACT_ALLOW" }] });
    expect(c.unknownNames).toEqual([]);
    for (const nr of [451, 452, 454, 462, 467, 468]) expect(runBpf(c.program, { nr, arch: X64 }).ret).toBe(ALLOW);
  });

  test("a rule with the default action is left out, so it cannot shadow conditional rules (runc)", () => {
    const p = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["clone"], action: "SCMP_ACT_ERRNO" }, { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] }] };
    expect(run(p, 56, [1n])).toBe(ALLOW);
    expect(run(p, 56, [2n])).toBe(EPERM);
  });

  test("unconditional rules win over conditional ones; among matching conditional rules the strictest wins", () => {
    const eq = (v: number, index = 0) => [{ index, value: v, op: "SCMP_CMP_EQ" }];
    const p = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["read"], action: "SCMP_ACT_TRAP", args: eq(1) },
        { names: ["read"], action: "SCMP_ACT_ALLOW" },
        { names: ["write"], action: "SCMP_ACT_ALLOW", args: eq(1) },
        { names: ["write"], action: "SCMP_ACT_KILL_PROCESS", args: eq(2, 1) },
      ],
    };
    expect(run(p, 0, [1n])).toBe(ALLOW);
    expect(run(p, 1, [1n, 0n])).toBe(ALLOW);
    expect(run(p, 1, [1n, 2n])).toBe(KILL_PROCESS);
    expect(run(p, 1, [0n, 2n])).toBe(KILL_PROCESS);
    expect(run(p, 1, [0n, 0n])).toBe(EPERM);
  });
});

describe("runc's ENOSYS stub", () => {
  const ENOSYS = 0x50026;
  const getppid = SYSCALLS_X86_64.getppid as number; // 110
  const base = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read", "getppid"], action: "SCMP_ACT_ALLOW" }] };

  test("numbers above the highest one the profile names get ENOSYS, known ones below it the default", () => {
    expect(run(base, getppid)).toBe(ALLOW);
    expect(run(base, getppid - 1)).toBe(EPERM);
    expect(run(base, getppid + 1)).toBe(ENOSYS);
    expect(run(base, SYSCALLS_X86_64.file_setattr as number)).toBe(ENOSYS);
    expect(run(base, 0x3fffffff)).toBe(ENOSYS);
    expect(run(base, 0x40000000)).toBe(KILL_PROCESS); // x32 is not filtered: bad arch, not ENOSYS
    expect(run(base, 0xffffffff)).toBe(EPERM); // nr -1 keeps x86_64's default (libseccomp)
  });

  test("each ABI has its own highest number; an ABI the profile names nothing on has no stub", () => {
    const p = { ...base, architectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"], syscalls: [...base.syscalls, { names: ["arch_prctl"], action: "SCMP_ACT_ERRNO", errnoRet: 22 }] };
    const arch_prctl = SYSCALLS_X86_64.arch_prctl as number; // 158; x86 has no arch_prctl below 384
    expect(run(p, arch_prctl)).toBe(0x50016);
    expect(run(p, arch_prctl + 1)).toBe(ENOSYS);
    expect(run(p, SYSCALLS_X86.getppid as number, [], AUDIT_ARCH_I386)).toBe(ALLOW);
    expect(run(p, SYSCALLS_X86.arch_prctl as number, [], AUDIT_ARCH_I386)).toBe(0x50016);
    expect(run(p, (SYSCALLS_X86.arch_prctl as number) + 1, [], AUDIT_ARCH_I386)).toBe(ENOSYS);
    expect(run(p, SYSCALLS_X32.arch_prctl as number)).toBe(0x50016);
    expect(run(p, (SYSCALLS_X32.getppid as number) + 1)).toBe(EPERM);
    expect(run(p, (SYSCALLS_X32.arch_prctl as number) + 1)).toBe(ENOSYS);
    expect(run(p, SYSCALLS_X32.execve as number)).toBe(ENOSYS); // x32's own calls (512+) lie above too
    const arm64 = compileSeccomp({ ...base, architectures: ["SCMP_ARCH_ARM"], syscalls: [{ names: ["getppid"], action: "SCMP_ACT_ALLOW" }] }, { nativeArch: "arm64" });
    expect(runBpf(arm64.program, { nr: SYSCALLS_AARCH64.getppid as number, arch: AUDIT_ARCH_AARCH64 }).ret).toBe(ALLOW);
    expect(runBpf(arm64.program, { nr: (SYSCALLS_AARCH64.getppid as number) + 1, arch: AUDIT_ARCH_AARCH64 }).ret).toBe(ENOSYS);
    const onlyX86 = { ...base, architectures: ["SCMP_ARCH_X86"], syscalls: [{ names: ["waitpid"], action: "SCMP_ACT_ALLOW" }] }; // x86-only name
    expect(run(onlyX86, 1000)).toBe(EPERM);
    expect(run(onlyX86, 1000, [], AUDIT_ARCH_I386)).toBe(ENOSYS);
  });

  test("rules with the default action count toward the highest number, as in runc", () => {
    const p = { ...base, syscalls: [...base.syscalls, { names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] }; // mkdir 83 < 110
    const q = { ...base, syscalls: [...base.syscalls, { names: ["setns"], action: "SCMP_ACT_ERRNO" }] }; // setns 308
    expect(run(p, getppid + 1)).toBe(ENOSYS);
    expect(run(q, getppid + 1)).toBe(EPERM);
    expect(run(q, SYSCALLS_X86_64.setns as number)).toBe(EPERM);
    expect(run(q, (SYSCALLS_X86_64.setns as number) + 1)).toBe(ENOSYS);
  });

  test("no stub when the default lets calls through or is ENOSYS already; kill and trap defaults get it", () => {
    for (const [action, want] of [["SCMP_ACT_ALLOW", ALLOW], ["SCMP_ACT_LOG", 0x7ffc0000], ["SCMP_ACT_TRACE", 0x7ff00001]] as const) {
      expect(run({ ...base, defaultAction: action, syscalls: [{ names: ["getppid"], action: "SCMP_ACT_KILL_PROCESS" }] }, getppid + 1)).toBe(want);
    }
    expect(run({ ...base, defaultErrnoRet: 38 }, getppid + 1)).toBe(ENOSYS);
    expect(run({ ...base, defaultErrnoRet: 38 }, getppid - 1)).toBe(ENOSYS);
    expect(run({ ...base, defaultAction: "SCMP_ACT_KILL_PROCESS" }, getppid + 1)).toBe(ENOSYS);
    expect(run({ ...base, defaultAction: "SCMP_ACT_KILL_PROCESS" }, getppid - 1)).toBe(KILL_PROCESS);
    expect(run({ ...base, defaultAction: "SCMP_ACT_TRAP" }, getppid + 1)).toBe(ENOSYS);
    expect(run({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] }, 1)).toBe(EPERM); // only nr 0 named: runc adds no stub
  });

  test("the stub is a run in the tree: Docker's profile keeps its instruction count and nr-only paths", () => {
    const prog = compileSeccomp(docker()).program;
    for (const nr of [450, 451, 469, 1000, 0x3fffffff]) {
      const r = runBpf(prog, { nr, arch: X64 }, { trace: true });
      expect(r.ret).toBe(ENOSYS);
      expect([...(r.trace?.offsets ?? [])].sort()).toEqual([0, 4]);
    }
    expect(runBpf(prog, { nr: SYSCALLS_X86_64.futex_waitv as number, arch: X64 }).ret).toBe(ALLOW); // the profile's last call
    expect(runBpf(prog, { nr: SYSCALLS_X86_64.mount as number, arch: X64 }).ret).toBe(EPERM);
  });
});

describe("architectures", () => {
  test("the native arch is always filtered; others only when listed; unknown arches kill the process", () => {
    const p = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getppid"], action: "SCMP_ACT_ERRNO" }] };
    expect(run(p, 110)).toBe(EPERM);
    expect(run(p, 64, [], AUDIT_ARCH_I386)).toBe(KILL_PROCESS);
    expect(run(p, 0x40000000, [])).toBe(KILL_PROCESS); // x32 not listed
    const all = { ...p, architectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_PPC64LE"] };
    expect(run(all, 64, [], AUDIT_ARCH_I386)).toBe(EPERM);
    expect(run(all, SYSCALLS_X32.getppid as number)).toBe(EPERM);
    expect(run(all, SYSCALLS_X32.read as number)).toBe(ALLOW);
    expect(run(all, 0xffffffff)).toBe(ALLOW); // x32 range, no such call: default
    expect(run(all, 0xc00000b7)).toBe(ALLOW);
    expect(compileSeccomp(all).architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    // x32 alone: native x86_64 numbers are a bad arch
    const onlyX32 = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X32"] }, { nativeArch: "x32" });
    expect(runBpf(onlyX32.program, { nr: 1, arch: X64 }).ret).toBe(KILL_PROCESS);
  });

  test("arm64 host: Docker's default profile lists SCMP_ARCH_ARM, and 32-bit ARM calls are filtered by their EABI numbers", () => {
    const profile = resolveMobyProfile(JSON.parse(readFileSync(new URL("./testdata/moby-default.json", import.meta.url), "utf8")), { goArch: "arm64", caps: DOCKER_DEFAULT_CAPS, kernel: "6.1" });
    expect(profile.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    const c = compileSeccomp(profile, { nativeArch: "arm64" });
    expect(c.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    const arm = (name: string, args: bigint[] = []) => runBpf(c.program, { nr: SYSCALLS_ARM[name] as number, arch: AUDIT_ARCH_ARM, args }).ret;
    const a64 = (name: string) => runBpf(c.program, { nr: SYSCALLS_AARCH64[name] as number, arch: AUDIT_ARCH_AARCH64 }).ret;
    expect(arm("getppid")).toBe(ALLOW);
    expect(arm("cacheflush")).toBe(ALLOW); // 0xf0002, an ARM private call Docker allows
    expect(arm("set_tls")).toBe(ALLOW);
    expect(arm("arm_fadvise64_64")).toBe(ALLOW);
    expect(arm("mount")).toBe(EPERM);
    expect(arm("personality", [8n])).toBe(ALLOW);
    expect(arm("personality", [0x40000n])).toBe(EPERM);
    expect(a64("openat")).toBe(ALLOW);
    expect(a64("mount")).toBe(EPERM);
    expect(runBpf(c.program, { nr: 0, arch: X64 }).ret).toBe(KILL_PROCESS);
  });

  test("every arch a host family can run has a table (else such a profile would be refused)", () => {
    for (const [host, family] of Object.entries(ARCH_FAMILY)) for (const a of family) expect(`${host}: ${a} ${a in ARCHES}`).toBe(`${host}: ${a} true`);
  });

  test("aarch64 host: its own table", () => {
    const c = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["openat", "open"], action: "SCMP_ACT_ALLOW" }] }, { nativeArch: "arm64" });
    expect(runBpf(c.program, { nr: 56, arch: 0xc00000b7 }).ret).toBe(ALLOW);
    expect(runBpf(c.program, { nr: 2, arch: 0xc00000b7 }).ret).toBe(EPERM);
    expect(runBpf(c.program, { nr: 56, arch: X64 }).ret).toBe(KILL_PROCESS);
  });
});

// Reference semantics of one comparison, written independently of the code generator.
function holds(op: string, arg: bigint, value: bigint, two: bigint, bits: 32 | 64): boolean {
  const m = bits === 32 ? 0xffffffffn : (1n << 64n) - 1n;
  const a = arg & m, v = value & m;
  switch (op) {
    case "SCMP_CMP_NE": return a !== v;
    case "SCMP_CMP_LT": return a < v;
    case "SCMP_CMP_LE": return a <= v;
    case "SCMP_CMP_EQ": return a === v;
    case "SCMP_CMP_GE": return a >= v;
    case "SCMP_CMP_GT": return a > v;
    default: return (a & v) === (two & v);
  }
}

describe("argument comparisons", () => {
  const ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
  const values = [0n, 1n, 7n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x100000007n, 0xffffffff00000000n, 0x8000000000000000n, (1n << 64n) - 1n];
  const args = values.flatMap((v) => [v, v + 1n, v - 1n, v ^ 0x100000000n]).filter((v) => v >= 0n && v < 1n << 64n);
  for (const op of ops) {
    test(`${op}: 64-bit on x86_64, low word only on x86 (as libseccomp)`, () => {
      for (const value of values) {
        const two = op === "SCMP_CMP_MASKED_EQ" ? value & 0x0f0f0f0f0f0f0f0fn : 0n;
        const p = { defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86"], syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 2, value, valueTwo: two, op }] }] };
        const prog = compileSeccomp(p).program;
        for (const arg of args) {
          for (const [arch, nr, bits] of [[X64, 0, 64], [AUDIT_ARCH_I386, 3, 32]] as const) {
            const got = runBpf(prog, { nr, arch, args: [0n, 0n, arg] }).ret;
            const want = holds(op, arg, value, two, bits) ? ALLOW : EPERM;
            if (got !== want) throw new Error(`${op} value=${value} arg=${arg} bits=${bits}: got ${got.toString(16)} want ${want.toString(16)}`);
          }
        }
      }
    });
  }

  test("an argument compared twice in one rule: each comparison becomes its own rule, as runc does", () => {
    const p = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }, { index: 0, value: 9, op: "SCMP_CMP_EQ" }, { index: 1, value: 1, op: "SCMP_CMP_EQ" }] }] };
    expect(validateSeccomp(p)).toEqual([]);
    expect(run(p, 135, [8n])).toBe(EPERM);
    expect(run(p, 135, [9n])).toBe(EPERM);
    expect(run(p, 135, [0n, 1n])).toBe(EPERM);
    expect(run(p, 135, [0n, 0n])).toBe(ALLOW);
  });

  test("several comparisons in one rule all have to hold", () => {
    const p = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["mmap"], action: "SCMP_ACT_ALLOW", args: [{ index: 5, value: 4096, op: "SCMP_CMP_LT" }, { index: 0, value: 0, op: "SCMP_CMP_EQ" }, { index: 2, value: 4, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] }] };
    expect(run(p, 9, [0n, 0n, 3n, 0n, 0n, 100n])).toBe(ALLOW);
    expect(run(p, 9, [1n, 0n, 3n, 0n, 0n, 100n])).toBe(EPERM);
    expect(run(p, 9, [0n, 0n, 7n, 0n, 0n, 100n])).toBe(EPERM);
    expect(run(p, 9, [0n, 0n, 3n, 0n, 0n, 4096n])).toBe(EPERM);
  });

  test("JSON's rounding of 2^64-1 is read back as 2^64-1", () => {
    const p = JSON.parse('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}');
    expect(run(p, 0, [(1n << 64n) - 1n])).toBe(ALLOW);
    expect(run(p, 0, [0n])).toBe(EPERM);
  });
});

const docker = () =>
  resolveMobyProfile(JSON.parse(readFileSync(new URL("./testdata/moby-default.json", import.meta.url), "utf8")), { goArch: "amd64", caps: DOCKER_DEFAULT_CAPS, kernel: "6.1" });

// Opcodes the kernel's action-cache emulator (seccomp_is_const_allow) understands.
const CACHE_OPS = new Set([OP_LD_ABS, OP_RET_K, OP_JA, OP_JEQ, OP_JGE, OP_JGT, OP_JSET, OP_AND_K]);

describe("Docker's default profile", () => {
  const prog = compileSeccomp(docker()).program;
  const argDependent = new Set(["socket", "personality", "clone"]);

  test("paths for argument-free verdicts read only nr and arch, with ops the kernel's action cache emulates", () => {
    for (const [name, nr] of Object.entries(SYSCALLS_X86_64)) {
      const r = runBpf(prog, { nr, arch: X64 }, { trace: true });
      const offsets = [...(r.trace?.offsets ?? [])].sort();
      if (argDependent.has(name)) expect(offsets.some((o) => o >= 16)).toBe(true);
      else {
        expect(`${name}: ${offsets}`).toBe(`${name}: 0,4`);
        for (const c of r.trace?.codes ?? []) expect(CACHE_OPS.has(c)).toBe(true);
      }
    }
  });

  test("executed instructions: mean ≤ 10 over allowed syscalls, max ≤ 16 over every syscall and argument tried", () => {
    const allowed: number[] = [];
    let max = 0;
    const spread = [0n, 8n, 40n, 0x20000n, 0x20008n, 0xffffffffn, 0x7e020000n, 0x100000000n, 3n];
    for (const nr of Object.values(SYSCALLS_X86_64)) {
      for (const a of spread) {
        const r = runBpf(prog, { nr, arch: X64, args: [a, a] });
        max = Math.max(max, r.executed);
        if (a === 0n && r.ret === ALLOW) allowed.push(r.executed);
      }
    }
    const mean = allowed.reduce((x, y) => x + y, 0) / allowed.length;
    expect(mean).toBeLessThanOrEqual(10);
    expect(max).toBeLessThanOrEqual(16);
  });

  test("known verdicts", () => {
    const v = (name: string, args: bigint[] = []) => runBpf(prog, { nr: SYSCALLS_X86_64[name] as number, arch: X64, args }).ret;
    expect(v("getppid")).toBe(ALLOW);
    expect(v("mount")).toBe(EPERM);
    expect(v("clone3")).toBe(0x50026);
    expect(v("personality", [0xffffffffn])).toBe(ALLOW);
    expect(v("personality", [0x1ffffffffn])).toBe(EPERM);
    expect(v("socket", [40n])).toBe(EPERM);
    expect(v("socket", [2n])).toBe(ALLOW);
    expect(v("clone", [0x11n])).toBe(ALLOW);
    expect(v("clone", [0x10000000n])).toBe(EPERM); // CLONE_NEWUSER
    expect(v("chroot")).toBe(ALLOW); // CAP_SYS_CHROOT is a Docker default
    expect(v("ptrace")).toBe(ALLOW); // minKernel 4.8
  });

  test("far jumps are repaired: a profile with hundreds of conditional syscalls still compiles and runs", () => {
    const names = Object.keys(SYSCALLS_X86_64).slice(0, 300);
    const p = { defaultAction: "SCMP_ACT_ERRNO", syscalls: names.map((n, i) => ({ names: [n], action: "SCMP_ACT_ALLOW", args: [{ index: i % 6, value: i, op: "SCMP_CMP_EQ" }] })) };
    const insns = compileToInsns(p);
    expect(insns.length).toBeGreaterThan(300);
    names.forEach((n, i) => {
      const args = [0n, 0n, 0n, 0n, 0n, 0n];
      args[i % 6] = BigInt(i);
      expect(runBpf(insns, { nr: SYSCALLS_X86_64[n] as number, arch: X64, args }).ret).toBe(ALLOW);
      args[i % 6] = BigInt(i + 1);
      expect(runBpf(insns, { nr: SYSCALLS_X86_64[n] as number, arch: X64, args }).ret).toBe(EPERM);
    });
  });
});

test("compiler modules are pure: no node:* or Bun imports", () => {
  const dir = new URL(".", import.meta.url);
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".ts") || f.endsWith("_test.ts")) continue;
    const src = readFileSync(new URL(f, dir), "utf8");
    expect(`${f}: ${/from\s+["'](node:|bun)/.test(src) || /\bBun\./.test(src) || /\bprocess\./.test(src)}`).toBe(`${f}: false`);
  }
});
