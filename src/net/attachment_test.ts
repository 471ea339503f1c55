import { expect, test } from "bun:test";
import { checkAttachment, containerIdProblem, ifNameProblem, macProblem } from "./attachment.ts";
import { CniError } from "./errors.ts";

test("container ids as libcni takes them", () => {
  for (const ok of ["c1", "0abc", "a.b_c-d", "f".repeat(64)]) expect(containerIdProblem(ok)).toBeUndefined();
  expect(containerIdProblem("")).toBe('missing (expected letters, digits, "_", "." or "-", starting with a letter or digit)');
  for (const bad of ["-a", ".a", "a b", "a/../../etc", "a\nb", "a;b", "ä"]) expect(containerIdProblem(bad)).toContain(`${JSON.stringify(bad)} is not a container id`);
});

test("interface names as libcni takes them: 1-15 bytes, no / : or whitespace, not . or ..", () => {
  for (const ok of ["eth0", "a", "x".repeat(15), "net1.100", "if@1"]) expect(ifNameProblem(ok)).toBeUndefined();
  expect(ifNameProblem("")).toBe("missing (expected an interface name of 1-15 characters)");
  expect(ifNameProblem("x".repeat(16))).toBe(`"${"x".repeat(16)}" is too long (expected an interface name of 1-15 characters)`);
  expect(ifNameProblem("éééééééé")).toContain("is too long"); // 16 bytes
  expect(ifNameProblem("..")).toBe('".." is not an interface name (expected a name other than "." and "..")');
  for (const bad of ["a/b", "a:b", "a b", "eth0\nlink", "a\tb", "a\u0085", "a\u00a0"]) expect(ifNameProblem(bad)).toBe(`${JSON.stringify(bad)} is not an interface name (expected no "/", ":" or whitespace)`);
});

test("MAC addresses: six hex bytes, unicast", () => {
  expect(macProblem("02:42:ac:11:00:02")).toBeUndefined();
  expect(macProblem("02:42:AC:11:00:02")).toBeUndefined();
  expect(macProblem("zz")).toBe('"zz" is not a MAC address (expected xx:xx:xx:xx:xx:xx)');
  expect(macProblem("02:42:ac:11:00:02\nlink del x")).toContain("is not a MAC address");
  expect(macProblem(42)).toBe("42 is not a MAC address (expected xx:xx:xx:xx:xx:xx)");
  expect(macProblem("01:00:5e:00:00:01")).toBe("01:00:5e:00:00:01 is a multicast address (expected a unicast MAC: the first byte even)");
});

test("checkAttachment: CNI error 4 naming the field", () => {
  const err = (() => {
    try {
      checkAttachment({ containerId: "ok", ifName: "eth0\nlink del lo" }, { containerId: "CNI_CONTAINERID", ifName: "CNI_IFNAME" });
    } catch (e) {
      return e as CniError;
    }
  })();
  expect(err).toBeInstanceOf(CniError);
  expect(err!.code).toBe(4);
  expect(err!.message).toBe('CNI_IFNAME: "eth0\\nlink del lo" is not an interface name (expected no "/", ":" or whitespace)');
});
