/**
 * The multi-call CNI plugin executable (bin/isola-cni): the plugin type is the name it was
 * invoked by (a symlink such as bin/cni/isola-bridge). The skeleton reads the CNI_*
 * environment and stdin, runs the same code isola's runtime runs in-process, and prints
 * the result or the error JSON.
 */
import * as fs from "node:fs";
import { containerIdProblem, ifNameProblem } from "../attachment.ts";
import { asCniError, CniError, ErrorCode } from "../errors.ts";
import type { PluginCall } from "../plugin.ts";
import type { Command, PluginConf } from "../types.ts";
import { CURRENT_VERSION, requireVersion, SUPPORTED_VERSIONS } from "../version.ts";
import { BUILTIN_TYPES, builtinPlugin } from "./registry.ts";

const COMMANDS = new Set(["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"]);

// Plain fd reads and writes: Bun's process.stdout/stderr and Bun.stdin cost milliseconds on
// first use, and a plugin runs once per call (as the runtime avoids them too).
function writeFd(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
}

function readStdin(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
        Bun.sleepSync(1);
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === "EOF" || (e as NodeJS.ErrnoException).code === "EBADF") break; // none given
      throw e;
    }
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses the CNI_* environment and stdin into a call (the skel). */
export function parseCall(env: Record<string, string | undefined>, stdin: string): PluginCall {
  const command = env.CNI_COMMAND ?? "";
  if (!COMMANDS.has(command)) throw new CniError(ErrorCode.invalidEnvironment, `CNI_COMMAND: ${JSON.stringify(command)} is not one of ${[...COMMANDS].join(", ")}`);
  let config: PluginConf;
  try {
    config = JSON.parse(stdin || "{}") as PluginConf;
  } catch (e) {
    throw new CniError(ErrorCode.decoding, "stdin: not valid JSON", (e as Error).message);
  }
  const needsContainer = command === "ADD" || command === "DEL" || command === "CHECK";
  for (const k of ["CNI_CONTAINERID", "CNI_IFNAME"] as const)
    if (needsContainer && !env[k]) throw new CniError(ErrorCode.invalidEnvironment, `${k}: missing`);
  if ((command === "ADD" || command === "CHECK") && !env.CNI_NETNS) throw new CniError(ErrorCode.invalidEnvironment, "CNI_NETNS: missing");
  // as the reference plugins' skel: the values reach file and interface names
  const problems: [string, (v: string) => string | undefined][] = [["CNI_CONTAINERID", containerIdProblem], ["CNI_IFNAME", ifNameProblem]];
  for (const [k, problem] of problems) {
    const p = env[k] ? problem(env[k]) : undefined;
    if (p) throw new CniError(ErrorCode.invalidEnvironment, `${k}: ${p}`);
  }
  return {
    command: command as Command,
    containerId: env.CNI_CONTAINERID ?? "",
    netns: env.CNI_NETNS ?? "",
    ifName: env.CNI_IFNAME ?? "",
    args: env.CNI_ARGS ?? "",
    path: (env.CNI_PATH ?? "").split(":").filter(Boolean),
    config,
  };
}

export async function pluginMain(type: string): Promise<number> {
  const plugin = await builtinPlugin(type);
  let version = CURRENT_VERSION;
  try {
    if (!plugin) throw new CniError(ErrorCode.invalidEnvironment, `unknown plugin name "${type}" (expected one of ${BUILTIN_TYPES.join(", ")})`);
    if (!process.env.CNI_COMMAND) {
      writeFd(2, `isola CNI plugin ${type}; CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}\n`);
      return 1;
    }
    const stdin = readStdin();
    const call = parseCall(process.env, stdin);
    version = call.config.cniVersion ?? CURRENT_VERSION;
    if (call.command === "VERSION") {
      writeFd(1, JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS }) + "\n");
      return 0;
    }
    requireVersion(version, plugin.supportedVersions, type);
    // A pair a DEL took out of service is deleted by a process of its own, which outlives this one.
    const host = (await import("../host.ts")).netHost();
    if ("detachDeletes" in host) (host as { detachDeletes: boolean }).detachDeletes = true;
    // Delegated plugins (IPAM) run in this process when they are isola's, else by exec from CNI_PATH.
    const { CniRuntime } = await import("../runtime.ts");
    const inv = new CniRuntime({ pluginDirs: call.path });
    let out: unknown;
    switch (call.command) {
      case "ADD":
        out = await plugin.add(call, inv);
        break;
      case "DEL":
        await plugin.del(call, inv);
        break;
      case "CHECK":
        await plugin.check(call, inv);
        break;
      case "STATUS":
        await plugin.status?.(call, inv);
        break;
      case "GC":
        await plugin.gc?.(call, inv);
        break;
    }
    await inv.settle(); // what is still pending in this process (the detached deletions are not)
    if (out !== undefined) writeFd(1, JSON.stringify(out) + "\n");
    return 0;
  } catch (e) {
    writeFd(1, JSON.stringify(asCniError(e).toJSON(version)) + "\n");
    return 1;
  }
}

if (import.meta.main) {
  const name = (process.argv0 || process.argv[0] || "").split("/").pop() ?? "";
  const type = name === "isola-cni" || name === "bun" ? (process.argv[2] ?? process.env.ISOLA_CNI_TYPE ?? "") : name;
  void pluginMain(type).then((code) => {
    process.exitCode = code;
  });
}
