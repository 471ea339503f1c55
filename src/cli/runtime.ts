/**
 * isola-runtime: an OCI runtime with runc's command line. Thin: parses
 * arguments and calls the runtime library.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as runtime from "../runtime/container.ts";
import type { ExecRequest } from "../runtime/exec.ts";
import { listIds } from "../runtime/state.ts";
import { inUserNamespace, setRootlessCgroups } from "../runtime/userns.ts";
import { parseFlags, UsageError, type FlagSpec, type FlagValues } from "./args.ts";
import type { Command, Globals } from "./command.ts";
import { writeErr, writeOut } from "./output.ts";
import { CGROUP_COMMANDS } from "./runtime_cgroups.ts";

const VERSION = "0.1.0";


const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const requireId = (args: string[]) => args[0]!;

const createFlags: Record<string, FlagSpec> = {
  bundle: { type: "string", alias: "b" },
  "pid-file": { type: "string" },
  "console-socket": { type: "string" },
  "no-pivot": { type: "bool" },
  "no-new-keyring": { type: "bool" },
  "preserve-fds": { type: "int" },
};

function createOptions(g: Globals, id: string, f: FlagValues): runtime.CreateOptions {
  const preserve = typeof f["preserve-fds"] === "number" ? f["preserve-fds"] : 0;
  if (preserve < 0) throw new UsageError(`--preserve-fds: must be ≥ 0 (got ${preserve})`);
  const opts: runtime.CreateOptions = {
    root: g.root,
    id,
    bundle: str(f.bundle) ?? process.cwd(),
    noPivot: f["no-pivot"] === true,
    noNewKeyring: f["no-new-keyring"] === true,
    preserveFds: preserve,
  };
  const pidFile = str(f["pid-file"]);
  if (pidFile) opts.pidFile = path.resolve(pidFile);
  const consoleSocket = str(f["console-socket"]);
  if (consoleSocket) opts.consoleSocket = consoleSocket;
  return opts;
}

const COMMANDS: Record<string, Command> = {
  ...CGROUP_COMMANDS,
  spec: {
    usage: "spec [--bundle DIR] [--rootless]: write a default config.json (--rootless: for a user without root)",
    flags: { bundle: { type: "string", alias: "b" }, rootless: { type: "bool" } },
    args: [0, 0],
    async run(_a, f) {
      const dir = str(f.bundle) ?? ".";
      const file = path.join(dir, "config.json");
      if (fs.existsSync(file)) throw new UsageError(`File ${file} exists. Remove it first`);
      const { defaultSpec } = await import("../oci/defaults.ts");
      const { rootlessSpec } = await import("../runtime/rootless.ts");
      const spec = f.rootless === true ? rootlessSpec(defaultSpec()) : defaultSpec();
      fs.writeFileSync(file, JSON.stringify(spec, null, "\t") + "\n");
    },
  },
  create: {
    usage: "create [flags] <container-id>",
    flags: createFlags,
    args: [1, 1],
    async run(a, f, g) {
      await runtime.create(createOptions(g, requireId(a), f));
    },
  },
  start: {
    usage: "start <container-id>",
    flags: {},
    args: [1, 1],
    async run(a, _f, g) {
      await runtime.start(g.root, requireId(a));
    },
  },
  run: {
    usage: "run [flags] <container-id>",
    flags: { ...createFlags, detach: { type: "bool", alias: "d" }, "keep": { type: "bool" } },
    args: [1, 1],
    async run(a, f, g) {
      return await runtime.run({ ...createOptions(g, requireId(a), f), detach: f.detach === true, keep: f.keep === true });
    },
  },
  state: {
    usage: "state <container-id>",
    flags: {},
    args: [1, 1],
    run(a, _f, g) {
      writeOut(JSON.stringify(runtime.state(g.root, requireId(a)), null, "  ") + "\n");
    },
  },
  kill: {
    usage: "kill [--all] <container-id> [signal]",
    flags: { all: { type: "bool", alias: "a" } },
    args: [1, 2],
    run(a, f, g) {
      runtime.kill(g.root, requireId(a), a[1], f.all === true);
    },
  },
  delete: {
    usage: "delete [--force] <container-id>",
    flags: { force: { type: "bool", alias: "f" } },
    args: [1, 1],
    async run(a, f, g) {
      await runtime.remove(g.root, requireId(a), f.force === true);
    },
  },
  list: {
    usage: "list [--format table|json] [-q]",
    flags: { format: { type: "string", alias: "f" }, quiet: { type: "bool", alias: "q" } },
    args: [0, 0],
    run(_a, f, g) {
      // as runc: the owner is the user owning the container's state directory
      const entries = runtime.list(g.root, listIds(g.root)).map((e) => ({ ...e, owner: e.owner || ownerOf(`${g.root}/${e.id}`) }));
      const format = str(f.format) ?? "table";
      if (f.quiet === true) {
        for (const e of entries) writeOut(`${e.id}\n`);
      } else if (format === "json") {
        writeOut(JSON.stringify(entries) + "\n");
      } else if (format === "table") {
        const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
        for (const e of entries) rows.push([e.id, String(e.pid), e.status, e.bundle, e.created, e.owner]);
        const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
        for (const r of rows) writeOut(r.map((cell, c) => (c < r.length - 1 ? cell.padEnd(widths[c]! + 2) : cell)).join("") + "\n");
      } else {
        throw new UsageError(`invalid format option "${format}" (expected table or json)`);
      }
    },
  },
  exec: {
    usage: "exec [flags] <container-id> <command> [args...]  (or --process process.json)",
    flags: {
      process: { type: "string", alias: "p" },
      tty: { type: "bool", alias: "t" },
      detach: { type: "bool", alias: "d" },
      "console-socket": { type: "string" },
      "pid-file": { type: "string" },
      cwd: { type: "string" },
      env: { type: "strings", alias: "e" },
      user: { type: "string", alias: "u" },
      "additional-gids": { type: "strings", alias: "g" },
      cap: { type: "strings", alias: "c" },
      "no-new-privs": { type: "bool" },
      "preserve-fds": { type: "int" },
      "ignore-paused": { type: "bool" },
      "process-label": { type: "string" },
      apparmor: { type: "string" },
      cgroup: { type: "strings" },
    },
    args: [1, Infinity],
    async run(a, f, g) {
      const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
      const gids = list(f["additional-gids"]).map((x) => {
        if (!/^\d+$/.test(x)) throw new UsageError(`--additional-gids: "${x}" is not a numeric gid`);
        return Number(x);
      });
      const overrides: ExecRequest["overrides"] = { args: a.slice(1), env: list(f.env), caps: list(f.cap), additionalGids: gids };
      if (str(f.process)) overrides.processFile = str(f.process)!;
      if (f.tty === true) overrides.tty = true;
      if (str(f.cwd)) overrides.cwd = str(f.cwd)!;
      if (str(f.user)) overrides.user = str(f.user)!;
      if (f["no-new-privs"] === true) overrides.noNewPrivs = true;
      if (str(f.apparmor)) overrides.apparmor = str(f.apparmor)!;
      if (str(f["process-label"])) overrides.processLabel = str(f["process-label"])!;
      const req: ExecRequest = {
        root: g.root,
        id: requireId(a),
        overrides,
        detach: f.detach === true,
        preserveFds: typeof f["preserve-fds"] === "number" ? f["preserve-fds"] : 0,
        ignorePaused: f["ignore-paused"] === true,
      };
      if (list(f.cgroup).length) req.subCgroups = list(f.cgroup);
      if (str(f["pid-file"])) req.pidFile = path.resolve(str(f["pid-file"])!);
      if (str(f["console-socket"])) req.consoleSocket = str(f["console-socket"])!;
      const { exec } = await import("../runtime/exec.ts"); // loaded only for exec
      return await exec(req, runtime.warn);
    },
  },
  features: {
    usage: "features",
    flags: {},
    args: [0, 0],
    async run() {
      const { features } = await import("../oci/features.ts");
      const { landlockAbi } = await import("../runtime/launch.ts");
      const seccomp = await (await import("../runtime/seccomp.ts")).seccompFeatures(); // supportedFlags: asked of the kernel
      writeOut(JSON.stringify(features({ cgroupV1: true, cgroupV2: true, seccomp, landlockAbi: landlockAbi() }), null, "    ") + "\n");
    },
  },
};

function ownerOf(dir: string): string {
  try {
    return userName(fs.statSync(dir).uid);
  } catch {
    return userName(process.getuid?.() ?? 0);
  }
}

let passwd: Map<number, string> | undefined;

/** The user name of a uid (/etc/passwd, read once), or runc's "#uid" for one it doesn't list. */
function userName(uid: number): string {
  if (!passwd) {
    passwd = new Map();
    try {
      for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
        const parts = line.split(":");
        const id = Number(parts[2]);
        if (parts[0] && parts[2] !== undefined && !passwd.has(id)) passwd.set(id, parts[0]);
      }
    } catch {
      // no passwd file
    }
  }
  return passwd.get(uid) ?? `#${uid}`;
}

