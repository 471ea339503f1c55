/** Address candidates within host-local style ranges. Pure. */
import type { IpRange } from "../conflist.ts";
import { familyWidth, formatAddr, formatPrefix, prefixContains, prefixLast, type Addr } from "../ip.ts";

/** The first and last assignable address of a range (skipping network and IPv4 broadcast). */
export function rangeBounds(r: IpRange): [bigint, bigint] {
  const first = r.rangeStart ?? r.subnet.network + 1n;
  const last = r.rangeEnd ?? (r.subnet.family === 4 ? prefixLast(r.subnet) - 1n : prefixLast(r.subnet));
  return [first, last];
}

/** The gateway: given, or the first address of the subnet. */
export function rangeGateway(r: IpRange): bigint {
  return r.gateway ?? r.subnet.network + 1n;
}

/**
 * Candidates of a range set in allocation order: after `last` (the previous reservation),
 * wrapping around once, skipping gateways. Lazily generated: IPv6 ranges are huge.
 */
export function* candidates(set: readonly IpRange[], last: bigint | undefined): Generator<{ value: bigint; range: IpRange }> {
  const spans = set.map((r) => ({ r, b: rangeBounds(r), gw: rangeGateway(r) }));
  const i = last === undefined ? -1 : spans.findIndex((s) => last >= s.b[0] && last <= s.b[1]);
  const order: [(typeof spans)[number], bigint, bigint][] = [];
  if (i < 0 || last === undefined) for (const s of spans) order.push([s, s.b[0], s.b[1]]);
  else {
    const first = spans[i]!;
    order.push([first, last + 1n, first.b[1]]);
    for (let k = 1; k < spans.length; k++) {
      const s = spans[(i + k) % spans.length]!;
      order.push([s, s.b[0], s.b[1]]);
    }
    order.push([first, first.b[0], last]);
  }
  for (const [s, from, to] of order) for (let v = from; v <= to; v++) if (v !== s.gw) yield { value: v, range: s.r };
}

/** The range of a set that holds `a`, if any. */
export function rangeFor(set: readonly IpRange[], a: Addr): IpRange | undefined {
  return set.find((r) => {
    if (!prefixContains(r.subnet, a)) return false;
    const [lo, hi] = rangeBounds(r);
    return a.value >= lo && a.value <= hi;
  });
}

export function describeSet(set: readonly IpRange[]): string {
  return set.map((r) => formatPrefix(r.subnet)).join(", ");
}

export function cidrOf(value: bigint, r: IpRange): string {
  return `${formatAddr({ family: r.subnet.family, value })}/${r.subnet.bits}`;
}

export function width(r: IpRange): number {
  return familyWidth(r.subnet.family);
}
