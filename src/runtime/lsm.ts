/**
 * AppArmor and SELinux fields. isola applies neither: a requested profile or label is refused
 * before anything is created, saying whether the kernel lacks the LSM (this host) or only the
 * runtime lacks support; empty values mean "unset", as in runc.
 */
import * as fs from "node:fs";
import type { Process, Spec } from "../oci/types.ts";

/** The LSMs the kernel runs: /sys/kernel/security/lsm when securityfs is mounted, else the traces each leaves. */
export function activeLsms(): Set<string> {
  try {
    return new Set(fs.readFileSync("/sys/kernel/security/lsm", "utf8").trim().split(",").filter(Boolean));
  } catch {
    const found = new Set<string>();
    try {
      if (fs.readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").trim() === "Y") found.add("apparmor");
    } catch {
      // no AppArmor module
    }
    if (fs.existsSync("/sys/fs/selinux/enforce")) found.add("selinux");
    return found;
  }
}

/** Problems with the LSM fields of a process (and of the container, for create), naming each field. */
export function lsmProblems(proc: Process | undefined, linux: Spec["linux"] | undefined, lsms: Set<string> = activeLsms()): string[] {
  const errors: string[] = [];
  const check = (field: string, value: string | undefined, lsm: "apparmor" | "selinux", name: string) => {
    if (!value) return;
    errors.push(
      lsms.has(lsm)
        ? `${field}: ${JSON.stringify(value)} requested, but this runtime does not apply ${name} ${lsm === "apparmor" ? "profiles" : "labels"} (remove the field)`
        : `${field}: ${JSON.stringify(value)} requested, but ${name} is not enabled in this kernel (active LSMs: ${[...lsms].join(",") || "none found"}); remove the field`,
    );
  };
  check("process.apparmorProfile", proc?.apparmorProfile, "apparmor", "AppArmor");
  check("process.selinuxLabel", proc?.selinuxLabel, "selinux", "SELinux");
  check("linux.mountLabel", linux?.mountLabel, "selinux", "SELinux");
  return errors;
}
