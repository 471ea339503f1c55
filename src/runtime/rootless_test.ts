// Integration: isola-runtime run by a real unprivileged user that this test creates (as root)
// and removes, with /etc/subuid and /etc/subgid lines it adds and removes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeRootfs } from "../../test/bundle.ts";
import { isRoot, runtimeArgvFor, uniqueId, waitFor } from "../../test/harness.ts";
import { sh, TestUser } from "../../test/testuser.ts";
import type { Spec } from "../oci/types.ts";

const SUB_START = 600000;
const SUB_SIZE = 65536;
const GROUP = 4243; // a host group the user holds while running the runtime
const user = new TestUser("isolart", SUB_START, SUB_SIZE);
let uid = -1;
let gid = -1;
let work = "";
let xdg = "";
let runtime: string[] = [];
const helpers = fs.existsSync("/usr/bin/newuidmap") && fs.existsSync("/usr/bin/newgidmap");

/** Runs the runtime as the test user, with its own XDG_RUNTIME_DIR (so the default --root). */
function asUser(args: string[], opts: { cwd?: string; groups?: number[] } = {}) {
  const groups = opts.groups?.length ? [`--groups=${opts.groups.join(",")}`] : ["--clear-groups"];
  // output through files: a detached container keeps pipes open
  const out = path.join(work, "out");
  const err = path.join(work, "err");
  const r = Bun.spawnSync(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, ...groups, "--", ...runtime, ...args], {
    cwd: opts.cwd ?? work,
    stdout: Bun.file(out),
    stderr: Bun.file(err),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", XDG_RUNTIME_DIR: xdg, HOME: work },
  });
  const res = { code: r.exitCode, out: fs.readFileSync(out, "utf8").trim(), err: fs.readFileSync(err, "utf8").trim() };
  fs.rmSync(out, { force: true });
  fs.rmSync(err, { force: true });
  return res;
}

/** A bundle owned by the test user, its config from `spec --rootless` adjusted by edit. */
function userBundle(edit: (s: Spec) => void): string {
  const b = fs.mkdtempSync(path.join(work, "bundle-"));
  makeRootfs(path.join(b, "rootfs"));
  fs.mkdirSync(path.join(b, "rootfs/data"));
  sh(["chown", "-R", "-h", `${uid}:${gid}`, b]);
  const r = asUser(["spec", "--rootless"], { cwd: b });
  if (r.code !== 0) throw new Error(r.err);
  const spec = JSON.parse(fs.readFileSync(path.join(b, "config.json"), "utf8")) as Spec;
  spec.process!.terminal = false;
  edit(spec);
  fs.writeFileSync(path.join(b, "config.json"), JSON.stringify(spec));
  return b;
}

const stateDir = () => path.join(xdg, "isola-runtime");
const leftovers = () => (fs.existsSync(stateDir()) ? fs.readdirSync(stateDir()) : []);

beforeAll(() => {
  if (!isRoot) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "isola-rootless-"));
  fs.chmodSync(work, 0o755);
  runtime = runtimeArgvFor(work);
  user.create();
  ({ uid, gid } = user);
  xdg = path.join(work, "xdg");
  fs.mkdirSync(xdg, { mode: 0o700 });
  fs.chownSync(xdg, uid, gid);
});

