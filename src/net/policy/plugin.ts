/**
 * isola-policy: a chained CNI plugin (after isola-bridge or any plugin whose result carries
 * the container's addresses) that registers each attachment's addresses and labels
 * (`runtimeConfig.labels`, capability "labels") with the policy engine. Config:
 * `{"type": "isola-policy", "capabilities": {"labels": true}, "dataDir": "/var/lib/isola/policy"}`.
 */
import { CniError, configError, ErrorCode } from "../errors.ts";
import type { InProcessPlugin, PluginCall } from "../plugin.ts";
import type { Result } from "../types.ts";
import { SUPPORTED_VERSIONS } from "../version.ts";
import { PolicyEngine } from "./engine.ts";
import { labelKeyProblem, labelValueProblem, type Endpoint } from "./model.ts";
import { DEFAULT_POLICY_DIR, FilePolicyStore } from "./store.ts";

function engineFor(call: PluginCall): PolicyEngine {
  const dir = call.config.dataDir;
  if (dir !== undefined && typeof dir !== "string") throw configError("dataDir", `expected a directory path, found ${JSON.stringify(dir)}`);
  return new PolicyEngine({ store: new FilePolicyStore(dir ?? DEFAULT_POLICY_DIR, call.signal ? { signal: call.signal } : {}) });
}

function network(call: PluginCall): string {
  const n = call.config.name;
  if (!n) throw configError("name", "missing (the network name keys the policy table)");
  return n;
}

/** The runtime's labels, checked as policies check theirs (Kubernetes label syntax). */
function labelsOf(call: PluginCall): Record<string, string> {
  const labels: unknown = call.config.runtimeConfig?.labels ?? {};
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) throw configError("runtimeConfig.labels", `expected an object of label: value, found ${JSON.stringify(labels)}`);
  for (const [k, v] of Object.entries(labels)) {
    const badKey = labelKeyProblem(k);
    if (badKey) throw configError("runtimeConfig.labels", badKey);
    const badValue = labelValueProblem(v);
    if (badValue) throw configError(`runtimeConfig.labels.${k}`, badValue);
  }
  return labels as Record<string, string>;
}

/** The attachment as the engine registers it: the result's addresses and the runtime's labels. */
export function endpointOf(call: PluginCall, prev: Result): Endpoint {
  const labels = labelsOf(call);
  const addresses = (prev.ips ?? []).map((i) => i.address.replace(/\/\d+$/, ""));
  if (!addresses.length) throw configError("prevResult.ips", "no container address (isola-policy must follow a plugin that assigns addresses)");
  return { containerId: call.containerId, ifName: call.ifName, addresses, labels: { ...labels } };
}

export const isolaPolicy: InProcessPlugin = {
  supportedVersions: SUPPORTED_VERSIONS,

  async add(call) {
    const prev = call.config.prevResult;
    if (!prev) throw configError("prevResult", "missing (isola-policy is a chained plugin)");
    await engineFor(call).attach(network(call), endpointOf(call, prev));
    return prev;
  },

  async del(call) {
    await engineFor(call).detach(network(call), call.containerId, call.ifName);
  },

  async check(call) {
    const diff = await engineFor(call).check(network(call));
    if (diff.length) throw new CniError(ErrorCode.io, `isola-policy: table inet isola-${network(call)} differs from the policies`, diff.join("; "));
  },

  async status() {},

  preflight(call) {
    labelsOf(call);
    engineFor(call);
    network(call);
  },

  async gc(call) {
    const valid = (call.config["cni.dev/valid-attachments"] ?? []) as { containerID: string; ifname: string }[];
    await engineFor(call).gc(network(call), valid.map((v) => ({ containerId: v.containerID, ifName: v.ifname })));
  },
};
