// Runs the cgroup integration suite in the lab's cgroup-v2-only guest (and the user namespace's
// kernel-module boundary, which needs a kernel with modules), so the v2 driver, its
// limits, freeze, OOM events, the eBPF device filter and containers cloned into their cgroup
// (CLONE_INTO_CGROUP) are proven on a real v2 kernel even
// though this host is hybrid. Skipped, with the reason printed, where the lab cannot run.
import { expect, test } from "bun:test";
import { labUnavailable, runInLab } from "./lab.ts";

const GUEST_TESTS = ["./src/cgroups/manager_root_test.ts", "./src/cgroups/v2_root_test.ts", "./src/runtime/cgroup_v2_run_test.ts"];
const why = labUnavailable();
if (why) console.log(`skipping the cgroup v2 lab: ${why}`);

(why ? test.skip : test)(
  "cgroup v2 suite passes in a cgroup-v2-only guest",
  async () => {
    const r = await runInLab({
      // and, as the guest's kernel has loadable modules (this host's has none), the user
      // namespace boundary against init_module with its control
      command: `node_modules/.bin/bun test --timeout 300000 ${GUEST_TESTS.join(" ")}; a=$?; node_modules/.bin/bun test --timeout 300000 ./src/runtime/userns_test.ts -t "kernel module"; exit $((a | $?))`,
      cwd: `${import.meta.dir}/../..`,
      env: { NO_COLOR: "1" },
      timeoutSec: 900,
    });
    const summary = r.output.split("\n").filter((l) => /^\s*\d+ (pass|fail|skip)$|^\(fail\)/.test(l)).map((l) => `guest: ${l.trim()}`).join("\n");
    console.log(`lab (${r.accel}, ${r.seconds.toFixed(1)} s): status ${r.status}\n${summary}`);
    if (r.status !== 0) console.log(r.output);
    expect(r.output).toContain("cgroups on this host (v2)");
    expect(r.output).toContain("containers on cgroup v2 >");
    expect(r.output).toContain("(pass) security boundary: root in a user namespace with every capability > cannot load a kernel module");
    expect(r.output).not.toContain("skipping the kernel module probe");
    expect(r.status).toBe(0);
  },
  1_000_000,
);