afterAll(() => {
  if (!isRoot) return;
  for (const id of leftovers()) asUser(["delete", "--force", id]);
  for (const problem of user.remove()) console.log(problem);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!isRoot)("rootless: a real unprivileged user runs containers", () => {
  test.skipIf(!helpers)("spec --rootless maps the user to root and its /etc/subuid range through newuidmap", () => {
    const b = userBundle((s) => {
      s.process!.args = ["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; grep ^Groups /proc/self/status; ip -o link show lo | grep -c UP; stat -c %u /bin/busybox; hostname"];
    });
    const spec = JSON.parse(fs.readFileSync(path.join(b, "config.json"), "utf8")) as Spec;
    expect(spec.linux!.uidMappings).toEqual([{ containerID: 0, hostID: uid, size: 1 }, { containerID: 1, hostID: SUB_START, size: SUB_SIZE }]);
    const r = asUser(["run", "-b", b, uniqueId("rl")]);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n").map((l) => l.trim().replace(/\s+/g, " "));
    expect(lines).toEqual([
      "0",
      `0 ${uid} 1`,
      `1 ${SUB_START} ${SUB_SIZE}`,
      `0 ${gid} 1`,
      `1 ${SUB_START} ${SUB_SIZE}`,
      "allow",
      "Groups:",
      "1", // loopback up in its own network namespace
      "0", // the user's files are root's inside
      "isola",
    ]);
    expect(r.err).toContain("cgroups skipped");
    expect(leftovers()).toEqual([]);
  });

  test("state lives under $XDG_RUNTIME_DIR/isola-runtime; root inside is the user outside", () => {
    const b = userBundle((s) => (s.process!.args = ["sleep", "60"]));
    const id = uniqueId("rl");
    expect(asUser(["run", "-d", "-b", b, id]).code).toBe(0);
    try {
      expect(fs.existsSync(path.join(stateDir(), id, "state.json"))).toBe(true);
      const st = JSON.parse(asUser(["state", id]).out) as { status: string; pid: number };
      expect(st.status).toBe("running");
      const uids = /^Uid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${st.pid}/status`, "utf8"))?.[1]?.split(/\s+/);
      expect(uids).toEqual([String(uid), String(uid), String(uid), String(uid)]);
      expect(JSON.parse(asUser(["list", "--format", "json"]).out).map((c: { id: string }) => c.id)).toEqual([id]);
      // exec as the user: its namespaces are owned by the container's user namespace, so they
      // are joined only after it (the first pass is refused: SETNS_PENDING)
      const e = asUser(["exec", id, "sh", "-c", "id -u; readlink /proc/self/ns/net; readlink /proc/self/ns/user"]);
      expect({ code: e.code, err: e.err }).toEqual({ code: 0, err: "" });
      expect(e.out.trim().split("\n")).toEqual(["0", fs.readlinkSync(`/proc/${st.pid}/ns/net`), fs.readlinkSync(`/proc/${st.pid}/ns/user`)]);
    } finally {
      expect(asUser(["delete", "--force", id]).code).toBe(0);
    }
    expect(leftovers()).toEqual([]);
  });

  test.skipIf(!helpers)("a host group the user holds stays outside: its group-readable file is unreadable inside", () => {
    const dir = fs.mkdtempSync(path.join(work, "grp-"));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, "secret"), "group secret\n");
    fs.chownSync(path.join(dir, "secret"), 0, GROUP);
    fs.chmodSync(path.join(dir, "secret"), 0o040);
    const control = Bun.spawnSync(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, `--groups=${GROUP}`, "cat", path.join(dir, "secret")]);
    expect(control.stdout.toString()).toBe("group secret\n");
    const b = userBundle((s) => {
      s.process!.args = ["sh", "-c", "grep ^Groups /proc/self/status; cat /data/secret 2>&1"];
      s.mounts!.push({ destination: "/data", type: "bind", source: dir, options: ["rbind"] });
    });
    const r = asUser(["run", "-b", b, uniqueId("rl")], { groups: [GROUP] });
    expect(r.out.split("\n").map((l) => l.trim())).toEqual(["Groups:", "cat: can't open '/data/secret': Permission denied"]);
  });

  test("no cgroup and the host's pid namespace: kill --all and delete --force reach the container's init, never the user's other processes", async () => {
    const b = userBundle((s) => {
      s.process!.args = ["sleep", "60"];
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "pid");
      // the host's procfs can't be mounted from a user namespace: bound, as podman --pid=host does
      s.mounts = s.mounts!.map((m) => (m.destination === "/proc" ? { destination: "/proc", type: "bind", source: "/proc", options: ["rbind", "nosuid", "noexec", "nodev"] } : m));
    });
    // another process of the same user, outside the container
    const other = Bun.spawn(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", "sleep", "60"], { stdout: "ignore", stderr: "ignore" });
    try {
      const id = uniqueId("rl");
      const run = asUser(["run", "-d", "-b", b, id]);
      expect(run.code).toBe(0);
      const pid = JSON.parse(asUser(["state", id]).out).pid as number;
      const all = asUser(["kill", "--all", id, "KILL"]);
      expect(all.code).toBe(0);
      expect(all.err).toContain("only its init is signalled");
      expect(waitFor(() => JSON.parse(asUser(["state", id]).out).status === "stopped")).toBe(true);
      expect(fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z")).toBe(false);
      expect(asUser(["delete", id]).code).toBe(0);

      const id2 = uniqueId("rl");
      expect(asUser(["run", "-d", "-b", b, id2]).code).toBe(0);
      expect(asUser(["delete", "--force", id2]).code).toBe(0);
      expect(leftovers()).toEqual([]);
      // the user's own process lived through both
      expect(other.exitCode).toBeNull();
      expect(() => process.kill(other.pid, 0)).not.toThrow();
    } finally {
      other.kill(9);
      await other.exited;
    }
  });

  test("without subordinate ranges, spec --rootless falls back to the user's own ids (setgroups denied)", () => {
    user.subordinateRanges(false);
    try {
      const b = userBundle((s) => (s.process!.args = ["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/setgroups"]));
      const spec = JSON.parse(fs.readFileSync(path.join(b, "config.json"), "utf8")) as Spec;
      expect(spec.linux!.uidMappings).toEqual([{ containerID: 0, hostID: uid, size: 1 }]);
      expect(spec.linux!.gidMappings).toEqual([{ containerID: 0, hostID: gid, size: 1 }]);
      const r = asUser(["run", "-b", b, uniqueId("rl")]);
      expect(r.code).toBe(0);
      expect(r.out.split("\n").map((l) => l.trim().replace(/\s+/g, " "))).toEqual(["0", `0 ${uid} 1`, "deny"]);
      // exec into such a container sets no groups either (the kernel refuses setgroups there)
      const id = uniqueId("rl");
      const b2 = userBundle((s) => (s.process!.args = ["sleep", "60"]));
      expect(asUser(["run", "-d", "-b", b2, id]).code).toBe(0);
      try {
        const e = asUser(["exec", id, "sh", "-c", "id -u; cat /proc/self/setgroups"]);
        expect(e.err).toBe("");
        expect(e.out.split("\n")).toEqual(["0", "deny"]);
      } finally {
        expect(asUser(["delete", "--force", id]).code).toBe(0);
      }
    } finally {
      user.subordinateRanges(true);
    }
  });

  test.each([
    ["a range that isn't the user's", (s: Spec) => s.linux!.uidMappings!.push({ containerID: 70000, hostID: 700000, size: 10 }),
      `linux.uidMappings[${helpers ? 2 : 1}]: host ids 700000..700009 are not yours to map`],
    ["host root", (s: Spec) => (s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }]), "linux.gidMappings[0]: host ids 0..0 are not yours to map"],
    ["no user namespace", (s: Spec) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "user");
      delete s.linux!.uidMappings;
      delete s.linux!.gidMappings;
    }, "linux.namespaces: running without root needs a user namespace"],
    ["an idmapped mount", (s: Spec) => s.mounts!.push({ destination: "/data", type: "bind", source: "/tmp", options: ["rbind", "idmap"] }), "mounts[7].uidMappings: idmapped mounts need root"],
  ])("refused before anything is created: %s", (_n, edit, message) => {
    const b = userBundle(edit);
    const r = asUser(["run", "-b", b, uniqueId("rl")]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(message);
    expect(leftovers()).toEqual([]);
    expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(b);
  });
});
