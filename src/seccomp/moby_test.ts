import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DOCKER_DEFAULT_CAPS, resolveMobyProfile } from "./moby.ts";

const moby = JSON.parse(readFileSync(new URL("./testdata/moby-default.json", import.meta.url), "utf8"));
const names = (p: Record<string, unknown>) => (p.syscalls as Array<{ names: string[] }>).flatMap((s) => s.names);

test("amd64 with Docker's default caps: x86 family arches, cap- and arch-gated rules resolved", () => {
  const p = resolveMobyProfile(moby, { goArch: "amd64", caps: DOCKER_DEFAULT_CAPS, kernel: "6.1" });
  expect(p.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  expect(p.defaultAction).toBe("SCMP_ACT_ERRNO");
  expect(p.defaultErrnoRet).toBe(1);
  const n = names(p);
  expect(n).toContain("arch_prctl");
  expect(n).toContain("chroot");
  expect(n).toContain("ptrace");
  expect(n).not.toContain("mount");
  expect(n).not.toContain("cacheflush");
  expect(n).not.toContain("reboot");
  const clone = (p.syscalls as Array<{ names: string[]; args?: unknown[] }>).filter((s) => s.names.includes("clone"));
  expect(clone.length).toBe(1);
  expect(clone[0]?.args).toEqual([{ index: 0, value: 2114060288, op: "SCMP_CMP_MASKED_EQ" }]);
});

test("CAP_SYS_ADMIN lifts the clone restriction; an old kernel loses minKernel rules; arm64 gets its arches", () => {
  const admin = resolveMobyProfile(moby, { goArch: "amd64", caps: [...DOCKER_DEFAULT_CAPS, "CAP_SYS_ADMIN"], kernel: "6.1" });
  expect(names(admin)).toContain("mount");
  expect((admin.syscalls as Array<{ names: string[]; args?: unknown }>).some((s) => s.names.includes("clone") && s.args)).toBe(false);
  const old = resolveMobyProfile(moby, { goArch: "amd64", caps: DOCKER_DEFAULT_CAPS, kernel: "4.4" });
  expect(names(old)).not.toContain("ptrace");
  const arm = resolveMobyProfile(moby, { goArch: "arm64", caps: DOCKER_DEFAULT_CAPS });
  expect(arm.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  expect(names(arm)).toContain("cacheflush");
});
