/** The runtime-spec "features" document: exactly what this build implements. Pure. */
import { CAPABILITIES } from "./capabilities.ts";
import { NAMESPACE_TYPES } from "./validate.ts";

const MOUNT_OPTIONS = [
  "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "lazytime", "mand", "noatime",
  "nodev", "nodiratime", "noexec", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
  "private", "rbind", "relatime", "remount", "ridmap", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared",
  "slave", "strictatime", "suid", "symfollow", "sync", "unbindable",
];

export interface FeatureFlags {
  cgroupV1: boolean;
  cgroupV2: boolean;
  seccomp?: { actions: string[]; operators: string[]; archs: string[]; flags: string[] };
  /** the kernel's Landlock ABI version (0: none), for the org.isola.landlock extension */
  landlockAbi?: number;
}

export function features(flags: FeatureFlags): Record<string, unknown> {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.2.0",
    hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
    mountOptions: MOUNT_OPTIONS,
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: { v1: flags.cgroupV1, v2: flags.cgroupV2, systemd: false, systemdUser: false, rdma: false },
      seccomp: flags.seccomp
        ? { enabled: true, actions: flags.seccomp.actions, operators: flags.seccomp.operators, archs: flags.seccomp.archs, knownFlags: flags.seccomp.flags, supportedFlags: flags.seccomp.flags }
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
