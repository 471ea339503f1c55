// Integration (root): user namespaces as the boundary. Root inside is an unprivileged id
// outside; groups don't leak; the rootfs can be owned by the mapped root; idmapped mounts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { hostMountsUnder, isRoot, REPO, Runtime, uniqueId, withDetached } from "../../test/harness.ts";
import { CAPABILITIES } from "../oci/capabilities.ts";
import type { Spec } from "../oci/types.ts";

const MAPPED = 100000;
const rt = new Runtime();
let work = "";
let bundle = ""; // rootfs owned by host root (appears as nobody inside a user namespace)
let owned = ""; // a copy whose rootfs is owned by the mapped root (host 100000)
let base: Spec;

// every capability this test process holds (a sandbox may have dropped some from the bounding set)
const bounding = BigInt("0x" + (/^CapBnd:\s*([0-9a-f]+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0"));
const ALL_CAPS = Object.entries(CAPABILITIES)
  .filter(([, bit]) => (bounding >> BigInt(bit)) & 1n)
  .map(([name]) => name);

beforeAll(() => {
  if (!isRoot) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "isola-userns-"));
  fs.chmodSync(work, 0o755);
  const probe = path.join(work, "probe");
  const cc = Bun.spawnSync(["gcc", "-static", "-O1", "-o", probe, path.join(REPO, "test/userns_probe.c")]);
  if (cc.exitCode !== 0) throw new Error(`building the probe: ${cc.stderr.toString()}`);
  bundle = makeBundle(undefined, work);
  owned = makeBundle(undefined, work);
  for (const b of [bundle, owned]) {
    fs.copyFileSync(probe, path.join(b, "rootfs/bin/probe"));
    fs.mkdirSync(path.join(b, "rootfs/data")); // mount point: the mapped root can't create it in a host-owned rootfs
  }
  fs.chmodSync(path.join(bundle, "rootfs/bin/probe"), 0o755);
  fs.chmodSync(path.join(owned, "rootfs/bin/probe"), 0o755);
  // setuid copies: one owned by the mapped root, one by host root (unmapped inside)
  fs.copyFileSync(probe, path.join(owned, "rootfs/bin/suid-mapped"));
  fs.copyFileSync(probe, path.join(owned, "rootfs/bin/suid-host"));
  const chown = Bun.spawnSync(["chown", "-R", "-h", `${MAPPED}:${MAPPED}`, path.join(owned, "rootfs")]);
  if (chown.exitCode !== 0) throw new Error(chown.stderr.toString());
  fs.chownSync(path.join(owned, "rootfs/bin/suid-host"), 0, 0);
  fs.chmodSync(path.join(owned, "rootfs/bin/suid-mapped"), 0o4755);
  fs.chmodSync(path.join(owned, "rootfs/bin/suid-host"), 0o4755);
  base = readSpec(bundle);
});
afterAll(() => {
  rt.cleanup();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function userns(s: Spec, hostId = MAPPED) {
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = [{ containerID: 0, hostID: hostId, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: hostId, size: 65536 }];
}

/** Every capability, so only the user namespace stands between the process and the host. */
function allCaps(s: Spec) {
  s.process!.capabilities = { bounding: ALL_CAPS, effective: ALL_CAPS, permitted: ALL_CAPS, inheritable: [], ambient: [] };
  s.process!.noNewPrivileges = false;
}

function inside(script: string, edit?: (s: Spec) => void, opts: { bundle?: string; wrap?: string[] } = {}) {
  const b = opts.bundle ?? bundle;
  const spec: Spec = structuredClone(base);
  spec.process!.args = ["sh", "-c", script];
  spec.root!.readonly = false;
  edit?.(spec);
  writeSpec(b, spec);
  const argv = [...(opts.wrap ?? []), ...rt.argv(["run", "-b", b, uniqueId("uns")])];
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

describe.skipIf(!isRoot)("user namespaces (root)", () => {
  test("root inside is the mapped id outside; the rootfs owned by the mapped root is writable as root", () => {
    const r = inside("id -u; cat /proc/self/uid_map; touch /root/made && ls -ln /root/made | awk '{print $3, $4}'; sleep 1 & echo $!", userns, { bundle: owned });
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    expect(lines[0]).toBe("0");
    expect(lines[1]!.trim().split(/\s+/)).toEqual(["0", String(MAPPED), "65536"]);
    expect(lines[2]).toBe("0 0");
    const st = fs.statSync(path.join(owned, "rootfs/root/made"));
    expect([st.uid, st.gid]).toEqual([MAPPED, MAPPED]);
    fs.rmSync(path.join(owned, "rootfs/root/made"));
  });

  test("a read-only root owned by the mapped root stays read-only", () => {
    const r = inside("touch /root/nope 2>&1; echo done", (s) => {
      userns(s);
      s.root!.readonly = true;
    }, { bundle: owned });
    expect(r.out).toMatch(/Read-only file system/);
    expect(fs.existsSync(path.join(owned, "rootfs/root/nope"))).toBe(false);
  });

  test("a rootfs owned by host root is not writable by the mapped root", () => {
    const r = inside("touch /root/nope 2>&1; ls -ld / | awk '{print $3}'", userns);
    expect(r.out.split("\n")).toEqual(["touch: /root/nope: Permission denied", "nobody"]);
  });

  test("a user namespace joined by path: same namespace, its maps, nothing written", () => {
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    spec.root!.readonly = false;
    userns(spec, 200000);
    withDetached(rt, bundle, spec, (_id, pid) => {
      const r = inside("readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u", (s) => {
        s.linux!.namespaces!.push({ type: "user", path: `/proc/${pid}/ns/user` });
      });
      expect(r.err).toBe("");
      const lines = r.out.split("\n");
      expect(lines[0]).toBe(fs.readlinkSync(`/proc/${pid}/ns/user`));
      expect(lines[1]!.trim().split(/\s+/)).toEqual(["0", "200000", "65536"]);
      expect(lines[2]).toBe("0");

      // with mappings too (containerd writes them for a pod's next member): they must be its maps
      const same = inside("id -u", (s) => {
        s.linux!.namespaces!.push({ type: "user", path: `/proc/${pid}/ns/user` });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      });
      expect(same.err).toBe("");
      expect(same.out).toBe("0");
      const before = fs.readdirSync(rt.root);
      const other = inside("id -u", (s) => {
        s.linux!.namespaces!.push({ type: "user", path: `/proc/${pid}/ns/user` });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      });
      expect(other.code).not.toBe(0);
      expect(other.err).toContain(`linux.uidMappings: [{"containerID":0,"hostID":300000,"size":65536}] are not the maps of the user namespace joined at /proc/${pid}/ns/user (0 200000 65536)`);
      expect(other.err).not.toContain("gidMappings");
      expect(fs.readdirSync(rt.root)).toEqual(before);
      // a namespace file bound elsewhere (as pods keep theirs): its maps are read from inside it
      const pinned = path.join(rt.root, "..", `${path.basename(rt.root)}.userns`);
      fs.writeFileSync(pinned, "");
      expect(Bun.spawnSync(["mount", "--bind", `/proc/${pid}/ns/user`, pinned]).exitCode).toBe(0);
      try {
        const bound = inside("id -u", (s) => {
          s.linux!.namespaces!.push({ type: "user", path: pinned });
          s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
          s.linux!.gidMappings = [{ containerID: 0, hostID: 200001, size: 65536 }];
        });
        expect(bound.code).not.toBe(0);
        expect(bound.err).toContain(`linux.gidMappings: [{"containerID":0,"hostID":200001,"size":65536}] are not the maps of the user namespace joined at ${pinned} (0 200000 65536)`);
      } finally {
        Bun.spawnSync(["umount", pinned]);
        fs.rmSync(pinned, { force: true });
      }
    });
  });

  test("a new user namespace with host-owned namespaces joined by path: joined first, then the user namespace (runc's order)", () => {
    // the holder's network and ipc namespaces are owned by the host's user namespace; inside
    // a new user namespace nobody could join them any more, so stage 1 joins them before
    // it makes the user namespace, and the rest (mount, pid, uts) is created owned by it
    const spec: Spec = structuredClone(base);
    spec.process!.args = ["sleep", "60"];
    withDetached(rt, bundle, spec, (_id, pid) => {
      const joinIpc = (s: Spec) => {
        userns(s);
        s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
          n.type === "network" ? { type: "network", path: `/proc/${pid}/ns/net` } : n.type === "ipc" ? { type: "ipc", path: `/proc/${pid}/ns/ipc` } : n,
        );
      };
      // mqueue belongs to the ipc namespace's owner: refused naming the mount (nothing is left: the create undoes itself)
      const refused = inside("true", joinIpc);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/mounts\[\d+\]\.type: mqueue can't be mounted: a new user namespace never owns the ipc namespace it joins by path/);
      const r = inside("for t in net ipc user uts; do readlink /proc/self/ns/$t; done; cat /proc/self/uid_map; id -u; hostname x && hostname", (s) => {
        joinIpc(s);
        allCaps(s); // sethostname needs CAP_SYS_ADMIN (in the uts namespace's owner: its own user namespace)
        s.mounts = s.mounts!.filter((m) => m.type !== "mqueue");
      });
      expect(r.err).toBe("");
      const [net, ipc, user, uts, map, uid, host] = r.out.split("\n");
      expect(net).toBe(fs.readlinkSync(`/proc/${pid}/ns/net`));
      expect(ipc).toBe(fs.readlinkSync(`/proc/${pid}/ns/ipc`));
      expect(user).not.toBe(fs.readlinkSync("/proc/self/ns/user"));
      expect(uts).not.toBe(fs.readlinkSync(`/proc/${pid}/ns/uts`));
      expect(map!.trim().split(/\s+/)).toEqual(["0", String(MAPPED), "65536"]);
      expect(uid).toBe("0");
      expect(host).toBe("x"); // its own uts namespace, owned by its user namespace

      // exec into such a container joins its host-owned netns first, then its user namespace
      // (runc's passes); and a second container joining both its user namespace and the
      // host-owned netns by path (a pod's next member) starts the same way
      const member: Spec = structuredClone(base);
      member.process!.args = ["sleep", "60"];
      member.root!.readonly = false;
      joinIpc(member);
      member.mounts = member.mounts!.filter((m) => m.type !== "mqueue");
      withDetached(rt, bundle, member, (idB, pidB) => {
        const e = rt.run(["exec", idB, "sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/user"]);
        expect(e.stderr).toBe("");
        expect(e.stdout.trim().split("\n")).toEqual([fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync(`/proc/${pidB}/ns/user`)]);
        const r2 = inside("readlink /proc/self/ns/net; readlink /proc/self/ns/user; id -u", (s) => {
          s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: `/proc/${pid}/ns/net` } : n));
          s.linux!.namespaces!.push({ type: "user", path: `/proc/${pidB}/ns/user` });
        });
        expect(r2.err).toBe("");
        expect(r2.out.split("\n")).toEqual([fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync(`/proc/${pidB}/ns/user`), "0"]);
      }, "member");
    });
  });

  test("host groups the caller belongs to don't come along: a group-readable host file stays unreadable", () => {
    const dir = fs.mkdtempSync(path.join(work, "grp-"));
    fs.chmodSync(dir, 0o755);
    const file = path.join(dir, "secret");
    fs.writeFileSync(file, "group secret\n");
    fs.chownSync(file, 0, 4242);
    fs.chmodSync(file, 0o040);
    // control: a process holding the group can read it on the host
    const control = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--groups=4242", "cat", file]);
    expect(control.stdout.toString()).toBe("group secret\n");
    // the runtime runs with group 4242 among its groups; the container must not have it
    const r = inside("grep ^Groups /proc/self/status; cat /data/secret 2>&1", (s) => {
      userns(s);
      allCaps(s);
      s.mounts!.push({ destination: "/data", type: "bind", source: dir, options: ["rbind"] });
    }, { wrap: ["setpriv", "--groups=4242", "--"] });
    expect(r.err).toBe("");
    expect(r.out.split("\n").map((l) => l.trim())).toEqual(["Groups:", "cat: can't open '/data/secret': Permission denied"]);
  });
});

