// The file lock of src/net and the policy store's per-network lock built on it (no root
// needed: a temporary directory).
import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { acquireLock, lockOwner } from "./lockfile.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "isola-net-lock-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const startOf = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]!;

test("taken (its directory made) and released; a live holder is waited for, then named; a release twice is harmless", async () => {
  const p = path.join(dir, "a", "x.lock");
  const release = await acquireLock(p);
  expect(fs.readFileSync(p, "utf8")).toBe(`${process.pid} ${startOf(process.pid)}`);
  expect(lockOwner()).toBe(`${process.pid} ${startOf(process.pid)}`);
  // another taker in this process waits like one in another process
  await expect(acquireLock(p, { waitMs: 30, what: "network a" })).rejects.toThrow(`network a: locked by process ${process.pid} for more than 0 s (lock file ${p})`);
  release();
  expect(fs.existsSync(p)).toBe(false);
  const again = await acquireLock(p, { waitMs: 30 });
  release(); // the first holder's late second release leaves the new holder's lock alone
  expect(fs.readFileSync(p, "utf8")).toBe(lockOwner());
  await expect(acquireLock(p, { waitMs: 30 })).rejects.toThrow("locked by process");
  again();
  expect(fs.readdirSync(path.join(dir, "a"))).toEqual([]);
});

test("a lock file left by a dead holder, or by an older isola (a bare pid), is taken at once", async () => {
  const p = path.join(dir, "b.lock");
  for (const left of ["4194305 123", "4194305", `1 ${startOf(1)}`]) {
    fs.writeFileSync(p, left);
    (await acquireLock(p, { waitMs: 1000 }))();
  }
  expect(fs.readdirSync(dir).filter((n) => n.startsWith("b.lock"))).toEqual([]);
});

test("processes racing for the policy store's lock, some of them killed while they hold it, hold it one at a time", async () => {
  const store = path.join(dir, "store");
  const log = path.join(dir, "race.log");
  const script = path.join(dir, "taker.ts");
  // Each process takes the network's lock 8 times; one round in three, a process dies
  // (SIGKILL) inside, so the others race to take a dead holder's lock.
  fs.writeFileSync(
    script,
    `import { appendFileSync } from "node:fs";
import { FilePolicyStore } from ${JSON.stringify(path.join(import.meta.dir, "policy", "store.ts"))};
const store = new FilePolicyStore(${JSON.stringify(store)});
const dies = Number(process.argv[2]);
for (let i = 0; i < 8; i++) {
  await store.withLock("lab", async () => {
    appendFileSync(${JSON.stringify(log)}, "in " + process.pid + "\\n");
    await Bun.sleep(1);
    if (i === dies) {
      appendFileSync(${JSON.stringify(log)}, "died " + process.pid + "\\n");
      process.kill(process.pid, "SIGKILL");
    }
    appendFileSync(${JSON.stringify(log)}, "out " + process.pid + "\\n");
  });
}
`,
  );
  // processes 0..3 die in rounds 1, 3, 5, 7; processes 4..7 live through all 8
  const procs = Array.from({ length: 8 }, (_, i) => Bun.spawn([process.execPath, script, String(i < 4 ? 2 * i + 1 : -1)], { stdout: "inherit", stderr: "inherit" }));
  const codes = await Promise.all(procs.map((p) => p.exited));
  expect(codes.filter((c) => c === 0)).toHaveLength(4);
  expect(procs.filter((p) => p.signalCode === "SIGKILL")).toHaveLength(4);
  const lines = fs.readFileSync(log, "utf8").trim().split("\n");
  // 4 × 8 full rounds, and 2, 4, 6, 8 entries of the ones that die (the last one without "out")
  expect(lines.filter((l) => l.startsWith("in "))).toHaveLength(32 + 2 + 4 + 6 + 8);
  for (let i = 0; i < lines.length; i += 2) {
    expect(lines[i]!.startsWith("in ")).toBe(true);
    expect([`out ${lines[i]!.slice(3)}`, `died ${lines[i]!.slice(3)}`]).toContain(lines[i + 1]!);
  }
  // the last holder removed the lock file; one a killed holder left is free
  const lock = path.join(store, "locks", "lab.lock");
  (await acquireLock(lock, { waitMs: 1000 }))();
  expect(fs.readdirSync(path.dirname(lock))).toEqual([]);
});
