// Integration: containers run under the seccomp filter compiled by src/seccomp (root only).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { isRoot, REPO, Runtime, uniqueId } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";
import { resolveMobyProfile } from "../seccomp/mod.ts";
import { features } from "../oci/features.ts";
import { ConfigError } from "../oci/validate.ts";
import { compileContainerSeccomp, seccompFeatures } from "./seccomp.ts";
import { kernelSeccompFlags } from "./seccomp_probe.ts";

const rt = new Runtime();
let bundle = "";
let base: Spec;
beforeAll(() => {
  bundle = makeBundle();
  base = readSpec(bundle);
  // A static program in the rootfs that makes raw syscalls and prints "<ret> <errno>" for each.
  const cc = Bun.spawnSync(["gcc", "-static", "-O1", "-o", `${bundle}/rootfs/bin/sysprobe`, `${REPO}/src/seccomp/testdata/install_and_call.c`], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(`gcc -static install_and_call.c: ${cc.stderr.toString()}`);
});

/** Docker's default profile for this host with the default spec's capabilities, as dockerd resolves it. */
function mobyProfile(): Record<string, unknown> {
  const moby = JSON.parse(fs.readFileSync(new URL("../seccomp/testdata/moby-default.json", import.meta.url), "utf8"));
  return resolveMobyProfile(moby, { goArch: "amd64", caps: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"] });
}

/** sysprobe's answers: [ret, errno] per call. */
const answers = (stdout: string) => stdout.trim().split("\n").filter((l) => /^-?\d+ \d+$/.test(l)).map((l) => l.split(" ").map(Number));
afterAll(() => {
  rt.cleanup();
  fs.rmSync(bundle, { recursive: true, force: true });
});

function run(script: string, seccomp: unknown, nnp = true) {
  const spec: Spec = structuredClone(base);
  spec.process!.args = ["sh", "-c", script];
  spec.process!.noNewPrivileges = nnp;
  spec.root!.readonly = false;
  spec.linux!.seccomp = seccomp as Record<string, unknown>;
  writeSpec(bundle, spec);
  return rt.run(["run", "-b", bundle, uniqueId("sc")]);
}

test("names isola's tables do not know are ignored with a warning that says whose tables", async () => {
  const warnings: string[] = [];
  const c = await compileContainerSeccomp({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["getppid", "cachestat", "no_such_call"], action: "SCMP_ACT_ALLOW" }] }, (m) => warnings.push(m));
  expect(c?.unknownNames).toEqual(["no_such_call"]);
  expect(warnings).toEqual(["linux.seccomp: syscalls isola's syscall tables do not know (misspelt, or newer than Linux 6.18) are ignored: no_such_call"]);
});

describe("the kernel's seccomp flags", () => {
  const LOG = 2, SPEC_ALLOW = 4, NEW_LISTENER = 8;
  const flagged = { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] };

  test("a flag the kernel lacks is refused at create, naming linux.seccomp.flags[i]", async () => {
    const err = await compileContainerSeccomp(flagged, () => {}, () => LOG | NEW_LISTENER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).toContain("linux.seccomp.flags[1]: this kernel does not support SECCOMP_FILTER_FLAG_SPEC_ALLOW");
    expect((await compileContainerSeccomp(flagged, () => {}, () => LOG | SPEC_ALLOW))?.flags).toBe(LOG | SPEC_ALLOW);
  });

  test("a notifying rule needs NEW_LISTENER; profiles without flags or notify do not ask the kernel", async () => {
    const notify = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/l.sock", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }, { names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] };
    const err = await compileContainerSeccomp(notify, () => {}, () => LOG).catch((e: unknown) => e);
    expect(String(err)).toContain("linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY needs SECCOMP_FILTER_FLAG_NEW_LISTENER");
    let asked = 0;
    await compileContainerSeccomp({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] }, () => {}, () => (asked++, 0));
    expect(asked).toBe(0);
    await compileContainerSeccomp(notify, () => {}, () => (asked++, NEW_LISTENER));
    expect(asked).toBe(1);
  });

  test("features reports the flags isola knows and, as supportedFlags, those the kernel accepts", async () => {
    const f = await seccompFeatures(() => LOG);
    expect(f.flags).toEqual(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]);
    expect(f.supportedFlags).toEqual(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"]);
    expect(f.archs).toContain("SCMP_ARCH_ARM");
    const doc = features({ cgroupV1: true, cgroupV2: true, seccomp: f }) as { linux: { seccomp: Record<string, unknown> } };
    expect(doc.linux.seccomp.knownFlags).toEqual(f.flags);
    expect(doc.linux.seccomp.supportedFlags).toEqual(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"]);
    // The command asks this kernel.
    const kernel = kernelSeccompFlags() ?? 0;
    const cli = JSON.parse(rt.run(["features"]).stdout).linux.seccomp;
    expect(cli.supportedFlags).toEqual((await seccompFeatures(() => kernel)).supportedFlags);
    expect(cli.knownFlags).toEqual(f.flags);
  });
});