describe.skipIf(!isRoot)("security boundary: root in a user namespace with every capability", () => {
  // Each probe is compared with the same container without a user namespace (the control),
  // so a boundary that didn't hold would make the test fail. Probes are harmless on the host.
  const plain = (s: Spec) => allCaps(s);
  const boxed = (s: Spec) => {
    allCaps(s);
    userns(s);
  };

  test("cannot load a kernel module", () => {
    // the control, with every capability outside a user namespace, gets past the permission
    // check to the image (junk: refused as such); a kernel without modules says ENOSYS to all
    const control = inside("probe module", plain).out;
    if (control.startsWith("err 38 ")) {
      console.log("skipping the kernel module probe: this kernel has no module support (init_module is ENOSYS for everyone)");
      return;
    }
    expect(control).toMatch(/^err /);
    expect(control).not.toMatch(/^err 1 /);
    const r = inside("probe module", boxed);
    expect(r.err).toBe("");
    expect(r.out).toBe("err 1 Operation not permitted");
  });

  test("cannot mount a filesystem that needs init-namespace privileges (debugfs)", () => {
    expect(inside("probe mount /tmp", plain).out).toBe("ok");
    expect(inside("probe mount /tmp", boxed).out).toBe("err 1 Operation not permitted");
  });

  test("cannot set the time (settimeofday checks CAP_SYS_TIME and changes nothing)", () => {
    expect(inside("probe time", plain).out).toBe("ok");
    expect(inside("probe time", boxed).out).toBe("err 1 Operation not permitted");
  });

  test("cannot change the hostname of a uts namespace it shares with the host side", () => {
    // The runtime runs in a throwaway uts namespace (owned by the initial user namespace) so
    // that even a broken boundary can't rename the real host.
    const shareUts = (s: Spec) => {
      delete s.hostname;
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "uts");
    };
    const wrap = ["unshare", "--uts", "--"];
    expect(inside("probe hostname isola-probe", (s) => { plain(s); shareUts(s); }, { wrap }).out).toBe("ok");
    expect(inside("probe hostname isola-probe", (s) => { boxed(s); shareUts(s); }, { wrap }).out).toBe("err 1 Operation not permitted");
    expect(os.hostname()).not.toBe("isola-probe");
  });

  test("cannot read a host root-only file exposed by a bind mount", () => {
    const dir = fs.mkdtempSync(path.join(work, "ro-"));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, "shadow"), "root only\n", { mode: 0o600 });
    const mount = (s: Spec) => s.mounts!.push({ destination: "/data", type: "bind", source: dir, options: ["rbind"] });
    expect(inside("probe read /data/shadow", (s) => { plain(s); mount(s); }).out).toBe("ok");
    expect(inside("probe read /data/shadow", (s) => { boxed(s); mount(s); }).out).toBe("err 13 Permission denied");
  });

  test("cannot signal a host process, even sharing the host's pid namespace", () => {
    const victim = Bun.spawn(["sleep", "60"]);
    try {
      // no pid namespace: host pids are visible; proc can't be mounted from the user namespace then, bind it
      const sharePid = (s: Spec) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "pid");
        s.mounts = s.mounts!.map((m) => (m.destination === "/proc" ? { destination: "/proc", type: "bind", source: "/proc", options: ["rbind"] } : m));
        s.linux!.maskedPaths = [];
        s.linux!.readonlyPaths = [];
      };
      expect(inside(`probe kill ${victim.pid}`, (s) => { plain(s); sharePid(s); })).toMatchObject({ out: "ok", err: "" });
      expect(inside(`probe kill ${victim.pid}`, (s) => { boxed(s); sharePid(s); }).out).toBe("err 1 Operation not permitted");
    } finally {
      victim.kill();
    }
  });

  test("setuid binaries: the mapped root's works inside the range only, host root's does nothing, no_new_privs stops both", () => {
    const asUser = (nnp: boolean) => (s: Spec) => {
      userns(s);
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.noNewPrivileges = nnp;
    };
    const r = inside("probe euid; suid-mapped euid; suid-host euid; cat /proc/self/uid_map", asUser(false), { bundle: owned });
    expect(r.err).toBe("");
    const lines = r.out.split("\n");
    // euid 0 inside is host 100000: the mapped range is the ceiling
    expect(lines.slice(0, 3)).toEqual(["1000", "0", "1000"]);
    expect(lines[3]!.trim().split(/\s+/)).toEqual(["0", String(MAPPED), "65536"]);
    expect(inside("suid-mapped euid; suid-host euid", asUser(true), { bundle: owned }).out.split("\n")).toEqual(["1000", "1000"]);
  });
});

