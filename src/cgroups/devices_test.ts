import { describe, expect, test } from "bun:test";
import { DEFAULT_ALLOWED_DEVICES, effectiveDeviceRules, normalizeRule, parseDevicesList, reduceRules, v1DeviceState, v1DeviceTransition, v1DeviceWrites } from "./devices.ts";

describe("device rules", () => {
  test("normalize fills wildcards and keeps access in rwm order", () => {
    expect(normalizeRule({ allow: false })).toEqual({ allow: false, type: "a", major: -1, minor: -1, access: "rwm" });
    expect(normalizeRule({ allow: true, type: "c", major: 1, minor: null, access: "wr" })).toEqual({ allow: true, type: "c", major: 1, minor: -1, access: "rw" });
  });

  test("the default allow list is runc's", () => {
    const values = v1DeviceWrites(effectiveDeviceRules([{ allow: false, access: "rwm" }])).map((w) => `${w.file} ${w.value}`);
    expect(values).toEqual([
      "devices.deny a",
      "devices.allow c *:* m",
      "devices.allow b *:* m",
      "devices.allow c 1:3 rwm",
      "devices.allow c 1:8 rwm",
      "devices.allow c 1:7 rwm",
      "devices.allow c 5:0 rwm",
      "devices.allow c 1:5 rwm",
      "devices.allow c 1:9 rwm",
      "devices.allow c 136:* rwm",
      "devices.allow c 5:2 rwm",
      "devices.allow c 10:200 rwm",
    ]);
    expect(DEFAULT_ALLOWED_DEVICES).toHaveLength(11);
  });

  test("a later match-everything rule drops the rules before it", () => {
    const r = reduceRules(effectiveDeviceRules([{ allow: true, type: "c", major: 10, minor: 200 }, { allow: true }], false));
    expect(r).toEqual({ defaultAllow: true, rules: [] });
  });

  test("v1 cannot say 'a 1:3': it becomes b and c", () => {
    const values = v1DeviceWrites(effectiveDeviceRules([{ allow: false }, { allow: true, major: 1, minor: 3, access: "r" }], false)).map((w) => w.value);
    expect(values).toEqual(["a", "b 1:3 r", "c 1:3 r"]);
  });
});

describe("v1 update: only the difference is written", () => {
  const current = (text: string) => parseDevicesList(text)!;
  const container = [{ allow: false, access: "rwm" }];
  test("devices.list is read as the kernel keeps it", () => {
    expect(parseDevicesList("a *:* rwm\n")).toEqual({ defaultAllow: true, exceptions: new Map() });
    expect(parseDevicesList("c 1:3 rwm\nc *:* m\nb *:* m\n")?.exceptions).toEqual(new Map([["c 1:3", "rwm"], ["c *:*", "m"], ["b *:*", "m"]]));
    expect(parseDevicesList("garbage")).toBeUndefined();
  });
  test("the state a rule list leaves is what the full rewrite makes", () => {
    const st = v1DeviceState(effectiveDeviceRules([{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 10, minor: 229, access: "rw" }, { allow: false, type: "c", major: 10, minor: 229, access: "w" }]));
    expect(st.defaultAllow).toBe(false);
    expect(st.exceptions.get("c 10:229")).toBe("r");
    expect(st.exceptions.get("c 1:3")).toBe("rwm");
  });
  test("adding and removing a device: one allow, one deny, no deny-all", () => {
    const before = v1DeviceState(effectiveDeviceRules(container));
    const list = [...before.exceptions].map(([k, a]) => `${k} ${a}`).join("\n");
    const withFuse = [...container, { allow: true, type: "c" as const, major: 10, minor: 229, access: "rwm" }];
    expect(v1DeviceTransition(current(list), effectiveDeviceRules(withFuse))!.map((w) => `${w.file} ${w.value}`)).toEqual(["devices.allow c 10:229 rwm"]);
    const withFuseList = list + "\nc 10:229 rwm";
    // /dev/null's write taken away, fuse gone again
    const noNullWrite = [...container, { allow: false, type: "c" as const, major: 1, minor: 3, access: "w" }];
    // the default list comes after the spec's rules (runc), so /dev/null stays rwm: only fuse goes
    expect(v1DeviceTransition(current(withFuseList), effectiveDeviceRules(noNullWrite))!.map((w) => `${w.file} ${w.value}`)).toEqual(["devices.deny c 10:229 rwm"]);
    expect(v1DeviceTransition(current(list), effectiveDeviceRules(container))).toEqual([]);
  });
  test("a change of default (allow-all either side) is the full rewrite", () => {
    expect(v1DeviceTransition(current("a *:* rwm"), effectiveDeviceRules(container))).toBeUndefined();
    expect(v1DeviceTransition(current("c 1:3 rwm"), effectiveDeviceRules([{ allow: true, access: "rwm" }]))).toBeUndefined();
  });
});
