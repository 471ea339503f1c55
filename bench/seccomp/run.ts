// bench/seccomp: Docker's default profile (amd64, Docker's default capabilities) compiled
// by isola and by libseccomp (linear as runc builds it, and its binary tree), compared on
// BPF instructions executed per syscall and on ns per call of getppid and personality
// with each filter installed, in a plain process and inside containers made by isola and by
// runc. Run: node_modules/.bin/bun bench/seccomp/run.ts [--iterations N]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AUDIT_ARCH_X86_64 } from "../../src/seccomp/arch.ts";
import { decodeProgram, RET_ALLOW } from "../../src/seccomp/bpf.ts";
import { compileSeccomp } from "../../src/seccomp/compile.ts";
import { runBpf } from "../../src/seccomp/interp.ts";
import { DOCKER_DEFAULT_CAPS, resolveMobyProfile } from "../../src/seccomp/moby.ts";
import { SYSCALLS_X86_64 } from "../../src/seccomp/syscalls_x86_64.ts";
import { buildExporter, ensureLibseccomp, libseccompProgram } from "../../src/seccomp/testdata/oracle.ts";

const iterArg = process.argv.indexOf("--iterations");
const ITER = iterArg > 0 ? Number(process.argv[iterArg + 1]) : 2_000_000;
const RUNS = 7;

/** The 20 syscalls that dominate typical server and shell workloads (strace -c). */
const COMMON = [
  "read", "write", "openat", "close", "newfstatat", "fstat", "mmap", "mprotect", "munmap", "brk", "rt_sigaction",
  "rt_sigprocmask", "ioctl", "futex", "epoll_wait", "lseek", "getpid", "clock_gettime", "recvfrom", "sendto",
];
/** Argument values tried for the argument-checked calls when looking for the longest path. */
const SPREAD = [0n, 8n, 40n, 0x20000n, 0x20008n, 0xffffffffn, 0x7e020000n, 0x100000000n, 3n];

const missing = ensureLibseccomp();
if (missing) {
  console.log(`bench/seccomp: ${missing}`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "isola-seccomp-bench-"));
