/**
 * A real unprivileged user for a test (root only): created with useradd and no automatic
 * subordinate ranges, given its own /etc/subuid and /etc/subgid lines, and removed with its
 * lines and every process running as it or as one of its subordinate ids.
 */
import * as fs from "node:fs";

const SUB_FILES = ["/etc/subuid", "/etc/subgid"];

export class TestUser {
  readonly name: string;
  uid = -1;
  gid = -1;
  private made = false;

  /** `prefix` plus our pid names the user; `subStart`/`subSize` is its subordinate range. */
  constructor(
    prefix: string,
    readonly subStart: number,
    readonly subSize = 65536,
  ) {
    this.name = `${prefix}${process.pid % 100000}`;
    if (this.name.length > 32) throw new Error(`user name ${this.name}: longer than 32 characters`);
  }

  /** useradd (-K SUB_*_COUNT=0: no automatic ranges) and our own subuid/subgid lines. */
  create(): void {
    sh(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", this.name]);
    this.made = true;
    this.uid = Number(sh(["id", "-u", this.name]));
    this.gid = Number(sh(["id", "-g", this.name]));
    this.subordinateRanges(true);
  }

  /** argv that runs `args` as the user, without supplementary groups. */
  argv(args: string[]): string[] {
    return ["setpriv", `--reuid=${this.uid}`, `--regid=${this.gid}`, "--clear-groups", "--", ...args];
  }

  /** Processes whose real or effective uid is the user's or in its subordinate range. */
  pids(): number[] {
    const ours = (id: number) => id === this.uid || (id >= this.subStart && id < this.subStart + this.subSize);
    const pids: number[] = [];
    for (const e of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      let status: string;
      try {
        status = fs.readFileSync(`/proc/${e}/status`, "utf8");
      } catch {
        continue; // gone
      }
      const [real, eff] = (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? "").split(/\s+/).map(Number);
      if (this.uid >= 0 && ((real !== undefined && ours(real)) || (eff !== undefined && ours(eff)))) pids.push(Number(e));
    }
    return pids;
  }

  /** Kills every process of the user by PID; the problems, if any are left. */
  killAll(): string[] {
    for (let round = 0; round < 100; round++) {
      const pids = this.pids();
      if (pids.length === 0) return [];
      for (const p of pids) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
      Bun.sleepSync(20);
    }
    return [`processes of ${this.name} still running: ${this.pids().join(" ")}`];
  }

  /** Kills its processes, deletes the user and its subuid/subgid lines; the problems, if any. */
  remove(): string[] {
    const problems = this.killAll();
    if (this.made) {
      const r = Bun.spawnSync(["userdel", this.name], { stdout: "ignore", stderr: "pipe" });
      if (r.exitCode !== 0) problems.push(`userdel ${this.name}: ${r.stderr.toString().trim()}`);
      else this.made = false;
    }
    this.subordinateRanges(false);
    return problems;
  }

  /** Adds or removes its /etc/subuid and /etc/subgid lines (a test may take them away for a while). */
  subordinateRanges(add: boolean): void {
    for (const file of SUB_FILES) {
      const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
      const kept = text.split("\n").filter((l) => l !== "" && !l.startsWith(`${this.name}:`));
      if (add) kept.push(`${this.name}:${this.subStart}:${this.subSize}`);
      fs.writeFileSync(file, kept.map((l) => l + "\n").join(""));
    }
  }
}

/** Runs argv to completion; its stdout, or an error with its stderr. */
export function sh(argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim();
}