describe.skipIf(!isRoot)("seccomp", () => {
  const denyMkdir = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
      { names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: 22, args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }] },
    ],
  };

  test("a denied syscall fails with the configured errno; the rest works; Seccomp mode 2", () => {
    const r = run("mkdir /tmp/x 2>&1; echo ok > /tmp/file && cat /tmp/file; grep -E '^Seccomp:' /proc/self/status | tr -s '\\t' ' '", denyMkdir);
    expect(r.stdout).toContain("Operation not permitted");
    expect(r.stdout).toContain("ok\n");
    expect(r.stdout).toContain("Seccomp: 2");
  });

  test("without no_new_privs the filter is installed before privileges drop", () => {
    const r = run("mkdir /tmp/y 2>&1; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s '\\t' ' '", denyMkdir, false);
    expect(r.stdout).toContain("Operation not permitted");
    expect(r.stdout).toContain("NoNewPrivs: 0");
    expect(r.stdout).toContain("Seccomp: 2");
  });

  test("Docker's default profile runs a shell; exec inherits the filter", () => {
    // personality(ADDR_NO_RANDOMIZE) needs no capability, and Docker's profile allows only
    // five personality values: the control container without the profile shows the call
    // works there, so its EPERM under the profile comes from the filter.
    const execProbe = (seccomp: Record<string, unknown> | undefined) => {
      const spec: Spec = structuredClone(base);
      spec.process!.args = ["sleep", "100"];
      if (seccomp) spec.linux!.seccomp = seccomp;
      else delete spec.linux!.seccomp;
      writeSpec(bundle, spec);
      const id = uniqueId("moby");
      const r = rt.run(["run", "-d", "-b", bundle, id]);
      expect(r.stderr).toBe("");
      try {
        return rt.run(["exec", id, "sh", "-c", "grep -E '^Seccomp:' /proc/self/status | tr -s '\\t' ' '; /bin/sysprobe - 135:0x40000 135:0xffffffff"]).stdout;
      } finally {
        rt.run(["delete", "--force", id]);
      }
    };
    const control = execProbe(undefined);
    expect(control).toContain("Seccomp: 0");
    expect(answers(control)).toEqual([[0, 0], [0x40000, 0]]); // old persona PER_LINUX, then the one just set
    const filtered = execProbe(mobyProfile());
    expect(filtered).toContain("Seccomp: 2");
    expect(answers(filtered)).toEqual([[-1, 1], [0, 0]]); // denied by the profile; querying is allowed
  });

  test("runc's ENOSYS stub: numbers above the profile's last syscall get ENOSYS, a denied known call still the profile's errno", () => {
    // file_setattr (469) is newer than every call the test profile names (its last is
    // futex_waitv, 449) but exists here; 1000 exists nowhere; personality(ADDR_NO_RANDOMIZE)
    // needs no capability, and Docker's profile allows only five personality values.
    const calls = "469 1000 135:0x40000";
    const control = answers(run(`/bin/sysprobe - ${calls}`, undefined).stdout);
    expect(control.length).toBe(3);
    expect(control[0]?.[1]).not.toBe(38); // the kernel has file_setattr (EFAULT/EINVAL for no arguments)
    expect(control[2]?.[0]).toBeGreaterThanOrEqual(0);
    const r = run(`/bin/sysprobe - ${calls}`, mobyProfile());
    expect(answers(r.stdout)).toEqual([[-1, 38], [-1, 38], [-1, 1]]);
  });

  test("flags the kernel accepts reach seccomp(2): a profile with LOG and SPEC_ALLOW runs filtered", () => {
    const r = run("mkdir /tmp/z 2>&1; grep -E '^Seccomp:' /proc/self/status | tr -s '\\t' ' '", { ...denyMkdir, flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Operation not permitted");
    expect(r.stdout).toContain("Seccomp: 2");
  });

  test("a malformed profile is refused before anything is created, naming the rule", () => {
    const id = uniqueId("badsc");
    const spec: Spec = structuredClone(base);
    spec.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_BOGUS" }] };
    writeSpec(bundle, spec);
    const r = rt.run(["create", "-b", bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("linux.seccomp.syscalls[0].action");
    expect(fs.existsSync(`${rt.root}/${id}`)).toBe(false);
  });
});