try {
  const moby = JSON.parse(readFileSync(new URL("../../src/seccomp/testdata/moby-default.json", import.meta.url), "utf8"));
  const profile = resolveMobyProfile(moby, { goArch: "amd64", caps: DOCKER_DEFAULT_CAPS, kernel: "6.1" });
  const exe = buildExporter(dir);
  const filters: Array<[string, Uint8Array]> = [
    ["isola", compileSeccomp(profile).program],
    ["libseccomp linear", libseccompProgram(exe, profile, 1)],
    ["libseccomp tree", libseccompProgram(exe, profile, 2)],
  ];

  // --- instructions executed ------------------------------------------------------
  type Stats = { total: number; allowed: number; common: number; denied: number; max: number };
  const stats = filters.map(([name, bytes]): [string, Stats] => {
    const insns = decodeProgram(bytes);
    const allowed: number[] = [], denied: number[] = [], common: number[] = [];
    let max = 0;
    for (const [sys, nr] of Object.entries(SYSCALLS_X86_64)) {
      const r = runBpf(insns, { nr, arch: AUDIT_ARCH_X86_64 });
      (r.ret === RET_ALLOW ? allowed : denied).push(r.executed);
      if (COMMON.includes(sys)) common.push(r.executed);
      for (const a of SPREAD) max = Math.max(max, runBpf(insns, { nr, arch: AUDIT_ARCH_X86_64, args: [a, a] }).executed);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    return [name, { total: insns.length, allowed: mean(allowed), common: mean(common), denied: mean(denied), max }];
  });
  const ours = (stats[0] as [string, Stats])[1];
  const fmt = (v: number, base: number) => `${v.toFixed(1).padStart(7)} ${(v / base).toFixed(2).padStart(5)}x`;
  console.log("BPF instructions, Docker default profile on x86_64 (ratio = filter / isola)");
  console.log(`${"filter".padEnd(20)}${"total".padStart(14)}${"mean allowed".padStart(15)}${"mean top-20".padStart(15)}${"mean denied".padStart(15)}${"max".padStart(15)}`);
  for (const [name, s] of stats) {
    console.log(`${name.padEnd(20)}${fmt(s.total, ours.total).padStart(14)}${fmt(s.allowed, ours.allowed).padStart(15)}${fmt(s.common, ours.common).padStart(15)}${fmt(s.denied, ours.denied).padStart(15)}${fmt(s.max, ours.max).padStart(15)}`);
  }

  // --- ns per call -------------------------------------------------------------------
  const loop = join(dir, "syscall_loop");
  execFileSync("gcc", ["-O2", "-o", loop, new URL("./syscall_loop.c", import.meta.url).pathname]);
  // A one-instruction "allow everything" filter: the floor for any filter, since an
  // installed filter sends every syscall through the kernel's seccomp entry path.
  const allowAll = join(dir, "allow_all.bpf");
  writeFileSync(allowAll, new Uint8Array([0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f]));
  const files: Array<[string, string]> = [["no filter", "none"], ["ret ALLOW (1 insn)", allowAll]];
  for (const [name, bytes] of filters) {
    const f = join(dir, `${name.replace(/ /g, "_")}.bpf`);
    writeFileSync(f, bytes);
    files.push([name, f]);
  }
  const once = (file: string, call: string): number => {
    const r = spawnSync(loop, [file, call, String(ITER)], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${call} with ${file}: ${r.stderr}`);
    return Number(r.stdout.trim());
  };
  // Runs are interleaved across filters so a noisy moment hits them all alike.
  const samples = files.map(() => ({ getppid: [] as number[], personality: [] as number[] }));
  for (let i = 0; i < RUNS; i++) {
    files.forEach(([, f], j) => {
      (samples[j] as { getppid: number[] }).getppid.push(once(f, "getppid"));
      (samples[j] as { personality: number[] }).personality.push(once(f, "personality"));
    });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(`\nns per call, median of ${RUNS} interleaved runs of ${ITER} calls, in a process with the filter installed (ratio = filter / isola)`);
  console.log(`${"filter".padEnd(20)}${"getppid".padStart(16)}${"personality(-1)".padStart(18)}`);
  const rows = files.map(([name], j) => [name, median(samples[j]?.getppid ?? []), median(samples[j]?.personality ?? [])] as const);
  const base = rows.find((r) => r[0] === "isola") as readonly [string, number, number];
  for (const [name, g, p] of rows) {
    console.log(`${name.padEnd(20)}${fmt(g, base[1]).padStart(16)}${fmt(p, base[2]).padStart(18)}`);
  }

  // --- inside a container ---------------------------------------------------------------
  // The same loop as a container's process, with the profile installed by each runtime
  // itself (isola's compiler; runc's libseccomp), and without a profile.
  if ((process.getuid?.() ?? 1) !== 0) {
    console.log("\n(ns per call inside a container: needs root, skipped)");
  } else {
    const staticLoop = join(dir, "syscall_loop_static");
    execFileSync("gcc", ["-O2", "-static", "-o", staticLoop, new URL("./syscall_loop.c", import.meta.url).pathname]);
    const { makeBundle, readSpec, writeSpec } = await import("../../test/bundle.ts");
    const bundle = makeBundle(undefined, dir);
    execFileSync("cp", [staticLoop, join(bundle, "rootfs/bin/syscall_loop")]);
    const state = join(dir, "state");
    const runtimes = [
      ["isola-runtime", new URL("../../bin/isola-runtime", import.meta.url).pathname],
      ["runc", "runc"],
    ] as const;
    // libseccomp's tree has no runtime that installs it: the loop installs it itself (as it
    // does outside), in a container with no profile of its own
    const treeFile = files.find(([name]) => name === "libseccomp tree")?.[1];
    if (treeFile) execFileSync("cp", [treeFile, join(bundle, "rootfs/tree.bpf")]);
    const inContainer = (bin: string, seccomp: boolean, call: string, n: number, filter = "none"): number | string => {
      const spec = readSpec(bundle);
      spec.process!.args = ["/bin/syscall_loop", filter, call, String(ITER)];
      spec.process!.terminal = false;
      spec.ociVersion = "1.0.2";
      delete spec.linux!.resources;
      if (seccomp) spec.linux!.seccomp = profile as never;
      else delete spec.linux!.seccomp;
      writeSpec(bundle, spec);
      const r = spawnSync(bin, ["--root", state, "run", "-b", bundle, `sc-${n}`], { encoding: "utf8" });
      if (r.status !== 0) return `${r.stderr.trim().split("\n").pop()}`;
      return Number(r.stdout.trim());
    };
    const cases: (readonly [string, string, boolean, string])[] = runtimes.flatMap(([name, bin]) => [
      [`${name}, profile`, bin, true, "none"] as const,
      [`${name}, none`, bin, false, "none"] as const,
    ]);
    if (treeFile) cases.push(["isola-runtime, tree", runtimes[0][1], false, "/tree.bpf"]);
    const got = cases.map(() => ({ getppid: [] as number[], personality: [] as number[], error: "" }));
    let n = 0;
    for (let i = 0; i < RUNS; i++)
      cases.forEach(([, bin, sec, filter], j) => {
        for (const call of ["getppid", "personality"] as const) {
          const v = inContainer(bin, sec, call, n++, filter);
          if (typeof v === "string") got[j]!.error ||= v;
          else got[j]![call].push(v);
        }
      });
    console.log(`\nns per call inside a container (Docker's default profile as each runtime installs it; "tree": libseccomp's tree installed by the program), median of ${RUNS} runs`);
    console.log(`${"container".padEnd(24)}${"getppid".padStart(10)}${"personality(-1)".padStart(18)}`);
    cases.forEach(([name], j) => {
      const g = got[j]!;
      if (g.error && !g.getppid.length) console.log(`${name.padEnd(24)}  skipped: ${g.error}`);
      else console.log(`${name.padEnd(24)}${median(g.getppid).toFixed(1).padStart(10)}${median(g.personality).toFixed(1).padStart(18)}`);
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