const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  root: { type: "string" },
  log: { type: "string" },
  "log-format": { type: "string" },
  debug: { type: "bool" },
  "systemd-cgroup": { type: "bool" },
  rootless: { type: "string" },
  criu: { type: "string" },
  help: { type: "bool", alias: "h" },
  version: { type: "bool", alias: "v" },
};

/**
 * runc's choice: $XDG_RUNTIME_DIR/isola-runtime for a caller without root, and for root of a
 * user namespace (rootless podman) unless $USER says root; else /run/isola-runtime.
 */
function defaultRoot(): string {
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && ((process.geteuid?.() ?? 0) !== 0 || (process.env.USER !== "root" && inUserNamespace()))) return path.join(xdg, "isola-runtime");
  return "/run/isola-runtime";
}

function logLine(g: Globals, level: string, msg: string) {
  const time = new Date().toISOString();
  if (g.log) {
    const line = g.logFormat === "json" ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      fs.appendFileSync(g.log, line + "\n");
    } catch {
      // the log is best effort; the message still reaches stderr
    }
  }
}

function usage(): string {
  return [
    `isola-runtime ${VERSION}: an OCI runtime (runtime-spec 1.2) with runc's command line`,
    "",
    "usage: isola-runtime [global flags] <command> [flags] [arguments]",
    "",
    "global flags: --root DIR (default /run/isola-runtime)  --log FILE  --log-format text|json  --debug",
    "",
    "commands:",
    ...Object.values(COMMANDS).map((c) => `  ${c.usage}`),
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const g: Globals = { root: defaultRoot(), logFormat: "text", debug: false };
  try {
    const { flags, rest } = parseFlags(argv, GLOBAL_FLAGS);
    if (typeof flags.root === "string") g.root = path.resolve(flags.root);
    if (typeof flags.log === "string") g.log = flags.log;
    if (flags["log-format"] !== undefined) {
      if (flags["log-format"] !== "text" && flags["log-format"] !== "json")
        throw new UsageError(`unknown log-format "${String(flags["log-format"])}" (expected text or json)`);
      g.logFormat = flags["log-format"];
    }
    g.debug = flags.debug === true;
    if (flags.rootless !== undefined) {
      // runc's --rootless: cgroups as for a caller without root (tried, left out where refused)
      const v = String(flags.rootless);
      if (v !== "true" && v !== "false" && v !== "auto") throw new UsageError(`--rootless: "${v}" is not true, false or auto`);
      setRootlessCgroups(v === "auto" ? undefined : v === "true");
    }
    // Like runc (logrus): with --log, warnings go to the log only — clients such as conmon
    // hand the runtime's stderr to the container's output or the user's terminal.
    runtime.setWarn((msg) => {
      if (g.log) logLine(g, "warning", msg);
      else writeErr(`isola-runtime: warning: ${msg}\n`);
    });
    if (g.debug)
      runtime.setDebug((msg) => {
        if (g.log) logLine(g, "debug", msg);
        else writeErr(`isola-runtime: debug: ${msg}\n`);
      });
    if (flags.version === true) {
      writeOut(`isola-runtime version ${VERSION}\nspec: 1.2.0\n`);
      return 0;
    }
    const name = rest[0];
    if (!name || flags.help === true || name === "help") {
      writeOut(usage() + "\n");
      return name || flags.help === true ? 0 : 1;
    }
    const cmd = COMMANDS[name];
    if (!cmd) throw new UsageError(`No help topic for '${name}' (commands: ${Object.keys(COMMANDS).join(", ")})`);
    const parsed = parseFlags(rest.slice(1), cmd.flags);
    const [min, max] = cmd.args;
    if (parsed.rest.length < min || parsed.rest.length > max)
      throw new UsageError(`"${name}" requires ${min === max ? `exactly ${min}` : `${min} to ${max}`} argument(s)\nusage: isola-runtime ${cmd.usage}`);
    if (g.debug) logLine(g, "debug", `${name} ${parsed.rest.join(" ")}`);
    const code = await cmd.run(parsed.rest, parsed.flags, g);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    logLine(g, "error", msg);
    writeErr(`isola-runtime: ${msg}\n`);
    if (g.debug && e instanceof Error && e.stack) writeErr(e.stack + "\n");
    return 1;
  }
}

if (import.meta.main) {
  // no top-level await: the bytecode-compiled binary is a CommonJS bundle
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
