// The per-container lock (no root needed: a state root in a temporary directory).
import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { lockContainer, procStat } from "./state.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "isola-lock-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const lockFile = (id: string) => path.join(root, id, "lock");
const mk = (id: string) => fs.mkdirSync(path.join(root, id));

test("taken and released; released only while it is ours", () => {
  mk("a");
  const release = lockContainer(root, "a");
  expect(fs.readFileSync(lockFile("a"), "utf8")).toBe(`${process.pid} ${procStat(process.pid)!.startTime}`);
  expect(() => lockContainer(root, "a", 30)).toThrow(`container a is locked by process ${process.pid}`);
  release();
  expect(fs.existsSync(lockFile("a"))).toBe(false);
  // a release after someone else took it over leaves their lock alone
  const again = lockContainer(root, "a");
  fs.writeFileSync(lockFile("a"), "1 0");
  again();
  expect(fs.readFileSync(lockFile("a"), "utf8")).toBe("1 0");
});

test("a dead holder's lock, or one whose pid now belongs to another process, is taken over; nothing is left aside", () => {
  mk("b");
  // a pid that is not running: past the kernel's pid_max
  fs.writeFileSync(lockFile("b"), "4194305 123");
  lockContainer(root, "b")();
  // pid 1 is alive but started at another time than recorded: a reused pid
  fs.writeFileSync(lockFile("b"), "1 999999999999");
  const release = lockContainer(root, "b");
  release();
  expect(fs.readdirSync(path.join(root, "b"))).toEqual(["lock.takeover"]); // the takeover mutex's file stays with the container
  // pid 1 with its own start time holds it
  fs.writeFileSync(lockFile("b"), `1 ${procStat(1)!.startTime}`);
  expect(() => lockContainer(root, "b", 30)).toThrow("container b is locked by process 1");
  fs.rmSync(lockFile("b"));
});

test("a missing container is named", () => {
  expect(() => lockContainer(root, "nope")).toThrow("container nope does not exist");
});

test("processes racing for a dead holder's lock hold it one at a time", async () => {
  mk("c");
  fs.writeFileSync(lockFile("c"), "4194305 1");
  const log = path.join(root, "c.log");
  const script = path.join(root, "taker.ts");
  fs.writeFileSync(
    script,
    `import { appendFileSync } from "node:fs";
import { lockContainer } from ${JSON.stringify(path.join(import.meta.dir, "state.ts"))};
for (let i = 0; i < 5; i++) {
  const release = lockContainer(${JSON.stringify(root)}, "c", 20000);
  appendFileSync(${JSON.stringify(log)}, "in " + process.pid + "\\n");
  Bun.sleepSync(2);
  appendFileSync(${JSON.stringify(log)}, "out " + process.pid + "\\n");
  release();
}
`,
  );
  const procs = Array.from({ length: 6 }, () => Bun.spawn([process.execPath, script], { stdout: "inherit", stderr: "inherit" }));
  expect(await Promise.all(procs.map((p) => p.exited))).toEqual(Array(6).fill(0));
  const lines = fs.readFileSync(log, "utf8").trim().split("\n");
  expect(lines).toHaveLength(60);
  for (let i = 0; i < lines.length; i += 2) {
    expect(lines[i]!.startsWith("in ")).toBe(true);
    expect(lines[i + 1]).toBe(`out ${lines[i]!.slice(3)}`);
  }
  expect(fs.readdirSync(path.join(root, "c"))).toEqual(["lock.takeover"]);
});
