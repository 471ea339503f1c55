// The lab itself: a guest boots with cgroup2 alone, the host's tree read-only beneath a writable
// overlay, extra modules on request (8021q for the VLAN tests to come), and reports the status.
import { expect, test } from "bun:test";
import * as fs from "node:fs";
import { labUnavailable, runInLab } from "./lab.ts";

const why = labUnavailable();
if (why) console.log(`skipping the lab self-test: ${why}`);

(why ? test.skip : test)(
  "a guest runs a command with cgroup2 only, VLAN support and a throwaway root",
  async () => {
    const r = await runInLab({
      command: [
        "grep -c cgroup /proc/mounts | sed 's/^/cgroup-mounts=/'",
        "stat -f -c fs=%T /sys/fs/cgroup",
        `touch /etc/isola-lab-written && echo overlay-writable`,
        "ip link add d0 type dummy && ip link add link d0 name d0.7 type vlan id 7 && echo vlan-ok",
        `echo "$ISOLA_LAB $GREETING"`,
        "exit 7",
      ].join("; "),
      cwd: "/",
      modules: ["dummy", "8021q"],
      env: { GREETING: "it's here" },
      timeoutSec: 300,
    });
    if (r.status !== 7) console.log(r.output);
    expect(r.status).toBe(7);
    expect(r.output).toContain("cgroup-mounts=1");
    expect(r.output).toContain("fs=cgroup2fs");
    expect(r.output).toContain("overlay-writable");
    expect(r.output).toContain("vlan-ok");
    expect(r.output).toContain("1 it's here");
    expect(fs.existsSync("/etc/isola-lab-written")).toBe(false); // the host did not change
  },
  400_000,
);
