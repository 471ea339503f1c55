// The runtime's command line as tools drive it: spec, features, logs, usage errors,
// and create options (--no-pivot, absolute root.path, rootfsPropagation).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { isRoot, Runtime, uniqueId } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";

const rt = new Runtime();
let scratch = "";
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "isola-cli-"));
});
afterAll(() => {
  rt.cleanup();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe("command line", () => {
  test("spec writes runc's default config.json and refuses to overwrite it", () => {
    const dir = fs.mkdtempSync(path.join(scratch, "spec-"));
    expect(rt.run(["spec", "--bundle", dir]).code).toBe(0);
    const spec = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Spec;
    expect(spec.ociVersion).toBe("1.2.0");
    expect(spec.root).toEqual({ path: "rootfs", readonly: true });
    expect(spec.process!.args).toEqual(["sh"]);
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(["pid", "network", "ipc", "uts", "mount", "cgroup"]);
    const again = rt.run(["spec", "--bundle", dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("exists. Remove it first");
  });

  test("features lists what is implemented", () => {
    const f = JSON.parse(rt.run(["features"]).stdout);
    expect(f.ociVersionMax).toBe("1.2.0");
    expect(f.linux.namespaces).toEqual(["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]);
    expect(f.linux.capabilities).toContain("CAP_SYS_ADMIN");
    expect(f.mountOptions).toContain("rbind");
    // every option listed is one the runtime acts on, none is passed on as filesystem data
    const { parseMountOptions } = require("../plan/mountopts.ts") as typeof import("../plan/mountopts.ts");
    for (const o of f.mountOptions as string[]) expect([o, parseMountOptions([o], "bind").data]).toEqual([o, ""]);
    for (const o of ["rro", "rnosuid", "rnoatime", "rsymfollow", "tmpcopyup", "idmap", "ridmap"]) expect(f.mountOptions).toContain(o);
    expect(f.linux.cgroup.rdma).toBe(true);
    // the kernel's Landlock ABI version (0 without Landlock); security_test.ts enforces a policy with it
    expect(f.annotations["org.isola.landlock.abi"]).toMatch(/^\d+$/);
    expect(f.hooks).toContain("createContainer");
    expect(f.linux.seccomp.enabled).toBe(true);
  });

  test("usage errors: unknown command, unknown flag, missing id; runc's exit code 1", () => {
    const unknown = rt.run(["frobnicate"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No help topic for 'frobnicate'");
    expect(rt.run(["create", "--bogus", "x"]).stderr).toContain("flag provided but not defined: -bogus");
    expect(rt.run(["start"]).stderr).toContain('"start" requires exactly 1 argument(s)');
    // runc's global flags clients pass: --rootless takes true, false or auto
    expect(rt.run(["--rootless", "maybe", "list"]).stderr).toContain('--rootless: "maybe" is not true, false or auto');
    for (const v of ["true", "false", "auto"]) expect(rt.run([`--rootless=${v}`, "--systemd-cgroup", "list"]).code).toBe(0);
    expect(rt.run(["--log-format", "xml", "list"]).stderr).toContain('unknown log-format "xml"');
  });

  test("--log with --log-format json records errors as runc's JSON lines", () => {
    const log = path.join(scratch, "log.json");
    const r = rt.run(["--log", log, "--log-format", "json", "state", "no-such-container"]);
    expect(r.code).toBe(1);
    const lines = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ level: "error", msg: "container no-such-container does not exist" });
    expect(Number.isNaN(Date.parse(lines.at(-1).time))).toBe(false);
  });
});

describe.skipIf(!isRoot)("create options", () => {
  let bundle = "";
  let base: Spec;
  beforeAll(() => {
    bundle = makeBundle();
    base = readSpec(bundle);
  });
  afterAll(() => fs.rmSync(bundle, { recursive: true, force: true }));

  const runWith = (edit: (s: Spec) => void, extra: string[] = []) => {
    const spec: Spec = structuredClone(base);
    edit(spec);
    writeSpec(bundle, spec);
    return rt.run(["run", ...extra, "-b", bundle, uniqueId("opt")]);
  };

  test("--debug says the create phases, on stderr or in the --log", () => {
    const id = uniqueId("dbg");
    const r = runWith((s) => (s.process!.args = ["true"]), []);
    expect(r.stderr).toBe(""); // without --debug: nothing
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["true"];
    writeSpec(bundle, spec);
    const d = rt.run(["--debug", "run", "-b", bundle, id]);
    expect(d.code).toBe(0);
    expect(d.stderr).toMatch(new RegExp(`isola-runtime: debug: create ${id}: config [\\d.]+, checks\\+seccomp [\\d.]+, host facts\\+state [\\d.]+, cgroups [\\d.]+, plan [\\d.]+, launcher [\\d.]+ \\(ms; [\\d.]+ in all\\)`));
    const log = path.join(rt.root, "..", `${path.basename(rt.root)}.debug.json`);
    try {
      const id2 = uniqueId("dbg");
      expect(rt.run(["--debug", "--log", log, "--log-format", "json", "run", "-b", bundle, id2]).stderr).toBe("");
      const lines = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
      expect(lines.some((l) => l.level === "debug" && l.msg.startsWith(`create ${id2}: config `))).toBe(true);
    } finally {
      fs.rmSync(log, { force: true });
    }
  });

  test("--rootless=true as real root keeps the device cgroup (it is left alone only where it can't be set)", () => {
    const id = uniqueId("rl");
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "30"];
    writeSpec(bundle, spec);
    expect(rt.run(["--rootless=true", "run", "-d", "-b", bundle, id]).code).toBe(0);
    try {
      const paths = JSON.parse(fs.readFileSync(path.join(rt.root, id, "state.json"), "utf8")).cgroup.paths as Record<string, string>;
      if (paths.devices) {
        const list = fs.readFileSync(`${paths.devices}/devices.list`, "utf8");
        expect(list).not.toContain("a *:* rwm");
        expect(list).toContain("c 1:3 rwm");
      }
    } finally {
      expect(rt.run(["delete", "--force", id]).code).toBe(0);
    }
  });

  test("--no-pivot: the rootfs becomes / by MS_MOVE + chroot", () => {
    const r = runWith((s) => (s.process!.args = ["sh", "-c", "ls /bin/busybox && grep -c ' / ' /proc/self/mountinfo"]), ["--no-pivot"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("/bin/busybox");
  });

  test("an absolute root.path", () => {
    const r = runWith((s) => {
      s.root!.path = path.join(bundle, "rootfs");
      s.process!.args = ["cat", "/etc/passwd"];
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("root:x:0:0");
  });

  test("rootfsPropagation: shared makes / a shared mount inside the container", () => {
    const r = runWith((s) => {
      s.linux!.rootfsPropagation = "rshared";
      s.process!.args = ["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"];
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/ shared:\d+/);
    const p = runWith((s) => {
      s.linux!.rootfsPropagation = "private";
      s.process!.args = ["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"];
    });
    expect(p.stdout).not.toMatch(/shared:|master:/);
  });
});
