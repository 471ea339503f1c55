import { expect, test } from "bun:test";
import { inUserNamespace } from "./userns.ts";

test("the initial user namespace maps every id to itself; anything else is a user namespace", () => {
  expect(inUserNamespace(() => "         0          0 4294967295\n")).toBe(false);
  expect(inUserNamespace(() => "0 1000 1\n1 100000 65536\n")).toBe(true); // rootless podman's
  expect(inUserNamespace(() => "0 0 1000\n")).toBe(true);
  expect(inUserNamespace(() => {
    throw new Error("ENOENT");
  })).toBe(false);
});