describe.skipIf(!isRoot)("idmapped mounts", () => {
  let data = "";
  beforeAll(() => {
    data = fs.mkdtempSync(path.join(work, "idm-"));
    fs.writeFileSync(path.join(data, "f"), "x");
    fs.chownSync(path.join(data, "f"), 1000, 1000);
    fs.chownSync(data, 1000, 1000);
    fs.chmodSync(data, 0o755);
  });
  const mount = (hostId: number, extra: Partial<NonNullable<Spec["mounts"]>[number]> = {}) => (s: Spec) =>
    s.mounts!.push({
      destination: "/data",
      type: "bind",
      source: data,
      options: ["rbind"],
      uidMappings: [{ containerID: 1000, hostID: hostId, size: 1 }],
      gidMappings: [{ containerID: 1000, hostID: hostId, size: 1 }],
      ...extra,
    });

  test("host uid 1000 shows as 0 inside, without chown; files made inside are 1000 on the host", () => {
    const r = inside("stat -c '%u %g' /data/f; touch /data/new; stat -c '%u %g' /data/new", mount(0));
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual(["0 0", "0 0"]);
    const st = fs.statSync(path.join(data, "new"));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    expect(fs.statSync(path.join(data, "f")).uid).toBe(1000); // nothing was chowned
    fs.rmSync(path.join(data, "new"));
    expect(hostMountsUnder(data)).toEqual([]);
  });

  test("in a user namespace: mapped to the container's root, and read-only when asked", () => {
    const r = inside("stat -c '%u %g' /data/f; touch /data/new 2>&1", (s) => {
      userns(s);
      mount(MAPPED, { options: ["rbind", "ro", "idmap"] })(s);
    }, { bundle: owned });
    expect(r.out.split("\n")).toEqual(["0 0", "touch: /data/new: Read-only file system"]);
  });

  test("ridmap idmaps the mounts below the bind too; idmap only the top one", () => {
    const sub = path.join(data, "sub");
    fs.mkdirSync(sub);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,uid=1000,gid=1000", "isola-ridmap", sub]).exitCode).toBe(0);
    try {
      fs.writeFileSync(path.join(sub, "g"), "y");
      fs.chownSync(path.join(sub, "g"), 1000, 1000);
      const probe = "stat -c '%u' /data/f /data/sub/g";
      const rec = inside(probe, mount(0, { options: ["rbind", "ridmap"] }));
      expect(rec.err).toBe("");
      expect(rec.out.split("\n")).toEqual(["0", "0"]);
      const top = inside(probe, mount(0, { options: ["rbind", "idmap"] }));
      expect(top.err).toBe("");
      expect(top.out.split("\n")).toEqual(["0", "1000"]); // the submount keeps the host's ids
    } finally {
      Bun.spawnSync(["umount", sub]);
      fs.rmdirSync(sub);
    }
    expect(hostMountsUnder(data)).toEqual([]);
  });

  test("without a mapping a host uid 1000 file is nobody's inside the user namespace (the control)", () => {
    const r = inside("stat -c '%u' /data/f", (s) => {
      userns(s);
      s.mounts!.push({ destination: "/data", type: "bind", source: data, options: ["rbind"] });
    }, { bundle: owned });
    expect(r.out).toBe("65534");
  });
});

