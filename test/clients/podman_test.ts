// podman drives isola-runtime unchanged (root only): run --rm, run -d + exec + logs + stop + rm,
// run -it through a real pty, resources seen from inside, --cap-drop, a seccomp profile, --read-only.
// Everything runs in a private mount + network namespace with its own storage and config.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { isRoot } from "../harness.ts";
import { IMAGE, Podman } from "./podman.ts";
import { buildRuntime, leftoverCgroups, RUNTIME, Sandbox, which } from "./sandbox.ts";

const missing = ["podman", "conmon", "script", "unshare", "nsenter"].filter((t) => !which(t));
const enabled = isRoot && missing.length === 0;
if (!isRoot) console.log("podman client tests skipped: they need root");
else if (missing.length) console.log(`podman client tests skipped: ${missing.join(", ")} not installed (scripts/apt-packages.txt lists podman)`);

let box: Sandbox | undefined;
let podman: Podman;
let cg = "";

beforeAll(() => {
  if (!enabled) return;
  buildRuntime();
  box = new Sandbox("podman");
  box.start();
  cg = `/${box.cgroupParent}`;
  podman = new Podman(box, [RUNTIME]);
  podman.loadImage(RUNTIME);
}, 120_000);

afterAll(() => {
  if (!box) return;
  podman?.removeAll(RUNTIME);
  const problems = box.cleanup();
  problems.push(...leftoverCgroups(box.cgroupParent).map((d) => `cgroup left: ${d}`));
  if (problems.length) throw new Error(problems.join("\n"));
}, 120_000);

const p = (args: string[], opts: { timeoutMs?: number } = {}) => podman.run(RUNTIME, args, opts);
const run = (flags: string[], script: string) => p(["run", "--rm", "--cgroup-parent", cg, ...flags, IMAGE, "sh", "-c", script]);

