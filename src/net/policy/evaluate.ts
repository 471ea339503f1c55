/**
 * Whether a flow would be allowed, by Kubernetes NetworkPolicy semantics: a container
 * selected by some policy of a direction is isolated in that direction, and then only what
 * some selecting policy allows passes; a flow needs the sender's egress and the receiver's
 * ingress. Pure: `isola policy test` and the flow tests' expected tables come from here.
 */
import { parseAddr } from "../ip.ts";
import { ipBlockContains, selects, type Endpoint, type Policy, type Protocol, type Rule } from "./model.ts";

/** One side of a flow: a container of the network, or an address outside it. */
export type FlowEnd = { endpoint: Endpoint } | { address: string };

export interface DirectionVerdict {
  /** some policy selects the container for this direction */
  isolated: boolean;
  allowed: boolean;
  /** policies with a rule that allows the flow */
  allowedBy: string[];
  /** policies that select the container (so deny what they do not allow) */
  selectedBy: string[];
}

export interface Verdict {
  allowed: boolean;
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
}

function ruleAllows(r: Rule, peer: FlowEnd, port: number, protocol: Protocol): boolean {
  if (r.ports && !r.ports.some((p) => p.protocol === protocol && (p.port === undefined || (port >= p.port && port <= (p.endPort ?? p.port))))) return false;
  if (!r.peers) return true;
  return r.peers.some((x) => {
    if ("selector" in x) return "endpoint" in peer && selects(x.selector, peer.endpoint.labels);
    const addrs = "endpoint" in peer ? peer.endpoint.addresses : [peer.address];
    return addrs.some((a) => {
      const p = parseAddr(a);
      return !!p && ipBlockContains(x.ipBlock, p);
    });
  });
}

function direction(policies: readonly Policy[], self: FlowEnd, peer: FlowEnd, dir: "ingress" | "egress", port: number, protocol: Protocol): DirectionVerdict {
  if (!("endpoint" in self)) return { isolated: false, allowed: true, allowedBy: [], selectedBy: [] };
  const selecting = policies.filter((p) => p[dir] !== undefined && selects(p.selector, self.endpoint.labels));
  const allowedBy = selecting.filter((p) => p[dir]!.some((r) => ruleAllows(r, peer, port, protocol))).map((p) => p.name);
  return { isolated: selecting.length > 0, allowed: selecting.length === 0 || allowedBy.length > 0, allowedBy, selectedBy: selecting.map((p) => p.name) };
}

/** The verdict for a new connection from `from` to `to` on port/protocol under the network's policies. */
export function decide(policies: readonly Policy[], flow: { from: FlowEnd; to: FlowEnd; port: number; protocol: Protocol }): Verdict {
  const egress = direction(policies, flow.from, flow.to, "egress", flow.port, flow.protocol);
  const ingress = direction(policies, flow.to, flow.from, "ingress", flow.port, flow.protocol);
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

/** One line for people: "allowed (egress: not isolated; ingress: by web-allow)" or "denied by ...". */
export function describeVerdict(v: Verdict): string {
  const part = (name: string, d: DirectionVerdict) =>
    !d.isolated ? `${name}: not isolated` : d.allowed ? `${name}: allowed by ${d.allowedBy.join(", ")}` : `${name}: denied (isolated by ${d.selectedBy.join(", ")}; no rule allows it)`;
  return `${v.allowed ? "allowed" : "denied"} (${part("egress", v.egress)}; ${part("ingress", v.ingress)})`;
}
