import { expect, test } from "bun:test";
import { cpioArchive } from "./cpio.ts";

test("newc archive layout", () => {
  const a = cpioArchive([{ name: "bin", mode: 0o040755 }, { name: "init", mode: 0o100755, data: "#!/bin/sh\n" }]);
  const text = new TextDecoder().decode(a);
  expect(text.startsWith("070701")).toBe(true);
  expect(a.length % 4).toBe(0);
  // second header: mode 0o100755 = 0x81ed, size 10, name "init\0" (5)
  const second = text.indexOf("070701", 6);
  expect(text.slice(second + 14, second + 22)).toBe("000081ed");
  expect(text.slice(second + 54, second + 62)).toBe("0000000a");
  expect(text.slice(second + 94, second + 102)).toBe("00000005");
  expect(text).toContain("#!/bin/sh\n");
  expect(text).toContain("TRAILER!!!");
});
