/**
 * The multi-call CNI plugin executable (bin/isola-cni): the plugin type is the name it was
 * invoked by (a symlink such as bin/cni/isola-bridge). The skeleton reads the CNI_*
 * environment and stdin, runs the same code isola's runtime runs in-process, and prints
 * the result or the error JSON.
 */
import { containerIdProblem, ifNameProblem } from "../attachment.ts";
import { asCniError, CniError, ErrorCode } from "../errors.ts";
import type { PluginCall } from "../plugin.ts";
import type { Command, PluginConf } from "../types.ts";
import { CURRENT_VERSION, requireVersion, SUPPORTED_VERSIONS } from "../version.ts";
import { BUILTIN_TYPES, builtinPlugin } from "./registry.ts";

const COMMANDS = new Set(["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"]);

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
      process.stderr.write(`isola CNI plugin ${type}; CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}\n`);
      return 1;
    }
    const stdin = await Bun.stdin.text();
    const call = parseCall(process.env, stdin);
    version = call.config.cniVersion ?? CURRENT_VERSION;
    if (call.command === "VERSION") {
      process.stdout.write(JSON.stringify({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS }) + "\n");
      return 0;
    }
    requireVersion(version, plugin.supportedVersions, type);
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
    await inv.settle(); // an executable finishes its kernel work before it exits
    if (out !== undefined) process.stdout.write(JSON.stringify(out) + "\n");
    return 0;
  } catch (e) {
    process.stdout.write(JSON.stringify(asCniError(e).toJSON(version)) + "\n");
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
