/** podman with an isolated configuration and storage in a Sandbox, for tests and bench/clients. */
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBusyboxArchive } from "../image.ts";
import { REPO } from "../harness.ts";
import type { TestUser } from "../testuser.ts";
import { type Result, Sandbox } from "./sandbox.ts";

export const IMAGE = "localhost/isola-busybox:latest";

/** The hard limit in a /proc/<pid>/limits row such as "Max processes" ("unlimited": Infinity). */
export function hardLimit(limits: string, row: string): number {
  const line = limits.split("\n").find((l) => l.startsWith(`${row} `));
  if (line === undefined) throw new Error(`limits: no "${row}" row`);
  const hard = line.slice(row.length).trim().split(/\s+/)[1] ?? "";
  if (hard === "unlimited") return Infinity;
  if (!/^\d+$/.test(hard)) throw new Error(`limits: "${row}" hard limit is "${hard}", expected a number or unlimited`);
  return Number(hard);
}

/**
 * podman's default_ulimits for a podman started with these limits (/proc/self/limits text):
 * nofile at the hard limit, nproc at most min(hard limit, pid_max, 32768), as podman 4.3
 * lowers its own hard nproc limit to 32768 and refuses ulimits above its hard limits.
 */
export function defaultUlimits(limits: string, pidMax: number): string[] {
  if (!Number.isInteger(pidMax) || pidMax <= 0) throw new Error(`pid_max is ${pidMax}, expected a positive integer`);
  const nofile = Math.min(hardLimit(limits, "Max open files"), 1048576);
  const nproc = Math.min(hardLimit(limits, "Max processes"), pidMax, 32768);
  return [`nofile=${nofile}:${nofile}`, `nproc=${nproc}:${nproc}`];
}

/** The unprivileged user a rootless Podman runs as (a TestUser). */
export type PodmanUser = Pick<TestUser, "uid" | "gid" | "argv">;

export class Podman {
  readonly conf: string;
  readonly storageConf: string;
  /** podman's CNI network configs (its CNI backend; isola's plugins come first in its plugin path) */
  readonly cniDir: string;
  /** where its config, storage and (rootless) HOME and XDG dirs live */
  readonly dir: string;
  private readonly root: string;
  private readonly runroot: string;
  private readonly runtimeRoot: string;
  private readonly user: PodmanUser | undefined;

  /**
   * A podman for these runtimes, configured under `dir` (default <sandbox>/podman). With
   * `user`, podman runs rootless as that user, with its own HOME, XDG_RUNTIME_DIR and
   * XDG_CONFIG_HOME under `dir`, which it owns.
   */
  constructor(
    readonly box: Sandbox,
    runtimePaths: string[],
    opts: { dir?: string; user?: PodmanUser } = {},
  ) {
    this.dir = opts.dir ?? path.join(box.dir, "podman");
    this.user = opts.user;
    const d = (n: string) => {
      const p = path.join(this.dir, n);
      fs.mkdirSync(p, { recursive: true });
      return p;
    };
    this.root = d("root");
    this.runroot = d("runroot");
    this.runtimeRoot = d("runtime-root");
    this.cniDir = d("cni");
    // podman runs as our child: it starts with our limits
    const ulimits = defaultUlimits(fs.readFileSync("/proc/self/limits", "utf8"), Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8")));
    // podman looks a runtime given as a path up by its base name in runtime_supports_json
    const json = [...new Set([...runtimePaths, ...runtimePaths.map((p) => path.basename(p)), "runc", "crun"])];
    this.conf = path.join(this.dir, "containers.conf");
    fs.writeFileSync(
      this.conf,
      [
        "[containers]",
        `default_ulimits = ${JSON.stringify(ulimits)}`,
        'netns = "none"',
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${d("events")}/events.log"`,
        `image_copy_tmp_dir = "${d("tmp")}"`,
        `runtime_supports_json = ${JSON.stringify(json)}`,
        `static_dir = "${d("static")}"`,
        `tmp_dir = "${d("tmp")}"`,
        `volume_path = "${d("volumes")}"`,
        "[network]",
        'network_backend = "cni"',
        `cni_plugin_dirs = ${JSON.stringify([path.join(REPO, "bin/cni"), "/usr/lib/cni"])}`,
        `network_config_dir = "${this.cniDir}"`,
        "",
      ].join("\n"),
    );
    this.storageConf = path.join(this.dir, "storage.conf");
    fs.writeFileSync(this.storageConf, ["[storage]", 'driver = "vfs"', `runroot = "${this.runroot}"`, `graphroot = "${this.root}"`, ""].join("\n"));
    if (this.user) {
      for (const n of ["home", "config"]) d(n);
      fs.mkdirSync(path.join(this.dir, "xdg"), { mode: 0o700 }); // podman wants its XDG_RUNTIME_DIR private
      fs.chmodSync(this.dir, 0o755);
      const r = Bun.spawnSync(["chown", "-R", `${this.user.uid}:${this.user.gid}`, this.dir], { stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`chown ${this.dir}: ${r.stderr.toString()}`);
    }
  }

  env(): Record<string, string> {
    const files = { CONTAINERS_CONF: this.conf, CONTAINERS_STORAGE_CONF: this.storageConf };
    if (!this.user) return files;
    return {
      ...files,
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: path.join(this.dir, "home"),
      XDG_RUNTIME_DIR: path.join(this.dir, "xdg"),
      XDG_CONFIG_HOME: path.join(this.dir, "config"),
    };
  }

  /**
   * argv of podman with its global flags for a runtime. As root the runtime keeps its state
   * under the sandbox (--runtime-flag root=); rootless, podman runs as the user with only
   * env() in its environment and the runtime picks its own root under XDG_RUNTIME_DIR, as it
   * does for users of rootless podman.
   */
  argv(runtime: string, args: string[]): string[] {
    const flags = ["--root", this.root, "--runroot", this.runroot, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--runtime", runtime];
    if (!this.user) return ["podman", ...flags, "--runtime-flag", `root=${this.runtimeRoot}/${path.basename(runtime)}`, ...args];
    const env = Object.entries(this.env()).map(([k, v]) => `${k}=${v}`);
    return this.user.argv(["env", "-i", ...env, "podman", ...flags, ...args]);
  }

  run(runtime: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Result {
    return this.box.run(this.argv(runtime, args), { ...opts, env: this.env() });
  }

  /** `podman load` of the busybox docker-archive built here. */
  loadImage(runtime: string): void {
    const tar = path.join(this.dir, "image.tar");
    makeBusyboxArchive(tar, IMAGE);
    fs.chmodSync(tar, 0o644); // readable by a rootless podman's user
    const r = this.run(runtime, ["load", "-i", tar]);
    if (r.code !== 0) throw new Error(`podman load: ${r.stderr}`);
    fs.rmSync(tar, { force: true });
  }

  /**
   * Removes every container and image (best effort; Sandbox.cleanup removes the rest);
   * rootless, `system reset` also removes the user's storage and stops its pause process.
   */
  removeAll(runtime: string): void {
    this.run(runtime, ["rm", "--all", "--force", "--time", "0"], { timeoutMs: 60_000 });
    this.run(runtime, ["rmi", "--all", "--force"], { timeoutMs: 60_000 });
    if (this.user) this.run(runtime, ["system", "reset", "--force"], { timeoutMs: 60_000 });
  }
}
