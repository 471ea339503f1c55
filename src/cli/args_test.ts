import { expect, test } from "bun:test";
import { parseFlags, UsageError } from "./args.ts";
import { signalNumber } from "../runtime/signals.ts";

const specs = { bundle: { type: "string", alias: "b" }, detach: { type: "bool", alias: "d" }, "preserve-fds": { type: "int" } } as const;

test("flags as runc takes them: -x/--x, =value, stop at the first positional", () => {
  expect(parseFlags(["-b", "/x", "--detach", "--preserve-fds=2", "id", "-d"], specs)).toEqual({
    flags: { bundle: "/x", detach: true, "preserve-fds": 2 },
    rest: ["id", "-d"],
  });
  expect(parseFlags(["--bundle=/y", "-d=false", "--", "-id"], specs)).toEqual({ flags: { bundle: "/y", detach: false }, rest: ["-id"] });
});

test("bad flags are usage errors that name the flag", () => {
  expect(() => parseFlags(["--nope"], specs)).toThrow(new UsageError("flag provided but not defined: -nope"));
  expect(() => parseFlags(["--bundle"], specs)).toThrow("flag needs an argument: -bundle");
  expect(() => parseFlags(["--preserve-fds", "x"], specs)).toThrow('invalid value "x" for flag -preserve-fds: expected an integer');
});

test("signals by name, short name, number and RT offset", () => {
  expect(signalNumber("SIGKILL")).toBe(9);
  expect(signalNumber("term")).toBe(15);
  expect(signalNumber("10")).toBe(10);
  expect(signalNumber("RTMIN+2")).toBe(36);
  expect(() => signalNumber("SIGBOGUS")).toThrow('unknown signal "SIGBOGUS"');
  expect(() => signalNumber("99")).toThrow("unknown signal");
});
