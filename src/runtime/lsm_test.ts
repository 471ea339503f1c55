import { expect, test } from "bun:test";
import { lsmProblems } from "./lsm.ts";

const proc = { args: ["true"], cwd: "/", user: { uid: 0, gid: 0 } };

test("LSM fields: unset or empty pass; a request names the field and says why it can't be applied", () => {
  expect(lsmProblems({ ...proc, apparmorProfile: "", selinuxLabel: "" }, { mountLabel: "" }, new Set())).toEqual([]);
  expect(lsmProblems({ ...proc, apparmorProfile: "p" }, undefined, new Set(["capability", "landlock"]))).toEqual([
    `process.apparmorProfile: "p" requested, but AppArmor is not enabled in this kernel (active LSMs: capability,landlock); remove the field`,
  ]);
  const withSelinux = lsmProblems({ ...proc, selinuxLabel: "l" }, { mountLabel: "m" }, new Set(["selinux"]));
  expect(withSelinux).toHaveLength(2);
  expect(withSelinux[0]).toStartWith(`process.selinuxLabel: "l" requested, but this runtime does not apply SELinux labels`);
  expect(withSelinux[1]).toStartWith("linux.mountLabel:");
});
