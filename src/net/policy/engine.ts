/**
 * The policy engine: keeps the kernel's `isola-<network>` tables equal to what the compiler
 * makes of the store. A policy change replaces the network's table in one transaction; a
 * container joining or leaving changes only set elements. State lives in the store and the
 * kernel, so a restarted engine (any new process) just syncs.
 */
import { CniError, configError, ErrorCode } from "../errors.ts";
import { netHost, type NetHost } from "../host.ts";
import { parseAddr } from "../ip.ts";
import { BRIDGE_NF_SYSCTLS, bridgeNetfilterDiff, planBridgeNetfilter } from "./bridge_netfilter.ts";
import { counterValues, diffViews, expectedView, kernelView, type CounterValue } from "./check.ts";
import { compileTable, renderElements, renderReplace, tableName } from "./compile.ts";
import { decide, type FlowEnd, type Verdict } from "./evaluate.ts";
import type { Endpoint, Policy, Protocol } from "./model.ts";
import type { PolicyStore } from "./store.ts";

export interface EngineOptions {
  store: PolicyStore;
  host?: NetHost;
  /** why policies for the network cannot be enforced, e.g. it does not exist (undefined: it can; no function: any network) */
  networkProblem?: (name: string) => Promise<string | undefined>;
}

/** One network's part of a policy change. */
interface NetworkChange {
  network: string;
  /** the network's policies after the change, from those before it */
  next(current: Policy[]): Policy[];
  /** the store writes, once the kernel took every network's table */
  commit(): Promise<void>;
}

export interface PolicyStats {
  policy: string;
  allowed: CounterValue;
  denied: CounterValue;
}

