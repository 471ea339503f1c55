// Runs the cgroup integration suite in the lab's guest booted as a legacy host: the v1
// hierarchies alone, no cgroup2 anywhere. This host is hybrid (v1 controllers plus cgroup2 at
// /sys/fs/cgroup/unified), so the "v1" layout, where nothing may fall back to cgroup2, is only
// proven there. Skipped, with the reason printed, where the lab cannot run.
import { expect, test } from "bun:test";
import { labUnavailable, runInLab } from "./lab.ts";

const GUEST_TESTS = ["./src/cgroups/manager_root_test.ts", "./src/runtime/resources_test.ts"];
const why = labUnavailable();
if (why) console.log(`skipping the cgroup v1 lab: ${why}`);

(why ? test.skip : test)(
  "cgroup v1 suite passes in a cgroup-v1-only guest",
  async () => {
    const r = await runInLab({
      command: `echo "mounts: $(grep cgroup /proc/self/mountinfo | cut -d' ' -f5,9 | sort | tr '\\n' ';')"; node_modules/.bin/bun test --timeout 300000 ${GUEST_TESTS.join(" ")}`,
      cwd: `${import.meta.dir}/../..`,
      env: { NO_COLOR: "1" },
      cgroups: "v1",
      timeoutSec: 900,
    });
    const summary = r.output.split("\n").filter((l) => /^\s*\d+ (pass|fail|skip)$|^\(fail\)/.test(l)).map((l) => `guest: ${l.trim()}`).join("\n");
    console.log(`lab (${r.accel}, ${r.seconds.toFixed(1)} s): status ${r.status}\n${summary}`);
    if (r.status !== 0) console.log(r.output);
    const mounts = r.output.split("\n").find((l) => l.startsWith("mounts: ")) ?? "";
    expect(mounts).toContain("/sys/fs/cgroup/memory cgroup;");
    expect(mounts).not.toContain("cgroup2"); // no cgroup2 mount in the guest
    expect(r.output).toContain("cgroups on this host (v1)");
    expect(r.output).toContain("cgroup verbs on real containers >");
    expect(r.status).toBe(0);
  },
  1_000_000,
);
