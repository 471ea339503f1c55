// Integration: what a container sees from inside matches its config (root only).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { hostMountsUnder, isRoot, runCaptured, Runtime, uniqueId, withDetached } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";

const rt = new Runtime();
let bundle = "";
let base: Spec;

beforeAll(() => {
  bundle = makeBundle();
  base = readSpec(bundle);
});
afterAll(() => {
  rt.cleanup();
  fs.rmSync(bundle, { recursive: true, force: true });
});

/** Runs `sh -c script` in a container whose config is the base adjusted by edit; returns stdout. */
function inside(script: string, edit?: (s: Spec) => void): { code: number; out: string; err: string } {
  const spec: Spec = structuredClone(base);
  spec.process!.args = ["sh", "-c", script];
  edit?.(spec);
  writeSpec(bundle, spec);
  const r = rt.run(["run", "-b", bundle, uniqueId("iso")]);
  return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
}

const hostNs = (t: string) => fs.readlinkSync(`/proc/self/ns/${t}`);

describe.skipIf(!isRoot)("isolation", () => {
  test("every namespace is new: inodes differ from the host's", () => {
    const types = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "time", "user"];
    const r = inside(`for t in ${types.join(" ")}; do readlink /proc/self/ns/$t; done; echo $$`, (s) => {
      s.linux!.namespaces!.push({ type: "time" }, { type: "user" });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // a user namespace that doesn't own the host's files: keep the rootfs readable and skip devices' mknod
      s.root!.readonly = false;
    });
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    types.forEach((t, i) => {
      expect(lines[i]).toMatch(new RegExp(`^${t}:\\[\\d+\\]$`));
      expect(lines[i]).not.toBe(hostNs(t));
    });
    expect(lines[types.length]).toBe("1"); // PID 1 in its own pid namespace
  });

  test("cgroups: the init is in every cgroup of the container, and its cgroup namespace is rooted there", () => {
    // stage 0 joins the cgroups before it clones stage 1, which makes the cgroup namespace:
    // every line the init sees reads "/"
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    withDetached(rt, bundle, spec, (id, pid) => {
      const inside = rt.run(["exec", id, "cat", "/proc/1/cgroup"]);
      expect(inside.code).toBe(0);
      const lines = inside.stdout.trim().split("\n");
      expect(lines.length).toBeGreaterThan(1);
      for (const l of lines) expect(l).toMatch(/^\d+:[^:]*:\/$/);
      // seen from the host: the init sits in the container's own cgroup in every hierarchy
      const host = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
      for (const l of host) expect(l).toMatch(new RegExp(`/isola-runtime/${id}$`));
    }, "cg");
  });

  test("a namespace joined by path is the one at that path", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    withDetached(rt, bundle, spec, (_id, pidA) => {
      const netA = fs.readlinkSync(`/proc/${pidA}/ns/net`);
      const utsA = fs.readlinkSync(`/proc/${pidA}/ns/uts`);
      const r = inside("readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname", (s) => {
        s.hostname = undefined as unknown as string;
        delete s.hostname;
        s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
          n.type === "network" ? { type: "network", path: `/proc/${pidA}/ns/net` } : n.type === "uts" ? { type: "uts", path: `/proc/${pidA}/ns/uts` } : n,
        );
      });
      expect(r.err).toBe("");
      expect(r.out.split("\n")).toEqual([netA, utsA, "isola"]);
    });
  });

  test("pid, ipc, cgroup and time namespaces joined by path: the holder's, its pid 1 and its clock offsets", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    spec.linux!.namespaces!.push({ type: "time" });
    spec.linux!.timeOffsets = { boottime: { secs: 5_000_000 } };
    withDetached(rt, bundle, spec, (_id, pidA) => {
      const types = ["pid", "ipc", "cgroup", "time"] as const;
      const file = { pid: "pid", ipc: "ipc", cgroup: "cgroup", time: "time" };
      const r = inside(`for t in pid ipc cgroup time; do readlink /proc/self/ns/$t; done; cat /proc/1/comm; cut -d. -f1 /proc/uptime`, (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => !(types as readonly string[]).includes(n.type));
        for (const t of types) s.linux!.namespaces!.push({ type: t, path: `/proc/${pidA}/ns/${file[t]}` });
      });
      expect(r.err).toBe("");
      const lines = r.out.split("\n");
      types.forEach((t, i) => expect(lines[i]).toBe(fs.readlinkSync(`/proc/${pidA}/ns/${file[t]}`)));
      expect(lines[4]).toBe("sleep"); // the holder's init is pid 1 of the joined pid namespace
      expect(Number(lines[5])).toBeGreaterThanOrEqual(5_000_000); // the joined time namespace's boottime offset
    });
  });

  test("hostname, domainname, env, cwd (created), user, groups, umask", () => {
    const r = inside('hostname; cat /proc/sys/kernel/domainname; echo "$FOO"; pwd; id -u; id -g; cat /proc/self/status | grep ^Groups; umask', (s) => {
      s.hostname = "box1";
      s.domainname = "example.test";
      s.process!.env!.push("FOO=bar baz");
      s.process!.cwd = "/work/dir";
      s.process!.user = { uid: 1000, gid: 1001, additionalGids: [2000, 2001], umask: 0o027 };
      s.root!.readonly = false;
    });
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual(["box1", "example.test", "bar baz", "/work/dir", "1000", "1001", "Groups:\t2000 2001 ", "0027"]);
  });

  test("no host supplementary groups leak in when additionalGids is empty", () => {
    // the runtime runs with supplementary groups of its own (control: they are there outside)
    const id = uniqueId("iso");
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sh", "-c", "grep ^Groups /proc/self/status"];
    writeSpec(bundle, spec);
    const control = Bun.spawnSync(["setpriv", "--groups=4242,4243", "--", "grep", "^Groups", "/proc/self/status"]).stdout.toString().trim();
    expect(control).toBe("Groups:\t4242 4243");
    const r = runCaptured(["setpriv", "--groups=4242,4243", "--", ...rt.argv(["run", "-b", bundle, id])], `${rt.root}.groups`);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("Groups:");
  });

  test("rlimits and oomScoreAdj are applied", () => {
    const r = inside("ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj", (s) => {
      s.process!.rlimits = [
        { type: "RLIMIT_NOFILE", soft: 512, hard: 800 },
        { type: "RLIMIT_CORE", soft: 0, hard: 0 },
      ];
      s.process!.oomScoreAdj = 500;
    });
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual(["512", "800", "0", "500"]);
  });

  test("mounts: tmpfs options, read-only bind of a directory, a file bound onto a file, propagation", () => {
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "isola-src-"));
    fs.writeFileSync(path.join(hostDir, "hello"), "from host\n");
    const hostFile = path.join(hostDir, "hello");
    try {
      const r = inside(
        "grep -E ' /(data|scratch|etc/hostfile) ' /proc/self/mountinfo | cut -d' ' -f5,6,7; cat /data/hello /etc/hostfile; touch /data/x 2>&1 | grep -c Read-only; touch /scratch/ok && echo writable",
        (s) => {
          s.mounts!.push(
            { destination: "/data", type: "bind", source: hostDir, options: ["rbind", "ro", "nosuid", "private"] },
            { destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["noexec", "nodev", "size=1m", "mode=700"] },
            { destination: "/etc/hostfile", type: "bind", source: hostFile, options: ["bind", "ro"] },
          );
        },
      );
      expect(r.err).toBe("");
      const lines = r.out.split("\n");
      expect(lines).toContain("/data ro,nosuid,relatime -");
      expect(lines.find((l) => l.startsWith("/scratch "))).toMatch(/^\/scratch rw,nodev,noexec/);
      expect(lines.find((l) => l.startsWith("/etc/hostfile "))).toMatch(/^\/etc\/hostfile ro/);
      expect(lines.filter((l) => l === "from host").length).toBe(2);
      expect(lines).toContain("1");
      expect(lines).toContain("writable");
      expect(fs.existsSync(path.join(hostDir, "x"))).toBe(false);
      expect(hostMountsUnder(hostDir).filter((l) => l.includes("isola-bundle"))).toEqual([]);
    } finally {
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
  });

  test("mounts: propagation, atime options, devpts with its own instance and ptmx mode, mqueue", () => {
    const r = inside("cat /proc/self/mountinfo", (s) => {
      s.mounts!.push(
        { destination: "/m-shared", type: "tmpfs", source: "tmpfs", options: ["shared"] },
        { destination: "/m-unbindable", type: "tmpfs", source: "tmpfs", options: ["unbindable"] },
        { destination: "/m-private", type: "tmpfs", source: "tmpfs", options: ["private"] },
        { destination: "/m-noatime", type: "tmpfs", source: "tmpfs", options: ["noatime", "nodiratime"] },
        { destination: "/m-strict", type: "tmpfs", source: "tmpfs", options: ["strictatime"] },
      );
    });
    expect(r.err).toBe("");
    // mountinfo: id parent major:minor root mountpoint options optional-fields - fstype source super-options
    const entry = (mp: string) => {
      const line = r.out.split("\n").find((l) => l.split(" ")[4] === mp);
      if (!line) throw new Error(`${mp} is not mounted:\n${r.out}`);
      const [before, after = ""] = line.split(" - ");
      const f = before!.split(" ");
      const [fstype, , superOpts = ""] = after.split(" ");
      return { opts: f[5]!.split(","), optional: f.slice(6), fstype, superOpts: superOpts.split(",") };
    };
    expect(entry("/m-shared").optional.some((o) => o.startsWith("shared:"))).toBe(true);
    expect(entry("/m-unbindable").optional).toEqual(["unbindable"]);
    expect(entry("/m-private").optional).toEqual([]);
    expect(entry("/m-noatime").opts).toEqual(expect.arrayContaining(["noatime", "nodiratime"]));
    const strict = entry("/m-strict").opts;
    expect(strict.some((o) => o === "relatime" || o === "noatime")).toBe(false);
    // runc's default spec: a devpts instance of its own with ptmxmode=0666, mode=0620, gid=5; mqueue
    const pts = entry("/dev/pts");
    expect(pts.fstype).toBe("devpts");
    expect(pts.superOpts).toEqual(expect.arrayContaining(["gid=5", "mode=620", "ptmxmode=666"]));
    expect(entry("/dev/mqueue").fstype).toBe("mqueue");
  });

  test("mounts: rw on a read-only source makes the bind writable; a tmpfs mpol nodelist is one option", () => {
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "isola-rosrc-"));
    expect(Bun.spawnSync(["mount", "--bind", hostDir, hostDir]).exitCode).toBe(0);
    expect(Bun.spawnSync(["mount", "-o", "remount,bind,ro", hostDir]).exitCode).toBe(0);
    try {
      const r = inside("touch /rw/made && echo rw-ok; grep ' /t ' /proc/self/mountinfo", (s) => {
        s.mounts!.push(
          { destination: "/rw", type: "bind", source: hostDir, options: ["bind", "rw"] },
          { destination: "/t", type: "tmpfs", source: "tmpfs", options: ["mpol=bind:0", "sync", "size=1m"] },
        );
      });
      expect(r.err).toBe("");
      const lines = r.out.split("\n");
      expect(lines[0]).toBe("rw-ok");
      expect(lines[1]).toContain("mpol=bind:0");
      expect(lines[1]).toContain("size=1024k");
    } finally {
      Bun.spawnSync(["umount", hostDir]);
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
  });

  test("a mount destination that is a symlink out of the rootfs stays inside it", () => {
    const rootfs = path.join(bundle, "rootfs");
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "isola-outside-"));
    fs.symlinkSync(outside, path.join(rootfs, "escape"));
    try {
      const r = inside("grep ' /tmp/isola-outside' /proc/self/mountinfo | wc -l; ls -d /tmp/isola-outside-*/marker", (s) => {
        s.mounts!.push({ destination: "/escape/marker", type: "tmpfs", source: "tmpfs", options: [] });
      });
      expect(r.code).toBe(0);
      // the tmpfs landed at <rootfs>/tmp/isola-outside-*/marker (the symlink resolved inside the root), not on the host
      expect(fs.existsSync(path.join(outside, "marker"))).toBe(false);
      expect(r.out.split("\n")[1]).toMatch(/^\/tmp\/isola-outside-.*\/marker$/);
    } finally {
      fs.rmSync(path.join(rootfs, "escape"));
      fs.rmSync(path.join(rootfs, "tmp"), { recursive: true, force: true });
      fs.mkdirSync(path.join(rootfs, "tmp"), { mode: 0o1777 });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  test("masked paths are unreadable, read-only paths unwritable, root read-only", () => {
    // each probe works in a container without the masks (the control), so only they stop it:
    // /proc/timer_list is readable by root, net.core.somaxconn is writable by root in its own
    // network namespace (the container's: never the host's)
    const probes = "cat /proc/timer_list 2>/dev/null | wc -c; ls /sys/firmware | wc -l; echo 128 2>&1 > /proc/sys/net/core/somaxconn && echo wrote-sys; touch /newfile 2>&1 && echo wrote-root";
    const ownNet = (s: Spec) => expect(s.linux!.namespaces!.some((n) => n.type === "network" && !n.path)).toBe(true);
    const boxed = inside(probes, ownNet);
    const lines = boxed.out.split("\n");
    expect(lines[0]).toBe("0");
    expect(lines[1]).toBe("0");
    expect(lines[2]).toMatch(/somaxconn: Read-only file system/);
    expect(lines[3]).toMatch(/newfile: Read-only file system/);
    const open = inside(probes, (s) => {
      ownNet(s);
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
      s.root!.readonly = false;
      s.mounts = s.mounts!.filter((m) => m.destination !== "/sys");
      s.mounts.push({ destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev"] });
    });
    const ctl = open.out.split("\n");
    expect(Number(ctl[0])).toBeGreaterThan(0);
    expect(Number(ctl[1])).toBeGreaterThan(0);
    expect(ctl.slice(2)).toEqual(["wrote-sys", "wrote-root"]);
    fs.rmSync(path.join(bundle, "rootfs", "newfile"), { force: true });
  });

  test("recursive mount options (rro, rnosuid, rnoatime) reach the mounts below a bind; plain ro only the top one (runc)", () => {
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "isola-rec-"));
    fs.mkdirSync(path.join(hostDir, "sub"));
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "isola-rec", path.join(hostDir, "sub")]).exitCode).toBe(0);
    try {
      const r = inside(
        "touch /plain/sub/a 2>&1 && echo plain-sub-writable; touch /rec/sub/b 2>&1; grep -E ' /rec(/sub)? ' /proc/self/mountinfo | cut -d' ' -f5,6",
        (s) => {
          s.mounts!.push(
            { destination: "/plain", type: "bind", source: hostDir, options: ["rbind", "ro"] },
            { destination: "/rec", type: "bind", source: hostDir, options: ["rbind", "rro", "rnosuid", "rnoatime"] },
          );
        },
      );
      const lines = r.out.split("\n");
      expect(lines[0]).toBe("plain-sub-writable");
      expect(lines[1]).toMatch(/b: Read-only file system/);
      expect(lines.slice(2).sort()).toEqual(["/rec ro,nosuid,noatime", "/rec/sub ro,nosuid,noatime"]);
    } finally {
      Bun.spawnSync(["umount", path.join(hostDir, "sub")]);
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
  });

  test("devices: defaults and linux.devices with mode and owner; /dev symlinks", () => {
    const r = inside("stat -c '%n %F %t:%T %a %u:%g' /dev/null /dev/urandom /dev/mydev /dev/fifo0; for l in ptmx fd stdin; do readlink /dev/$l; done", (s) => {
      s.linux!.devices = [
        { type: "c", path: "/dev/mydev", major: 1, minor: 3, fileMode: 0o640, uid: 1000, gid: 1000 },
        { type: "p", path: "/dev/fifo0", fileMode: 0o600 },
      ];
    });
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual([
      "/dev/null character special file 1:3 666 0:0",
      "/dev/urandom character special file 1:9 666 0:0",
      "/dev/mydev character special file 1:3 640 1000:1000",
      "/dev/fifo0 fifo 0:0 600 0:0",
      "pts/ptmx",
      "/proc/self/fd",
      "/proc/self/fd/0",
    ]);
  });

  test("sysctl is set in the container's own namespaces", () => {
    const hostForward = fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
    const r = inside("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax", (s) => {
      s.linux!.sysctl = { "net.ipv4.ip_forward": "1", "kernel.msgmax": "4096" };
    });
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual(["1", "4096"]);
    expect(fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8")).toBe(hostForward);
  });

  test("time namespace offsets move the container's boottime clock", () => {
    const r = inside("cut -d. -f1 /proc/uptime", (s) => {
      s.linux!.namespaces!.push({ type: "time" });
      s.linux!.timeOffsets = { boottime: { secs: 86400 * 365, nanosecs: 0 }, monotonic: { secs: 1000 } };
    });
    expect(r.err).toBe("");
    const hostUptime = Number(fs.readFileSync("/proc/uptime", "utf8").split(".")[0]);
    expect(Number(r.out)).toBeGreaterThanOrEqual(hostUptime + 86400 * 365 - 5);
  });

  test("capabilities: the configured sets, nothing more", () => {
    const r = inside("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -s '\\t' ' '; grep NoNewPrivs /proc/self/status | tr -s '\\t' ' '");
    // default spec: AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10) = 0x20000420
    expect(r.out.split("\n")).toEqual([
      "CapInh: 0000000000000000",
      "CapPrm: 0000000020000420",
      "CapEff: 0000000020000420",
      "CapBnd: 0000000020000420",
      "CapAmb: 0000000000000000",
      "NoNewPrivs: 1",
    ]);
  });

  test("capabilities across the uid change: a non-root user keeps exactly its inheritable+ambient set", () => {
    // NET_BIND_SERVICE (10) and NET_RAW (13) in every set, ambient too: after setuid(1000)
    // they survive only because they are ambient; KILL (5) is permitted/effective but not
    // ambient, so the uid change drops it from everything but the bounding set
    const r = inside("id -u; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -s '\\t' ' '", (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.noNewPrivileges = true;
      const amb = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
      s.process!.capabilities = { bounding: [...amb, "CAP_KILL"], permitted: [...amb, "CAP_KILL"], effective: [...amb, "CAP_KILL"], inheritable: amb, ambient: amb };
    });
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual([
      "1000",
      "CapInh: 0000000000002400",
      "CapPrm: 0000000000002400",
      "CapEff: 0000000000002400",
      "CapBnd: 0000000000002420",
      "CapAmb: 0000000000002400",
    ]);
  });

  test("devices: a host device node bound in is still refused by the device cgroup unless linux.resources.devices allows it", () => {
    // /dev/kmsg (c 1:11): not in the default allow list; CAP_SYSLOG so that only the cgroup decides
    const withKmsg = (s: Spec) => {
      s.mounts!.push({ destination: "/mnt/kmsg", type: "bind", source: "/dev/kmsg", options: ["bind"] });
      for (const set of ["bounding", "permitted", "effective"] as const) s.process!.capabilities![set] = [...(s.process!.capabilities![set] ?? []), "CAP_SYSLOG"];
    };
    const r = inside("head -c0 /mnt/kmsg && echo opened || echo refused", withKmsg);
    expect(r.out).toBe("refused");
    expect(r.err).toMatch(/Operation not permitted/);
    const allowed = inside("head -c0 /mnt/kmsg && echo opened || echo refused", (s) => {
      withKmsg(s);
      const devices = (s.linux!.resources?.devices ?? []) as { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
      s.linux!.resources = { ...(s.linux!.resources ?? {}), devices: [...devices, { allow: true, type: "c", major: 1, minor: 11, access: "r" }] };
    });
    expect(allowed.err).toBe("");
    expect(allowed.out).toBe("opened");
  });

  test("the caller's stdin and stdout pass through, and only preserved fds are open", () => {
    const r = rt.run(["run", "-b", bundle, uniqueId("stdio")], { stdin: "hello stdin\n" });
    expect(r.code).toBe(0);
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sh", "-c", "cat; ls /proc/self/fd | sort -n | tr '\\n' ' '"];
    writeSpec(bundle, spec);
    const r2 = rt.run(["run", "-b", bundle, uniqueId("stdio")], { stdin: "hello stdin\n" });
    expect(r2.stderr).toBe("");
    // 0,1,2 and the fd ls itself opens (3)
    expect(r2.stdout).toBe("hello stdin\n0 1 2 3 ");
  });

  test("a fresh session keyring named after the container by default; --no-new-keyring keeps the caller's", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sh", "-c", "cat /proc/keys"];
    spec.linux!.maskedPaths = spec.linux!.maskedPaths!.filter((p) => p !== "/proc/keys"); // to look at it
    writeSpec(bundle, spec);
    const id = uniqueId("keys");
    const fresh = rt.run(["run", "-b", bundle, id]);
    expect(fresh.stderr).toBe("");
    expect(fresh.stdout).toMatch(new RegExp(`keyring\\s+_ses\\.${id}:`));
    const id2 = uniqueId("keys");
    const kept = rt.run(["run", "--no-new-keyring", "-b", bundle, id2]);
    expect(kept.stderr).toBe("");
    expect(kept.stdout).not.toContain(`_ses.${id2}`);
  });

  test("socket activation: LISTEN_FDS=n with LISTEN_PID=ours passes fds 3.. first, and the process gets LISTEN_FDS=n, LISTEN_PID=1 (runc's)", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sh", "-c", 'echo "[$LISTEN_FDS] [$LISTEN_PID]"; cat <&3 2>/dev/null || echo "no fd 3"'];
    writeSpec(bundle, spec);
    const file = path.join(os.tmpdir(), `isola-listen-${process.pid}`);
    fs.writeFileSync(file, "from fd 3\n");
    const fd = fs.openSync(file, "r");
    try {
      // sh sets the variables and execs the runtime, which keeps sh's pid: LISTEN_PID is the runtime's
      const activated = (listenPid: string) =>
        Bun.spawnSync(["sh", "-c", `LISTEN_PID=${listenPid} LISTEN_FDS=1 exec "$@"`, "sh", ...rt.argv(["run", "-b", bundle, uniqueId("listen")])], {
          stdio: ["ignore", "pipe", "pipe", fd],
        });
      const r = activated("$$");
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toBe("[1] [1]\nfrom fd 3\n");
      // the sockets were meant for another process: nothing is passed
      const other = activated("1");
      expect(other.stdout.toString()).toBe("[] []\nno fd 3\n");
    } finally {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  });
});
