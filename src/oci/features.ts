/** The runtime-spec "features" document: exactly what this build implements. Pure. */
import { CAPABILITIES } from "./capabilities.ts";
import { NAMESPACE_TYPES } from "./validate.ts";
import { MOUNT_OPTION_NAMES } from "../plan/mountopts.ts";


export interface FeatureFlags {
  cgroupV1: boolean;
  cgroupV2: boolean;
  /** `flags`: the flags isola knows; `supportedFlags`: those this kernel accepts */
  seccomp?: { actions: string[]; operators: string[]; archs: string[]; flags: string[]; supportedFlags: string[] };
  /** the kernel's Landlock ABI version (0: none), for the org.isola.landlock extension */
  landlockAbi?: number;
}

export function features(flags: FeatureFlags): Record<string, unknown> {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.2.0",
    hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
    mountOptions: [...MOUNT_OPTION_NAMES],
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: { v1: flags.cgroupV1, v2: flags.cgroupV2, systemd: false, systemdUser: false, rdma: true },
      seccomp: flags.seccomp
        ? { enabled: true, actions: flags.seccomp.actions, operators: flags.seccomp.operators, archs: flags.seccomp.archs, knownFlags: flags.seccomp.flags, supportedFlags: flags.seccomp.supportedFlags }
        : { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: true } },
    },
    annotations: {
      "org.isola.runtime.launcher": "isola-launcher (C, launch-plan interpreter)",
      ...(flags.landlockAbi !== undefined ? { "org.isola.landlock.abi": String(flags.landlockAbi) } : {}),
    },
  };
}
