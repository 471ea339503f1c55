/**
 * The nftables table `inet isola_filter`: keeps internal networks in. The host drops every
 * packet it would forward from an internal bridge to another interface or from another
 * interface into one (as Docker's and podman's internal networks do), so a container that
 * adds its own default route still reaches only its own bridge and the host. Traffic within
 * the bridge is bridged, not forwarded, and stays. An internal bridge is two set elements,
 * never a rule. Pure: builds `nft -f` lines.
 */

import { renderElemOps, type ElemOp } from "../netlink/nft_encode.ts";

export const FILTER_TABLE = "isola_filter";

const T = `inet ${FILTER_TABLE}`;

/**
 * Declares the table, sets and forward chain (idempotent `add`), then replaces the chain's
 * rules (flush + add in the same transaction, so it never duplicates).
 */
export function filterBase(): string[] {
  return [
    `add table ${T}`,
    `add set ${T} internal { type ifname; }`,
    // "bridge . bridge" for each internal bridge: nft cannot compare iifname with oifname
    `add set ${T} internal_self { type ifname . ifname; }`,
    `add chain ${T} forward { type filter hook forward priority filter; policy accept; }`,
    `flush chain ${T} forward`,
    `add rule ${T} forward iifname @internal iifname . oifname != @internal_self drop`,
    `add rule ${T} forward oifname @internal iifname . oifname != @internal_self drop`,
  ];
}

/** Marks a bridge internal (idempotent), as set-element ops (netlink). */
export function internalOps(bridge: string): ElemOp[] {
  return [
    { kind: "add", table: FILTER_TABLE, set: "internal", key: [{ ifname: bridge }] },
    { kind: "add", table: FILTER_TABLE, set: "internal_self", key: [{ ifname: bridge }, { ifname: bridge }] },
  ];
}

/** Marks a bridge internal (idempotent), as `nft -f` lines. */
export function internalLines(bridge: string): string[] {
  return renderElemOps(internalOps(bridge));
}

/** Forgets an internal bridge (when its network is removed). */
export function internalRemoveLines(bridge: string): string[] {
  return [`delete element ${T} internal { "${bridge}" }`, `delete element ${T} internal_self { "${bridge}" . "${bridge}" }`];
}

/** Whether `nft list set inet isola_filter internal` output holds the bridge (for CHECK). */
export function listsInternal(text: string, bridge: string): boolean {
  return new RegExp(`elements = \\{[^}]*"${bridge.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`).test(text);
}