describe.skipIf(!enabled)("podman --runtime isola-runtime", () => {
  test("run --rm: output and exit status", () => {
    const r = run([], "echo hello from $(cat /proc/1/comm); exit 7");
    expect(r.stdout).toBe("hello from sh\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(7);
  });

  test("run -d, exec, logs, stop, rm", () => {
    const started = p(["run", "-d", "--name", "detached", "--cgroup-parent", cg, IMAGE, "sh", "-c", "echo started; trap 'echo got TERM; exit 0' TERM; while :; do sleep 0.1; done"]);
    expect(started.stderr).toBe("");
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const exec = p(["exec", "detached", "sh", "-c", "echo in exec; cat /proc/1/comm; exit 4"]);
    expect(exec.stdout).toBe("in exec\nsh\n");
    expect(exec.stderr).toBe("");
    expect(exec.code).toBe(4);

    const inspect = p(["inspect", "--format", "{{.State.Status}} {{.OCIRuntime}}", "detached"]);
    expect(inspect.stdout.trim()).toBe(`running ${RUNTIME}`);

    const stop = p(["stop", "--time", "20", "detached"]);
    expect(stop.stderr).toBe("");
    expect(stop.code).toBe(0);
    const exited = p(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "detached"]);
    expect(exited.stdout.trim()).toBe("exited 0"); // the TERM trap ran: podman's SIGTERM reached the init

    const logs = p(["logs", "detached"]);
    expect(logs.stdout).toBe("started\ngot TERM\n");
    expect(logs.code).toBe(0);

    const rm = p(["rm", "detached"]);
    expect(rm.code).toBe(0);
    expect(p(["ps", "-a", "-q"]).stdout.trim()).toBe("");
  });

  test("run -it through a real pty (script)", () => {
    const cmd = [...podman.argv(RUNTIME, ["run", "--rm", "-it", "--cgroup-parent", cg, IMAGE, "sh", "-c", "tty; stty size; exit 3"])].map(shellQuote).join(" ");
    // script's stdin stays open (a fifo with a writer): at EOF podman 4.3 may detach before the
    // output arrives, and script echoes a NUL into the terminal; with runc just the same.
    const fifo = path.join(box!.dir, "tty-stdin");
    const wrapper = 'mkfifo "$1"; sleep 300 > "$1" & s=$!; script -qec "$2" /dev/null < "$1"; rc=$?; kill $s; exit $rc';
    const r = box!.run(["sh", "-c", wrapper, "sh", fifo, `stty rows 33 cols 101; ${cmd}`], { env: podman.env() });
    const lines = r.stdout.replace(/\r/g, "").trim().split("\n");
    expect(lines).toContain("/dev/pts/0");
    expect(lines).toContain("33 101"); // the window size reached the container's terminal
    expect(r.code).toBe(3);
  });

  test("--memory, --cpus, --pids-limit are seen from inside", () => {
    const r = run(
      ["--memory", "64m", "--cpus", "0.5", "--pids-limit", "77"],
      [
        "if [ -d /sys/fs/cgroup/memory ]; then",
        "  cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us); cat /sys/fs/cgroup/pids/pids.max",
        "else",
        "  cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max",
        "fi",
      ].join("\n"),
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual(["67108864", "50000 100000", "77"]);
    expect(r.code).toBe(0);
  });

  test("--cap-drop", () => {
    const script = "grep CapEff /proc/self/status | tr -d '\\t'; chown 1 /root && echo chown ok";
    const dflt = run([], script);
    const dropped = run(["--cap-drop", "chown"], script);
    expect(dflt.stdout).toContain("chown ok");
    expect(dropped.stdout).not.toContain("chown ok");
    expect(dropped.stderr).toContain("Operation not permitted");
    const eff = (s: string) => BigInt(`0x${/CapEff:([0-9a-f]+)/.exec(s)?.[1] ?? "0"}`);
    expect(eff(dflt.stdout) & 1n).toBe(1n); // CAP_CHOWN is bit 0
    expect(eff(dropped.stdout)).toBe(eff(dflt.stdout) & ~1n);
  });

  test("--security-opt seccomp=<profile denying mkdir>", () => {
    const profile = path.join(box!.dir, "deny-mkdir.json");
    fs.writeFileSync(profile, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }] }));
    const r = run(["--security-opt", `seccomp=${profile}`], "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f; echo touch=$?; grep Seccomp: /proc/self/status | tr -d '\\t'");
    expect(r.stdout).toContain("Operation not permitted");
    expect(r.stdout).toContain("mkdir=1");
    expect(r.stdout).toContain("touch=0");
    expect(r.stdout).toContain("Seccomp:2");
    expect(r.code).toBe(0);
  });

  test("--read-only: the root is read-only, /tmp and /run are tmpfs copies (tmpcopyup)", () => {
    const r = run(["--read-only"], "touch /x 2>&1; echo root=$?; touch /tmp/x; echo tmp=$?; grep -E ' (/|/tmp|/run) ' /proc/mounts | cut -d' ' -f2,3,4 | cut -d, -f1");
    expect(r.stdout).toContain("Read-only file system");
    expect(r.stdout).toContain("root=1");
    expect(r.stdout).toContain("tmp=0");
    expect(r.stdout).toMatch(/^\/ \S+ ro$/m);
    expect(r.stdout).toContain("/tmp tmpfs rw");
    expect(r.stdout).toContain("/run tmpfs rw");
    expect(r.code).toBe(0);
    // --tmpfs copies up what the image has there (podman adds tmpcopyup to --tmpfs mounts)
    const etc = run(["--tmpfs", "/etc"], "grep ' /etc ' /proc/mounts | cut -d' ' -f3; head -1 /etc/passwd");
    expect(etc.stdout).toBe("tmpfs\nroot:x:0:0:root:/root:/bin/sh\n");
  });

  test("--uidmap/--gidmap: a user namespace (--userns=keep-id, rootless only in podman 4.3, is in podman_rootless_test.ts)", () => {
    const mapped = run(["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"], "id -u; cat /proc/self/uid_map | tr -s ' '");
    expect(mapped.stderr).toBe("");
    expect(mapped.stdout.trim().split("\n")).toEqual(["0", " 0 100000 65536"]);
  });

  test("podman's CNI backend on isola's plugins: address, published port (loopback), DEL releases the address", () => {
    // a network of isola-bridge + isola-ipam + isola-portmap, found through podman's cni_plugin_dirs;
    // all of it lives in the sandbox's own network namespace
    const ipam = path.join(box!.dir, "ipam");
    fs.writeFileSync(
      path.join(podman.cniDir, "isolanet.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "isolanet",
        plugins: [
          { type: "isola-bridge", bridge: "isolapod0", isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: "isola-ipam", subnet: "10.77.0.0/24", dataDir: ipam } },
          { type: "isola-portmap", capabilities: { portMappings: true } },
        ],
      }),
    );
    const addr = run(["--network", "isolanet"], "ip -4 -o addr show eth0 | awk '{print $4}'");
    expect(addr.stderr).toBe("");
    expect(addr.stdout.trim()).toMatch(/^10\.77\.0\.\d+\/24$/);

    const web = p(["run", "-d", "--name", "web", "--cgroup-parent", cg, "--network", "isolanet", "-p", "18080:80", IMAGE, "nc", "-ll", "-p", "80", "-e", "echo", "hello-from-podman"]);
    expect(web.stderr).toBe("");
    let got = "";
    for (let i = 0; i < 50 && !got.includes("hello-from-podman"); i++) {
      got = box!.run(["busybox", "nc", "-w", "2", "127.0.0.1", "18080"]).stdout;
      if (!got) Bun.sleepSync(50);
    }
    expect(got.trim()).toBe("hello-from-podman");
    expect(box!.run(["busybox", "nc", "-w", "2", "10.77.0.1", "18080"]).stdout.trim()).toBe("hello-from-podman"); // and on the bridge's address
    const reserved = () => (fs.existsSync(path.join(ipam, "isolanet")) ? fs.readdirSync(path.join(ipam, "isolanet")).filter((f) => /^10\.77\./.test(f)) : []);
    expect(reserved().length).toBe(1); // the --rm run gave its address back
    expect(p(["rm", "-f", "web"]).code).toBe(0);
    expect(reserved()).toEqual([]);
  }, 60_000);

  test("leaves no containers behind", () => {
    expect(p(["ps", "-a", "-q"]).stdout.trim()).toBe("");
  });
});

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
