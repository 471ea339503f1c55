// The kernel accepts our programs and enforces them: Docker's default profile installed
// in a real process allows and denies what it should, and every action and flag does
// what it means.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelSeccompFlags } from "../runtime/seccomp_probe.ts";
import { FILTER_FLAG_LOG, FILTER_FLAG_SPEC_ALLOW } from "./bpf.ts";
import { compileSeccomp } from "./compile.ts";
import { DOCKER_DEFAULT_CAPS, resolveMobyProfile } from "./moby.ts";
import { SUPPLEMENT_KERNEL, SYSCALL_SUPPLEMENT } from "./syscall_supplement.ts";
import { SYSCALLS_X86_64 as NR } from "./syscalls_x86_64.ts";

const gcc = spawnSync("gcc", ["--version"]).status === 0;
const x64 = process.arch === "x64";
if (!gcc || !x64) console.log(`skipped kernel test: ${!gcc ? "gcc is not installed" : "host is not x86_64"}`);

test.skipIf(!gcc || !x64)("Docker's default profile, compiled by isola, loaded into this kernel", () => {
  const dir = mkdtempSync(join(tmpdir(), "isola-seccomp-kernel-"));
  try {
    const exe = join(dir, "install_and_call");
    execFileSync("gcc", ["-O2", "-o", exe, new URL("./testdata/install_and_call.c", import.meta.url).pathname]);
    const moby = JSON.parse(readFileSync(new URL("./testdata/moby-default.json", import.meta.url), "utf8"));
    const c = compileSeccomp(resolveMobyProfile(moby, { goArch: "amd64", caps: DOCKER_DEFAULT_CAPS, kernel: "6.1" }), { nativeArch: "x64" });
    expect(c.flags).toBe(0);
    const bpf = join(dir, "docker.bpf");
    writeFileSync(bpf, c.program);
    const calls = [
      `${NR.getppid}`,
      `${NR.personality}:0xffffffff`,
      `${NR.personality}:0x1234`,
      `${NR.unshare}:0`,
      `${NR.clone3}`,
      `${NR.socket}:40:1`,
      `${NR.mount}`,
      `${NR.file_setattr}`, // newer than every call the profile names
      "1000",
    ];
    const r = spawnSync(exe, [bpf, ...calls], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const out = r.stdout.trim().split("\n").map((l) => l.split(" ").map(Number));
    expect(out.length).toBe(calls.length);
    const [getppid, persona, badPersona, unshare, clone3, vsock, mount, newer, beyond] = out as Array<[number, number]>;
    expect(getppid?.[0]).toBeGreaterThan(0);
    expect(persona?.[1]).toBe(0);
    expect(badPersona).toEqual([-1, 1]); // EPERM
    expect(unshare).toEqual([-1, 1]);
    expect(clone3).toEqual([-1, 38]); // ENOSYS, so glibc falls back to clone
    expect(vsock).toEqual([-1, 1]); // AF_VSOCK
    expect(mount).toEqual([-1, 1]);
    expect(newer).toEqual([-1, 38]); // runc's ENOSYS stub, not the default EPERM
    expect(beyond).toEqual([-1, 38]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.skipIf(!gcc || !x64)("SCMP_ACT_NOTIFY: the kernel hands out a listener and a small listener answers the notified mkdir", () => {
  const dir = mkdtempSync(join(tmpdir(), "isola-seccomp-notify-"));
  try {
    const exe = join(dir, "notify_answer");
    execFileSync("gcc", ["-O2", "-o", exe, new URL("./testdata/notify_answer.c", import.meta.url).pathname]);
    const c = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/listener.sock", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }, { nativeArch: "x64" });
    expect(c.notify).toEqual({ listenerPath: "/run/listener.sock", listenerMetadata: "" });
    const bpf = join(dir, "notify.bpf");
    writeFileSync(bpf, c.program);
    const r = spawnSync(exe, [bpf, String(c.flags)], { encoding: "utf8", timeout: 20000 });
    expect(r.stdout.trim()).toBe(`42 ${NR.mkdir}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The supplement's numbers are real: on a kernel at least as new as the supplement, each
// supplemented x86_64 number is a syscall (anything but ENOSYS), and the next one is not.
const [major = 0, minor = 0] = (spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout ?? "").split(".").map((p) => Number.parseInt(p, 10));
const [wantMajor = 0, wantMinor = 0] = SUPPLEMENT_KERNEL.split(".").map(Number);
const newEnough = major > wantMajor || (major === wantMajor && minor >= wantMinor);
if (x64 && !newEnough) console.log(`skipped supplement check: kernel ${major}.${minor} is older than ${SUPPLEMENT_KERNEL}`);
test.skipIf(!gcc || !x64 || !newEnough)("every supplemented syscall number exists in this kernel", () => {
  const dir = mkdtempSync(join(tmpdir(), "isola-seccomp-supplement-"));
  try {
    const exe = join(dir, "install_and_call");
    execFileSync("gcc", ["-O2", "-o", exe, new URL("./testdata/install_and_call.c", import.meta.url).pathname]);
    // uretprobe/uprobe outside a probe trampoline kill the caller; map_shadow_stack is
    // ENOSYS unless the kernel has user shadow stacks. All others take zero arguments
    // harmlessly (EFAULT, EINVAL or EBADF; mseal of nothing succeeds).
    const skip = new Set(["uretprobe", "uprobe", "map_shadow_stack"]);
    const calls = SYSCALL_SUPPLEMENT.filter((s) => s.arches.includes("SCMP_ARCH_X86_64") && !skip.has(s.name));
    const beyond = Math.max(...SYSCALL_SUPPLEMENT.map((s) => s.nr)) + 1;
    const r = spawnSync(exe, ["-", ...calls.map((s) => String(s.nr)), String(beyond)], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const errnos = r.stdout.trim().split("\n").map((l) => Number(l.split(" ")[1]));
    expect(calls.map((s, i) => `${s.name}: ${errnos[i] === 38 ? "ENOSYS" : "exists"}`)).toEqual(calls.map((s) => `${s.name}: exists`));
    expect(errnos.at(-1)).toBe(38);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Every action and a flag, installed for real: the kernel must do what each SECCOMP_RET_*
// value we emit means.
describe.skipIf(!gcc || !x64)("actions and flags in this kernel", () => {
  let dir = "", exe = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "isola-seccomp-actions-"));
    exe = join(dir, "install_and_call");
    execFileSync("gcc", ["-O2", "-o", exe, new URL("./testdata/install_and_call.c", import.meta.url).pathname]);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Installs `profile` (compiled by isola) in a fresh process and makes getpid, getppid, getpid. */
  function install(profile: unknown, opts: string[] = []) {
    const c = compileSeccomp(profile, { nativeArch: "x64" });
    const bpf = join(dir, `p${Math.random().toString(36).slice(2)}.bpf`);
    writeFileSync(bpf, c.program);
    // cwd: a core dump of a killed helper lands in the temp dir, removed afterwards.
    const r = spawnSync(exe, [...opts, bpf, String(NR.getpid), String(NR.getppid), String(NR.getpid)], { encoding: "utf8", cwd: dir });
    return { status: r.status, signal: r.signal, lines: r.stdout.trim().split("\n"), flags: c.flags };
  }
  const onGetppid = (action: string, extra: object = {}) => ({ defaultAction: "SCMP_ACT_ALLOW", ...extra, syscalls: [{ names: ["getppid"], action }] });

  test("SCMP_ACT_TRAP: SIGSYS with si_code SYS_SECCOMP and the syscall's number, which a handler can catch", () => {
    const r = install(onGetppid("SCMP_ACT_TRAP"), ["-t"]);
    expect(r.status).toBe(42);
    expect(r.lines.length).toBe(2);
    expect(r.lines[1]).toBe(`sigsys ${NR.getppid} 0 1`);
  });

  test("SCMP_ACT_KILL_PROCESS: the process dies of SIGSYS even with a handler; getpid before it ran", () => {
    const r = install(onGetppid("SCMP_ACT_KILL_PROCESS"), ["-t"]);
    expect(r.signal).toBe("SIGSYS");
    expect(r.lines.length).toBe(1);
    expect(r.lines[0]).toMatch(/^\d+ 0$/);
  });

  test("SCMP_ACT_KILL_THREAD in a single-threaded process: it dies of SIGSYS too", () => {
    const r = install(onGetppid("SCMP_ACT_KILL_THREAD"), ["-t"]);
    expect(r.signal).toBe("SIGSYS");
    expect(r.lines.length).toBe(1);
  });

  test("SCMP_ACT_LOG: the call is allowed (and logged)", () => {
    const r = install(onGetppid("SCMP_ACT_LOG"));
    expect(r.status).toBe(0);
    expect(r.lines.map((l) => Number(l.split(" ")[1]))).toEqual([0, 0, 0]);
    expect(Number(r.lines[1]?.split(" ")[0])).toBeGreaterThan(1);
  });

  test("the default action applies to what no rule names; TRAP as default traps getpid first", () => {
    const r = install({ defaultAction: "SCMP_ACT_TRAP", syscalls: [{ names: ["getppid", "write", "exit_group", "rt_sigreturn"], action: "SCMP_ACT_ALLOW" }] }, ["-t"]);
    expect(r.status).toBe(42);
    expect(r.lines).toEqual([`sigsys ${NR.getpid} 0 1`]);
  });

  const kernelFlags = kernelSeccompFlags() ?? 0;
  const both = FILTER_FLAG_LOG | FILTER_FLAG_SPEC_ALLOW;
  test.skipIf((kernelFlags & both) !== both)("flags LOG and SPEC_ALLOW: the kernel takes them with our program, which still decides", () => {
    const profile = onGetppid("SCMP_ACT_ERRNO", { flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] });
    (profile.syscalls[0] as Record<string, unknown>).errnoRet = 13;
    const withFlags = install(profile, ["-f", String(both)]);
    expect(withFlags.flags).toBe(both);
    expect(withFlags.lines[1]).toBe("-1 13");
    expect(withFlags.lines.length).toBe(3);
    // The helper really passes the flags: one the kernel does not know is refused.
    expect(install(profile, ["-f", String(1 << 30)]).lines).toEqual(["install-failed 22"]);
  });
  if ((kernelFlags & both) !== both) console.log("skipped the flags test: this kernel lacks SECCOMP_FILTER_FLAG_LOG or SPEC_ALLOW");
});
