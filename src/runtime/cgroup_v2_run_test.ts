// Integration on a cgroup v2 host (root): containers are cloned straight into their cgroup
// (clone3 CLONE_INTO_CGROUP), get their limits, and see their cgroup namespace rooted there;
// a rootless caller in a delegated subtree gets its containers' cgroups there.
// This host is hybrid, so the test runs in the lab's v2-only guest (test/lab); elsewhere it is
// skipped with the reason.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { makeBundle, makeRootfs, readSpec, writeSpec } from "../../test/bundle.ts";
import { isRoot, runCaptured, Runtime, runtimeArgvFor, uniqueId, waitFor, withDetached } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";

const v2Only = fs.existsSync("/sys/fs/cgroup/cgroup.controllers") && !fs.readFileSync("/proc/self/cgroup", "utf8").split("\n").some((l) => l && !l.startsWith("0::"));
const why = !isRoot ? "needs root" : !v2Only ? "this host is not cgroup v2 only (the lab's guest is: test/lab)" : undefined;
if (why) console.log(`skipping containers on cgroup v2: ${why}`);

const rt = new Runtime();
let bundle = "";
let base: Spec;

beforeAll(() => {
  if (why) return;
  bundle = makeBundle();
  base = readSpec(bundle);
});
afterAll(() => {
  rt.cleanup();
  if (bundle) fs.rmSync(bundle, { recursive: true, force: true });
});

