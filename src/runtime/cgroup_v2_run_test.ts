// Integration on a cgroup v2 host (root): containers are cloned straight into their cgroup
// (clone3 CLONE_INTO_CGROUP), get their limits, and see their cgroup namespace rooted there.
// This host is hybrid, so the test runs in the lab's v2-only guest (test/lab); elsewhere it is
// skipped with the reason.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { isRoot, Runtime, uniqueId, withDetached } from "../../test/harness.ts";
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

  test("a foreground run returns the exit status", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sh", "-c", "exit 7"];
    writeSpec(bundle, spec);
    expect(rt.run(["run", "-b", bundle, uniqueId("v2fg")]).code).toBe(7);
  });
});
