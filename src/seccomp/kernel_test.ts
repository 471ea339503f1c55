// The kernel accepts our programs and enforces them: Docker's default profile installed
// in a real process allows and denies what it should.
import { expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
