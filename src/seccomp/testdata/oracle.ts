// Test and bench helper (not part of the runtime): builds the same profile with
// Debian's libseccomp through testdata/libseccomp_export.c, mirroring how runc feeds
// libseccomp, so programs can be compared verdict by verdict.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BAD_ARCH_RET } from "../compile.ts";
import { parseProfile } from "../profile.ts";

const OP_NUM: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const ARCH_NAME: Record<string, string> = {
  SCMP_ARCH_X86_64: "x86_64", SCMP_ARCH_X86: "x86", SCMP_ARCH_X32: "x32", SCMP_ARCH_AARCH64: "aarch64", SCMP_ARCH_ARM: "arm",
};

/** Makes sure gcc and libseccomp's headers are here (installs them as setup would); returns why not, or undefined. */
export function ensureLibseccomp(): string | undefined {
  const have = () => existsSync("/usr/include/seccomp.h") && spawnSync("gcc", ["--version"]).status === 0;
  if (have()) return undefined;
  if (process.getuid?.() === 0) {
    spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "gcc", "libc6-dev", "libseccomp-dev"], { stdio: "ignore" });
  }
  return have() ? undefined : "gcc and libseccomp-dev are not installed and could not be installed";
}

/** Compiles the exporter into a fresh temp dir and returns its path. */
export function buildExporter(dir = mkdtempSync(join(tmpdir(), "isola-seccomp-"))): string {
  const exe = join(dir, "libseccomp_export");
  execFileSync("gcc", ["-O2", "-o", exe, new URL("./libseccomp_export.c", import.meta.url).pathname, "-lseccomp"]);
  return exe;
}

/**
 * The numbers libseccomp gives `names` on `arch` (SCMP_ARCH_*), through
 * testdata/libseccomp_resolve.c built into `dir`; negative where it knows none.
 */
export function libseccompNumbers(dir: string, arch: string, names: readonly string[]): number[] {
  const exe = join(dir, "libseccomp_resolve");
  if (!existsSync(exe)) execFileSync("gcc", ["-O2", "-o", exe, new URL("./libseccomp_resolve.c", import.meta.url).pathname, "-lseccomp"]);
  const r = spawnSync(exe, [], { input: names.map((n) => `${ARCH_NAME[arch]} ${n}\n`).join(""), encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`libseccomp_resolve failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim().split("\n").map(Number);
}

/** The exporter's input for an OCI profile, converted as runc converts it. */
export function exporterInput(profile: unknown, optimize: 1 | 2): string {
  const errors: string[] = [];
  const p = parseProfile(profile, errors);
  if (!p) throw new Error(errors.join("\n"));
  const lines = [`default ${p.defaultRet}`, `badarch ${BAD_ARCH_RET}`, `optimize ${optimize}`];
  for (const a of p.architectures) {
    const n = ARCH_NAME[a];
    if (n) lines.push(`arch ${n}`);
  }
  for (const r of p.rules) {
    if (r.ret === p.defaultRet) continue; // runc skips these; libseccomp would refuse them
    const cmp = (c: (typeof r.conds)[number]) => `${c.index} ${OP_NUM[c.op]} ${c.value} ${c.valueTwo}`;
    // runc: an argument compared twice splits the rule into one rule per comparison.
    const sets = r.splitConds ? r.conds.map((c) => [c]) : [r.conds];
    for (const name of r.names) for (const cs of sets) lines.push(`rule ${r.ret} ${name} ${cs.length} ${cs.map(cmp).join(" ")}`.trimEnd());
  }
  return lines.join("\n") + "\n";
}

/** libseccomp's program for `profile` (optimize 1: linear, as runc; 2: binary tree). */
export function libseccompProgram(exe: string, profile: unknown, optimize: 1 | 2 = 1): Uint8Array {
  const r = spawnSync(exe, [], { input: exporterInput(profile, optimize), maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`libseccomp exporter failed (${r.status}): ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout);
}
