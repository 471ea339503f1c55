/** isola's seccomp compiler: OCI `linux.seccomp` → classic BPF, without libseccomp. */
export { compileSeccomp, validateSeccomp, type CompiledSeccomp, type CompileOptions } from "./compile.ts";
export { SeccompConfigError } from "./profile.ts";
export { SeccompCache, profileHash, type SeccompStore } from "./cache.ts";
export { resolveMobyProfile } from "./moby.ts";
export { SUPPLEMENT_KERNEL } from "./syscall_supplement.ts";
export { ACTIONS, FLAGS, OPERATORS } from "./profile.ts";
export { ARCHES } from "./arch.ts";
export { FILTER_FLAG_TSYNC } from "./bpf.ts";
