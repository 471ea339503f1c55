import { describe, expect, test } from "bun:test";
import { defaultSpec } from "../oci/defaults.ts";
import { parseLandlock } from "../oci/landlock.ts";
import { compilePlan, SECCOMP_LISTENER_SYNC, type CompileOptions, type LaunchPlan } from "./compile.ts";
import { compileExecPlan } from "./exec.ts";

const opts = (over: Partial<CompileOptions> = {}): CompileOptions => ({
  id: "c1",
  bundle: "/b",
  rootfs: "/b/rootfs",
  execFifo: "/run/isola/c1/exec.fifo",
  host: { sourceKinds: {}, cgroupLayout: "v2", cgroupV1Hierarchies: [] },
  ...over,
});
const seccomp = { flags: 8, program: new Uint8Array(8), listenerPath: "/run/listener.sock" };
const landlock = parseLandlock({ "org.isola.landlock": JSON.stringify({ rules: [{ path: "/data", access: ["read_file", "read_dir"] }] }) }, [])!;
const steps = (plan: LaunchPlan, section: keyof LaunchPlan["sections"]) => plan.sections[section].map((s) => s.step);
const before = (list: string[], a: string, b: string) => list.indexOf(a) >= 0 && list.indexOf(a) < list.indexOf(b);

describe("security steps in the plans", () => {
  for (const nnp of [true, false]) {
    test(`create (noNewPrivileges ${nnp}): listener connected in PRE, state synced before READY and before SECCOMP; Landlock applied after the exec fifo, before seccomp`, () => {
      const spec = defaultSpec();
      spec.process!.terminal = false;
      spec.process!.noNewPrivileges = nnp;
      const plan = compilePlan(spec, opts({ seccomp, landlock }));
      expect(steps(plan, "PRE")).toContain("SECCOMP_LISTENER_CONNECT");
      const init = steps(plan, "INIT");
      expect(init[0]).toBe("DUMPABLE");
      expect(before(init, "SECCOMP_LISTENER_STATE", "READY")).toBe(true);
      expect(before(init, "SECCOMP_LISTENER_STATE", "SECCOMP")).toBe(true);
      expect(before(init, "LANDLOCK_RULESET", "READY")).toBe(true);
      expect(before(init, "LANDLOCK_RULE", "READY")).toBe(true);
      expect(before(init, "WAIT_EXEC_FIFO", "LANDLOCK_RESTRICT")).toBe(true);
      expect(init.at(-2)).toBe(nnp ? "SECCOMP" : "LANDLOCK_RESTRICT");
      expect(plan.syncs).toEqual([SECCOMP_LISTENER_SYNC]);
      const rule = plan.sections.INIT.find((s) => s.step === "LANDLOCK_RULE")!;
      expect(rule.args).toEqual(["/data", (1n << 2n) | (1n << 3n)]);
      expect(rule.origin).toBe(`annotations["org.isola.landlock"].rules[0]`);
    });
  }

  test("exec: not dumpable from stage 1 on, listener and Landlock as for create", () => {
    const spec = defaultSpec();
    const plan = compileExecPlan({ ...spec.process!, terminal: false, noNewPrivileges: true }, { initPid: 42, namespaces: ["pid", "mount"], cgroupDirs: {}, seccomp, landlock });
    expect(steps(plan, "STAGE1")[0]).toBe("DUMPABLE");
    expect(steps(plan, "PRE")).toContain("SECCOMP_LISTENER_CONNECT");
    const init = steps(plan, "INIT");
    expect(before(init, "SECCOMP_LISTENER_STATE", "READY")).toBe(true);
    expect(before(init, "READY", "LANDLOCK_RESTRICT")).toBe(true);
    expect(init.slice(-3)).toEqual(["LANDLOCK_RESTRICT", "SECCOMP", "EXEC"]);
    expect(plan.syncs).toEqual([SECCOMP_LISTENER_SYNC]);
  });

  test("without a listener or a policy none of these steps appear", () => {
    const spec = defaultSpec();
    spec.process!.terminal = false;
    const plan = compilePlan(spec, opts({ seccomp: { flags: 0, program: new Uint8Array(8) } }));
    const all = [...steps(plan, "PRE"), ...steps(plan, "INIT")];
    for (const s of ["SECCOMP_LISTENER_CONNECT", "SECCOMP_LISTENER_STATE", "LANDLOCK_RULESET", "LANDLOCK_RESTRICT"]) expect(all).not.toContain(s);
    expect(plan.syncs).toEqual([]);
  });
});

describe("parseLandlock", () => {
  test("handled defaults to every right; names map to the kernel's bits", () => {
    const p = parseLandlock({ "org.isola.landlock": `{"rules":[{"path":"/bin","access":["execute","ioctl_dev"]}]}` }, [])!;
    expect(p.handled).toBe((1n << 16n) - 1n);
    expect(p.rules).toEqual([{ path: "/bin", access: 1n | (1n << 15n) }]);
    expect(parseLandlock({}, [])).toBeUndefined();
  });

  test("every problem names its field", () => {
    const errors: string[] = [];
    parseLandlock({ "org.isola.landlock": `{"rules":[{"path":"rel","access":[]},{"path":"/x","access":["write_file"],"mode":1}],"handled":["read_file"]}` }, errors);
    expect(errors).toEqual([
      `annotations["org.isola.landlock"].rules[0].path: expected an absolute path inside the container, found "rel"`,
      `annotations["org.isola.landlock"].rules[0].access: expected a non-empty array of access rights (execute, write_file, read_file, read_dir, remove_dir, remove_file, make_char, make_dir, make_reg, make_sock, make_fifo, make_block, make_sym, refer, truncate, ioctl_dev)`,
      `annotations["org.isola.landlock"].rules[1].mode: unknown field (expected "path" and "access")`,
      `annotations["org.isola.landlock"].rules[1].access: write_file not in "handled" (a right that is not handled is never restricted)`,
    ]);
    const bad: string[] = [];
    parseLandlock({ "org.isola.landlock": "{" }, bad);
    expect(bad[0]).toStartWith(`annotations["org.isola.landlock"]: not valid JSON`);
  });
});
