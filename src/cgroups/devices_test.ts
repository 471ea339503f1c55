import { describe, expect, test } from "bun:test";
import { DEFAULT_ALLOWED_DEVICES, effectiveDeviceRules, normalizeRule, reduceRules, v1DeviceWrites } from "./devices.ts";

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
