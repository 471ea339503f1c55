/** A containerd of our own (root, state, socket, config in a Sandbox) and ctr against it. */
import * as fs from "node:fs";
import * as path from "node:path";
import { makeBusyboxArchive } from "../image.ts";
import { type Result, Sandbox } from "./sandbox.ts";

export const IMAGE = "localhost/isola-busybox:latest";
export const NAMESPACE = "isola-test";

export class Containerd {
  readonly dir: string;
  readonly socket: string;
  private daemon: ReturnType<typeof Bun.spawn> | undefined;

  constructor(readonly box: Sandbox) {
    this.dir = path.join(box.dir, "containerd");
    fs.mkdirSync(this.dir, { recursive: true });
    this.socket = path.join(this.dir, "containerd.sock");
  }

  get log(): string {
    return path.join(this.dir, "containerd.log");
  }

  start(): void {
    const d = this.dir;
    const config = path.join(d, "config.toml");
    fs.writeFileSync(
      config,
      [
        "version = 2",
        `root = "${d}/root"`,
        `state = "${d}/state"`,
        // no CRI: nothing listens beyond our unix sockets
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${this.socket}"`,
        "[ttrpc]",
        `  address = "${this.socket}.ttrpc"`,
        // containerd 1.6 loses its tasks service without the v1 runtime plugin: keep it, here
        '[plugins."io.containerd.runtime.v1.linux"]',
        `  runtime_root = "${d}/runtime-v1"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${d}/opt"`,
        "",
      ].join("\n"),
    );
    this.daemon = this.box.spawn(["containerd", "--config", config], this.log);
    const deadline = Date.now() + 30_000;
    while (this.ctr(["version"]).code !== 0) {
      if (!alive(this.daemon.pid)) throw new Error(`containerd exited: ${fs.readFileSync(this.log, "utf8").slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`containerd did not answer: ${fs.readFileSync(this.log, "utf8").slice(-2000)}`);
      Bun.sleepSync(50);
    }
  }

  ctr(args: string[], opts: { timeoutMs?: number } = {}): Result {
    return this.box.run(["ctr", "--address", this.socket, "--namespace", NAMESPACE, ...args], opts);
  }

  importImage(): void {
    const tar = path.join(this.dir, "image.tar");
    makeBusyboxArchive(tar, IMAGE);
    const r = this.ctr(["images", "import", tar]);
    if (r.code !== 0) throw new Error(`ctr images import: ${r.stderr}`);
    fs.rmSync(tar, { force: true });
  }

  /** Kills and deletes every task, removes containers and images (best effort). */
  removeAll(): void {
    for (const line of this.ctr(["tasks", "list", "-q"]).stdout.split("\n").filter((l) => l)) {
      this.ctr(["tasks", "kill", "--signal", "SIGKILL", line]);
      for (let i = 0; i < 100 && this.ctr(["tasks", "delete", line]).code !== 0; i++) Bun.sleepSync(20);
    }
    for (const c of this.ctr(["containers", "list", "-q"]).stdout.split("\n").filter((l) => l)) this.ctr(["containers", "rm", c]);
    for (const i of this.ctr(["images", "list", "-q"]).stdout.split("\n").filter((l) => l)) this.ctr(["images", "rm", i]);
  }

  /** Stops the daemon by its pid and waits for it. */
  stop(): void {
    if (!this.daemon || !alive(this.daemon.pid)) return;
    this.daemon.kill("SIGTERM");
    const deadline = Date.now() + 10_000;
    while (alive(this.daemon.pid) && Date.now() < deadline) Bun.sleepSync(20);
    if (alive(this.daemon.pid)) this.daemon.kill("SIGKILL");
  }
}

/** Whether a process runs (a zombie, exited but not yet reaped, does not). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