describe.skipIf(why !== undefined)("containers on cgroup v2", () => {
  test("born in their cgroup with its limits; cgroup namespace rooted there; nothing left after delete", () => {
    const id = uniqueId("v2");
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    spec.linux!.resources = { memory: { limit: 64 << 20 }, pids: { limit: 20 } };
    writeSpec(bundle, spec);
    expect(rt.run(["run", "-d", "-b", bundle, id]).stderr).toBe("");
    let dir = "";
    try {
      const pid = JSON.parse(rt.run(["state", id]).stdout).pid as number;
      const line = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim();
      expect(line).toMatch(new RegExp(`^0::/.*isola-runtime/${id}$`));
      dir = `/sys/fs/cgroup${line.slice(3)}`;
      expect(fs.readFileSync(`${dir}/memory.max`, "utf8").trim()).toBe(String(64 << 20));
      expect(fs.readFileSync(`${dir}/pids.max`, "utf8").trim()).toBe("20");
      expect(fs.readFileSync(`${dir}/cgroup.procs`, "utf8").trim().split("\n")).toContain(String(pid));
      const inside = rt.run(["exec", id, "cat", "/proc/1/cgroup"]);
      expect(inside.stdout.trim()).toBe("0::/");
    } finally {
      expect(rt.run(["delete", "--force", id]).code).toBe(0);
    }
    expect(fs.existsSync(dir)).toBe(false);
  });

  test("a caller in a scope that holds processes (a login session): the container goes beside it, with its limits (runc's v2 driver)", () => {
    const top = `/sys/fs/cgroup/isola-test-session-${process.pid}`;
    const id = uniqueId("v2s");
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    spec.linux!.resources = { memory: { limit: 48 << 20 } };
    writeSpec(bundle, spec);
    fs.mkdirSync(`${top}/session.scope`, { recursive: true });
    // the caller's shell joins the scope and stays there (a session's processes), running the runtime
    const inScope = (args: string[]) => runCaptured(["sh", "-c", `echo $$ > ${top}/session.scope/cgroup.procs && exec "$@"`, "sh", ...rt.argv(args)], `${rt.root}.scope`);
    try {
      const r = inScope(["run", "-d", "-b", bundle, id]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const pid = JSON.parse(rt.run(["state", id]).stdout).pid as number;
      expect(fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim()).toBe(`0::/isola-test-session-${process.pid}/isola-runtime/${id}`);
      expect(fs.readFileSync(`${top}/isola-runtime/${id}/memory.max`, "utf8").trim()).toBe(String(48 << 20));
    } finally {
      expect(rt.run(["delete", "--force", id]).code).toBe(0);
      if (fs.existsSync(`${top}/isola-runtime`)) fs.rmdirSync(`${top}/isola-runtime`);
      fs.rmdirSync(`${top}/session.scope`);
      fs.rmdirSync(top);
    }
  });

  test("exec when the init moved into a leaf below the container's cgroup and enabled controllers there (as systemd does)", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    withDetached(rt, bundle, spec, (id, pid) => {
      const dir = `/sys/fs/cgroup${fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().slice(3)}`;
      fs.mkdirSync(`${dir}/init.scope`);
      fs.writeFileSync(`${dir}/init.scope/cgroup.procs`, String(pid));
      fs.writeFileSync(`${dir}/cgroup.subtree_control`, "+pids"); // now no process may join `dir` itself
      const e = rt.run(["exec", id, "cat", "/proc/self/cgroup"]);
      expect(e.stderr).toBe("");
      expect(e.stdout.trim()).toBe("0::/init.scope");
    }, "v2leaf");
  });

  test("rootless, with a delegated cgroup v2 subtree: the container gets its cgroup inside it", () => {
    // as systemd delegates to a user: a cgroup owned by the user, with the user's process in it
    const UID = 4242;
    const deleg = `/sys/fs/cgroup/isola-deleg-${process.pid}`;
    const xdg = fs.mkdtempSync("/tmp/isola-xdg-");
    const b = fs.mkdtempSync("/tmp/isola-rl-bundle-");
    fs.mkdirSync(deleg);
    for (const f of ["", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"]) fs.chownSync(`${deleg}${f}`, UID, UID);
    // the user's processes sit in a scope below it (systemd: user@.service/app.slice/x.scope);
    // as runc's v2 driver, a relative path goes beside the caller's cgroup, into `deleg`
    fs.mkdirSync(`${deleg}/user.scope`);
    fs.chownSync(xdg, UID, UID);
    fs.chmodSync(xdg, 0o700);
    fs.chmodSync(b, 0o755);
    try {
      const runtime = runtimeArgvFor(`${b}/tools`);
      makeRootfs(`${b}/rootfs`);
      const asUser = (args: string[]) => {
        // output through files: a detached container keeps what it inherits open
        const out = `${xdg}.out`;
        const err = `${xdg}.err`;
        const r = Bun.spawnSync(["sh", "-c", `echo $$ > ${deleg}/user.scope/cgroup.procs && exec setpriv --reuid=${UID} --regid=${UID} --clear-groups -- "$@"`, "sh", ...runtime, ...args], {
          cwd: b,
          stdout: Bun.file(out),
          stderr: Bun.file(err),
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", XDG_RUNTIME_DIR: xdg, HOME: xdg },
        });
        const res = { code: r.exitCode, out: fs.readFileSync(out, "utf8"), err: fs.readFileSync(err, "utf8") };
        fs.rmSync(out, { force: true });
        fs.rmSync(err, { force: true });
        return res;
      };
      fs.chownSync(b, UID, UID);
      expect(asUser(["spec", "--rootless"]).code).toBe(0);
      const spec = JSON.parse(fs.readFileSync(`${b}/config.json`, "utf8")) as Spec;
      spec.process!.terminal = false;
      spec.process!.args = ["sleep", "60"];
      fs.writeFileSync(`${b}/config.json`, JSON.stringify(spec));
      const id = uniqueId("rlv2");
      const run = asUser(["run", "-d", id]);
      expect(run.err).toBe(""); // no "cgroups skipped" warning
      expect(run.code).toBe(0);
      try {
        const pid = JSON.parse(asUser(["state", id]).out).pid as number;
        const line = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim();
        expect(line.startsWith(`0::/isola-deleg-${process.pid}/`)).toBe(true);
        expect(line).toContain(id);
      } finally {
        expect(asUser(["delete", "--force", id]).code).toBe(0);
      }
      expect(fs.readdirSync(deleg).filter((f) => !f.includes("."))).toEqual([]); // its cgroup is gone
    } finally {
      // our own processes are gone; move nothing back, just remove what we made
      const left = () => fs.readFileSync(`${deleg}/user.scope/cgroup.procs`, "utf8").trim();
      if (!waitFor(() => left() === "")) throw new Error(`still in ${deleg}/user.scope: ${left().split("\n").map((p) => `${p} ${fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ")}`).join("; ")}`);
      for (const d of fs.existsSync(deleg) ? fs.readdirSync(deleg, { withFileTypes: true }).filter((e) => e.isDirectory()) : []) fs.rmdirSync(`${deleg}/${d.name}`);
      if (fs.existsSync(deleg)) fs.rmdirSync(deleg);
      fs.rmSync(xdg, { recursive: true, force: true });
      fs.rmSync(b, { recursive: true, force: true });
    }
  });

  test("a foreground run returns the exit status", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sh", "-c", "exit 7"];
    writeSpec(bundle, spec);
    expect(rt.run(["run", "-b", bundle, uniqueId("v2fg")]).code).toBe(7);
  });
});
