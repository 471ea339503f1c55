/** The contract between the CNI runtime and a plugin, whether exec'd or in-process. */
import type { Command, PluginConf, Result } from "./types.ts";

/** One plugin invocation: the CNI_* environment plus the config on stdin. */
export interface PluginCall {
  command: Command;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS, "K=V;K2=V2" */
  args: string;
  /** CNI_PATH */
  path: string[];
  config: PluginConf;
  /**
   * Aborted when the call timed out (the runtime sets it; not part of CNI): an in-process
   * plugin's long waits end then, as an exec'd plugin is killed. Calls it makes carry it on.
   */
  signal?: AbortSignal;
}

/** Runs a plugin by type. Plugins use it to delegate to IPAM plugins. */
export interface PluginInvoker {
  invoke(type: string, call: PluginCall): Promise<unknown>;
}

/** A plugin isola runs in its own process, without exec. */
export interface InProcessPlugin {
  readonly supportedVersions: readonly string[];
  add(call: PluginCall, invoker: PluginInvoker): Promise<Result>;
  del(call: PluginCall, invoker: PluginInvoker): Promise<void>;
  check(call: PluginCall, invoker: PluginInvoker): Promise<void>;
  status?(call: PluginCall, invoker: PluginInvoker): Promise<void>;
  gc?(call: PluginCall, invoker: PluginInvoker): Promise<void>;
  /**
   * Checks an ADD's config and runtimeConfig before any plugin of the chain runs (no
   * prevResult yet), so a bad value is refused before anything is created. Runs nothing.
   */
  preflight?(call: PluginCall): void;
}

/** Parses CNI_ARGS ("IgnoreUnknown=1;IP=10.0.0.5") into pairs. */
export function parseCniArgs(args: string): [string, string][] {
  if (!args) return [];
  return args.split(";").filter(Boolean).map((kv) => {
    const eq = kv.indexOf("=");
    return eq < 0 ? [kv, ""] : [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}
