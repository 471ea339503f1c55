import { expect, test } from "bun:test";
import { capabilitiesForKernel } from "./caps.ts";

test("capabilities above the kernel's last one are left out, each named in a warning", () => {
  const proc = { cwd: "/", user: { uid: 0, gid: 0 }, capabilities: { bounding: ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"], effective: ["CAP_BPF"], ambient: ["CAP_KILL"] } };
  // a 5.4 kernel: cap_last_cap 37 (CAP_AUDIT_READ), before CAP_PERFMON (38), CAP_BPF (39), CAP_CHECKPOINT_RESTORE (40)
  const { proc: out, warnings } = capabilitiesForKernel(proc, 37);
  expect(out.capabilities).toEqual({ bounding: ["CAP_CHOWN"], effective: [], ambient: ["CAP_KILL"] });
  expect(warnings).toEqual([
    "process.capabilities.bounding[1]: CAP_CHECKPOINT_RESTORE is unknown to this kernel (its last capability is 37): left out",
    "process.capabilities.effective[0]: CAP_BPF is unknown to this kernel (its last capability is 37): left out",
  ]);
  // this kernel knows them all: nothing changes
  expect(capabilitiesForKernel(proc, 40)).toEqual({ proc: { ...proc, capabilities: proc.capabilities }, warnings: [] });
  expect(capabilitiesForKernel({ cwd: "/", user: { uid: 0, gid: 0 } }, 40).warnings).toEqual([]);
});
