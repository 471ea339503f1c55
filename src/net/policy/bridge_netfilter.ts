/**
 * Containers on one bridge talk through the bridge, which never passes the inet hooks the
 * policy tables hang on unless bridge netfilter (the br_netfilter module, per namespace
 * sysctls `net.bridge.bridge-nf-call-ip(6)tables`) sends bridged frames there. Without the
 * module the sysctls do not exist and same-bridge traffic would pass every policy unchecked,
 * so that is an error, never a silent no-op. Pure: the engine reads and writes the sysctls.
 */

export const BRIDGE_NF_SYSCTLS = ["net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"] as const;

export interface BridgeNetfilterPlan {
  /** sysctls to turn on (they exist and are off) */
  enable: string[];
  /** why policies cannot be enforced between containers of one bridge (the module is absent) */
  problem?: string;
}

/** What to do given the sysctls' values (undefined: the sysctl does not exist). */
export function planBridgeNetfilter(values: Readonly<Record<string, string | undefined>>): BridgeNetfilterPlan {
  const absent = BRIDGE_NF_SYSCTLS.filter((k) => values[k] === undefined);
  if (absent.length)
    return {
      enable: [],
      problem: `bridge netfilter is unavailable: ${absent.join(" and ")} ${absent.length > 1 ? "do" : "does"} not exist (the br_netfilter kernel module is not loaded), so traffic between containers on the same bridge would bypass the policies; load it (modprobe br_netfilter) and retry`,
    };
  return { enable: BRIDGE_NF_SYSCTLS.filter((k) => values[k] !== "1") };
}

/** CHECK's line for a namespace whose bridge netfilter is absent or off (undefined: on). */
export function bridgeNetfilterDiff(values: Readonly<Record<string, string | undefined>>): string | undefined {
  const plan = planBridgeNetfilter(values);
  if (plan.problem) return plan.problem;
  if (plan.enable.length) return `bridge netfilter is off: ${plan.enable.map((k) => `${k} = ${values[k]}`).join(", ")}, so traffic between containers on the same bridge bypasses the policies (isola policy sync turns it on)`;
  return undefined;
}