export class PolicyEngine {
  readonly store: PolicyStore;
  private readonly host: NetHost;
  private readonly networkProblem: ((name: string) => Promise<string | undefined>) | undefined;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.host = opts.host ?? netHost();
    this.networkProblem = opts.networkProblem;
  }

  private async transaction(script: string, what: string): Promise<void> {
    try {
      await this.host.nft(script);
    } catch (e) {
      throw new CniError(ErrorCode.io, `isola-policy: ${what}: nft transaction failed`, (e as Error).message);
    }
  }

  private async bridgeNetfilterValues(): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    for (const k of BRIDGE_NF_SYSCTLS) out[k] = await this.host.readSysctl(k);
    return out;
  }

  /**
   * Bridged traffic between containers reaches the inet filter hooks only with bridge
   * netfilter on: turns it on, or refuses when the module is absent (see bridge_netfilter.ts).
   */
  private async bridgeNetfilter(): Promise<void> {
    const plan = planBridgeNetfilter(await this.bridgeNetfilterValues());
    if (plan.problem) throw new CniError(ErrorCode.io, `isola-policy: ${plan.problem}`);
    for (const k of plan.enable)
      await this.host.writeSysctl(k, "1").catch((e: Error) => {
        throw new CniError(ErrorCode.io, `isola-policy: cannot turn on ${k} (bridged traffic between containers would bypass the policies)`, e.message);
      });
  }

  /** Replaces the network's table with the compiled store contents (or `policies` when given). */
  private async replace(network: string, policies: readonly Policy[]): Promise<void> {
    const t = compileTable(network, policies, await this.store.endpoints(network));
    if (t) await this.bridgeNetfilter();
    await this.transaction(renderReplace(network, t, t ? await this.counters(network) : {}), `network ${network}`);
  }

  /**
   * The table's counters now (none when there is no table), so the replacing table starts
   * from them: what is counted between this read and the transaction is lost.
   */
  private async counters(network: string): Promise<Record<string, CounterValue>> {
    let text: string;
    try {
      text = await this.host.nftList(["counters", "table", "inet", tableName(network)], { json: true });
    } catch (e) {
      if (/No such file or directory/.test((e as Error).message)) return {};
      throw new CniError(ErrorCode.io, `isola-policy: network ${network}: cannot read the counters of table inet ${tableName(network)}`, (e as Error).message);
    }
    return counterValues(JSON.parse(text));
  }

  /** The table as `nft list` prints it (undefined: there is none). */
  private async listTable(network: string): Promise<string | undefined> {
    try {
      return await this.host.nftList(["table", "inet", tableName(network)]);
    } catch (e) {
      if (/No such file or directory/.test((e as Error).message)) return undefined;
      throw new CniError(ErrorCode.io, `isola-policy: network ${network}: cannot list table inet ${tableName(network)}`, (e as Error).message);
    }
  }

  /**
   * Changes several networks' policies as one: every network locked (in name order), every
   * table compiled, then one transaction per network. If one fails, the networks changed
   * before it get their previous tables back (as `nft list` printed them) and the store is
   * not written; it is written only once the kernel took every table.
   */
  private async changeNetworks(changes: readonly NetworkChange[]): Promise<void> {
    const order = [...changes].sort((a, b) => (a.network < b.network ? -1 : 1));
    const locked = (i: number): Promise<void> => (i < order.length ? this.store.withLock(order[i]!.network, () => locked(i + 1)) : this.changeLocked(changes));
    await locked(0);
  }

  private async changeLocked(changes: readonly NetworkChange[]): Promise<void> {
    const plans: { network: string; script: string; previous?: string | undefined }[] = [];
    let needsTable = false;
    for (const [i, c] of changes.entries()) {
      const t = compileTable(c.network, c.next(await this.store.policies(c.network)), await this.store.endpoints(c.network));
      needsTable ||= t !== undefined;
      // the last network's table never needs restoring
      plans.push({ network: c.network, script: renderReplace(c.network, t, t ? await this.counters(c.network) : {}), ...(i < changes.length - 1 ? { previous: await this.listTable(c.network) } : {}) });
    }
    if (needsTable) await this.bridgeNetfilter();
    for (const [i, p] of plans.entries()) {
      try {
        await this.transaction(p.script, `network ${p.network}`);
      } catch (e) {
        const failed: string[] = [];
        for (const done of plans.slice(0, i).reverse()) {
          const T = `inet ${tableName(done.network)}`;
          await this.host.nft(`table ${T}\ndelete table ${T}\n${done.previous ?? ""}`).catch((r: Error) => failed.push(`network ${done.network}: ${r.message}`));
        }
        if (failed.length) throw new CniError(ErrorCode.io, `${(e as Error).message}; restoring the networks changed before it failed too`, failed.join("; "));
        throw e;
      }
    }
    for (const c of changes) await c.commit();
  }

  /**
   * Creates or replaces policies (validated already). Everything is checked and compiled
   * before the kernel changes; each network changes in one transaction, and a failed one
   * undoes the networks changed before it (see changeNetworks).
   */
  async apply(policies: readonly Policy[], opts: { create?: boolean } = {}): Promise<void> {
    const byNet = new Map<string, Policy[]>();
    for (const [i, p] of policies.entries()) {
      const field = policies.length > 1 ? `[${i}].metadata` : "metadata";
      const problem = await this.networkProblem?.(p.network);
      if (problem) throw configError(`${field}.network`, problem);
      const old = await this.store.getPolicy(p.name);
      if (old && opts.create) throw configError(`${field}.name`, `policy "${p.name}" already exists (use isola policy apply to replace it)`);
      if (old && old.network !== p.network) throw configError(`${field}.network`, `policy "${p.name}" belongs to network "${old.network}" (remove it first to move it)`);
      if (policies.findIndex((q) => q.name === p.name) !== i) throw configError(`${field}.name`, `policy "${p.name}" is given twice`);
      byNet.set(p.network, [...(byNet.get(p.network) ?? []), p]);
    }
    await this.changeNetworks(
      [...byNet].map(([network, mine]) => {
        const names = new Set(mine.map((p) => p.name));
        return {
          network,
          next: (current) => [...current.filter((p) => !names.has(p.name)), ...mine],
          commit: async () => {
            for (const p of mine) await this.store.putPolicy(p);
          },
        };
      }),
    );
  }

  /**
   * Removes policies by name, all or none: every name is checked before anything changes;
   * a network's table goes away with its last policy.
   */
  async remove(names: readonly string[]): Promise<void> {
    const byNet = new Map<string, Set<string>>();
    for (const [i, name] of names.entries()) {
      const p = await this.store.getPolicy(name);
      if (!p) throw configError(names.length > 1 ? `name[${i}]` : "name", `no policy named "${name}" (see isola policy ls)`);
      byNet.set(p.network, (byNet.get(p.network) ?? new Set()).add(name));
    }
    await this.changeNetworks(
      [...byNet].map(([network, gone]) => ({
        network,
        next: (current) => current.filter((q) => !gone.has(q.name)),
        commit: async () => {
          for (const name of gone) await this.store.removePolicy(name);
        },
      })),
    );
  }

  /** Forgets a network that is being removed: its table, registered containers and policies. */
  async forgetNetwork(network: string): Promise<void> {
    await this.store.withLock(network, async () => {
      await this.transaction(renderReplace(network, undefined), `network ${network}`);
      await this.store.removeEndpoints(network);
      for (const p of await this.store.policies(network)) await this.store.removePolicy(p.name);
    });
  }

  /** Rebuilds the network's table from the store (after a restart, or to repair drift). */
  async sync(network: string): Promise<void> {
    await this.store.withLock(network, async () => this.replace(network, await this.store.policies(network)));
  }

  /** Registers a container and adds its addresses to the sets its labels select. */
  async attach(network: string, ep: Endpoint): Promise<void> {
    await this.store.withLock(network, async () => {
      const policies = await this.store.policies(network);
      const old = await this.store.removeEndpoint(network, ep.containerId, ep.ifName);
      await this.store.putEndpoint(network, ep);
      if (!policies.length) return;
      const script = (old ? renderElements(network, policies, old, "delete") : "") + renderElements(network, policies, ep, "add");
      if (!script) return;
      // a missing table (host restarted, table flushed by hand) is rebuilt whole
      await this.host.nft(script).catch(() => this.replace(network, policies));
    });
  }

  /** Unregisters a container and removes its addresses (idempotent). */
  async detach(network: string, containerId: string, ifName: string): Promise<void> {
    await this.store.withLock(network, async () => {
      const ep = await this.store.removeEndpoint(network, containerId, ifName);
      if (!ep) return;
      const policies = await this.store.policies(network);
      const script = renderElements(network, policies, ep, "delete");
      if (script) await this.host.nft(script).catch(() => this.replace(network, policies));
    });
  }

  /** Forgets containers that are not in `valid` (CNI GC) and rebuilds the table. */
  async gc(network: string, valid: readonly { containerId: string; ifName: string }[]): Promise<void> {
    const keep = new Set(valid.map((v) => `${v.containerId}\0${v.ifName}`));
    await this.store.withLock(network, async () => {
      for (const ep of await this.store.endpoints(network))
        if (!keep.has(`${ep.containerId}\0${ep.ifName}`)) await this.store.removeEndpoint(network, ep.containerId, ep.ifName);
      await this.replace(network, await this.store.policies(network));
    });
  }

  /** Differences between the kernel's table and what the compiler makes of the store (empty: in sync). */
  async check(network: string): Promise<string[]> {
    const t = compileTable(network, await this.store.policies(network), await this.store.endpoints(network));
    let json: unknown;
    try {
      json = JSON.parse(await this.host.nftList(["table", "inet", tableName(network)], { json: true }));
    } catch {
      json = undefined;
    }
    if (!t) return json ? [`table inet ${tableName(network)}: unexpected (the network has no policy)`] : [];
    const bridgeNf = bridgeNetfilterDiff(await this.bridgeNetfilterValues());
    const out = bridgeNf ? [bridgeNf] : [];
    if (!json) return [...out, `table inet ${tableName(network)}: missing`];
    return [...out, ...diffViews(expectedView(t), kernelView(json))];
  }

  /** Allowed and denied packets per policy of the network (kernel counters). */
  async stats(network: string): Promise<PolicyStats[]> {
    const policies = await this.store.policies(network);
    if (!policies.length) return [];
    const values = counterValues(JSON.parse(await this.host.nftList(["counters", "table", "inet", tableName(network)], { json: true })));
    const zero = { packets: 0, bytes: 0 };
    return policies.map((p) => ({ policy: p.name, allowed: values[`allow-${p.name}`] ?? zero, denied: values[`deny-${p.name}`] ?? zero }));
  }

  /** The verdict for a flow between containers (by container id) or addresses. */
  async test(network: string, from: string, to: string, port: number, protocol: Protocol): Promise<Verdict> {
    const eps = await this.store.endpoints(network);
    const end = (s: string, field: string): FlowEnd => {
      const ep = eps.find((e) => e.containerId === s || e.addresses.includes(s));
      if (ep) return { endpoint: ep };
      if (parseAddr(s)) return { address: s };
      throw configError(field, `${JSON.stringify(s)} is neither a container attached to network "${network}" nor an IP address`);
    };
    return decide(await this.store.policies(network), { from: end(from, "FROM"), to: end(to, "TO"), port, protocol });
  }
}
