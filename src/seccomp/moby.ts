/**
 * Resolves a moby-format seccomp profile (Docker's default.json: archMap, includes,
 * excludes) into the OCI `linux.seccomp` object for one host, as dockerd does before
 * handing it to the runtime. Pure.
 */

export interface MobyResolveOptions {
  /** Go's GOARCH spelling of the host arch: amd64, arm64, 386… */
  goArch: string;
  /** capabilities of the container's bounding set, CAP_* names */
  caps: readonly string[];
  /** running kernel "major.minor" (minKernel filters); omitted: every minKernel passes */
  kernel?: string;
}

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPS: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

const GOARCH_TO_SCMP: Readonly<Record<string, string>> = {
  amd64: "SCMP_ARCH_X86_64", "386": "SCMP_ARCH_X86", arm64: "SCMP_ARCH_AARCH64", arm: "SCMP_ARCH_ARM",
  mips64: "SCMP_ARCH_MIPS64", mips64le: "SCMP_ARCH_MIPSEL64", ppc64le: "SCMP_ARCH_PPC64LE", s390x: "SCMP_ARCH_S390X",
  riscv64: "SCMP_ARCH_RISCV64",
};

type Obj = Record<string, unknown>;
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

function kernelAtLeast(kernel: string | undefined, min: unknown): boolean {
  if (typeof min !== "string" || min === "" || kernel === undefined) return true;
  const parse = (s: string) => s.split(".").map((p) => Number.parseInt(p, 10) || 0);
  const [a = 0, b = 0] = parse(kernel), [c = 0, d = 0] = parse(min);
  return a !== c ? a > c : b >= d;
}

/** Returns the OCI seccomp object dockerd would produce for this host and capability set. */
export function resolveMobyProfile(profile: Obj, opts: MobyResolveOptions): Obj {
  const scmp = GOARCH_TO_SCMP[opts.goArch];
  let architectures = list(profile.architectures);
  if (architectures.length === 0 && Array.isArray(profile.archMap)) {
    for (const m of profile.archMap as Obj[]) {
      if (scmp !== undefined && m.architecture === scmp) architectures = [scmp, ...list(m.subArchitectures)];
    }
  }
  const syscalls: Obj[] = [];
  for (const call of (profile.syscalls ?? []) as Obj[]) {
    const inc = (call.includes ?? {}) as Obj, exc = (call.excludes ?? {}) as Obj;
    if (list(exc.arches).includes(opts.goArch)) continue;
    if (list(exc.caps).some((c) => opts.caps.includes(c))) continue;
    if (typeof exc.minKernel === "string" && exc.minKernel && kernelAtLeast(opts.kernel, exc.minKernel)) continue;
    const arches = list(inc.arches);
    if (arches.length && !arches.includes(opts.goArch)) continue;
    if (!list(inc.caps).every((c) => opts.caps.includes(c))) continue;
    if (!kernelAtLeast(opts.kernel, inc.minKernel)) continue;
    const names = typeof call.name === "string" && call.name ? [call.name] : list(call.names);
    const out: Obj = { names, action: call.action };
    if (call.errnoRet !== undefined) out.errnoRet = call.errnoRet;
    if (call.args !== undefined && call.args !== null) out.args = call.args;
    syscalls.push(out);
  }
  const out: Obj = { defaultAction: profile.defaultAction, architectures, syscalls };
  for (const k of ["defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"]) {
    if (profile[k] !== undefined) out[k] = profile[k];
  }
  return out;
}