describe.skipIf(!isRoot)("bad mappings are refused before anything is created", () => {
  test.each([
    ["overlap", (s: Spec) => { userns(s); s.linux!.uidMappings!.push({ containerID: 10, hostID: 500000, size: 1 }); }, "linux.uidMappings[1]: overlaps linux.uidMappings[0] (container ids 0..65535)"],
    ["out of range", (s: Spec) => { userns(s); s.linux!.gidMappings = [{ containerID: 0, hostID: 4294967000, size: 65536 }]; }, "linux.gidMappings[0]: host ids 4294967000..4295032535 go past 4294967294"],
    ["too many lines", (s: Spec) => { userns(s); s.linux!.uidMappings = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: MAPPED + i, size: 1 })); }, "linux.uidMappings: 341 mappings, the kernel accepts at most 340"],
    ["process uid not mapped", (s: Spec) => { userns(s); s.process!.user.uid = 70000; }, "process.user.uid: 70000 is not mapped by linux.uidMappings (container ids 0..65535)"],
    ["idmap without any mapping", (s: Spec) => s.mounts!.push({ destination: "/d", type: "bind", source: "/tmp", options: ["rbind", "idmap"] }), `mounts[7].options: "idmap" without mount mappings`],
  ])("%s", (_n, edit, message) => {
    const before = fs.readdirSync(rt.root);
    const mountsBefore = hostMountsUnder(bundle).length;
    const r = inside("true", edit);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(message);
    expect(fs.readdirSync(rt.root)).toEqual(before);
    expect(hostMountsUnder(bundle).length).toBe(mountsBefore);
  });
});
