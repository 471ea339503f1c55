/**
 * IPv4/IPv6 addresses and prefixes as bigints: parsing, formatting, containment and
 * overlap. Pure.
 */

export type Family = 4 | 6;

export interface Addr {
  family: Family;
  value: bigint;
}

export interface Prefix {
  family: Family;
  /** the network address (host bits cleared) */
  network: bigint;
  bits: number;
}

const WIDTH: Record<Family, number> = { 4: 32, 6: 128 };

export function familyWidth(family: Family): number {
  return WIDTH[family];
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let tail: bigint[] = [];
  let body = text;
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const lastColon = body.lastIndexOf(":");
  if (body.includes(".")) {
    const v4 = parseV4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    body = body.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): bigint[] | undefined => {
    if (s === "") return [];
    const out: bigint[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(BigInt(`0x${g}`));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const all = [...head];
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (given > 7) return undefined;
    for (let i = 0; i < 8 - given; i++) all.push(0n);
  } else if (given !== 8) return undefined;
  all.push(...rest, ...tail);
  let v = 0n;
  for (const g of all) v = (v << 16n) | g;
  return v;
}

/** Parses "10.0.0.1" or "fd00::1"; undefined when it is neither. */
export function parseAddr(text: string): Addr | undefined {
  if (text.includes(":")) {
    const v = parseV6(text);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseV4(text);
  return v === undefined ? undefined : { family: 4, value: v };
}

export function formatAddr(a: Addr): string {
  if (a.family === 4) {
    const v = a.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (≥2) of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

function mask(family: Family, bits: number): bigint {
  const w = BigInt(WIDTH[family]);
  return ((1n << w) - 1n) ^ ((1n << (w - BigInt(bits))) - 1n);
}

export interface CidrParse {
  addr: Addr;
  prefix: Prefix;
}

/** Parses "a.b.c.d/n" or "x::y/n" keeping the address part (which may have host bits). */
export function parseCidr(text: string): CidrParse | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const addr = parseAddr(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > WIDTH[addr.family]) return undefined;
  return { addr, prefix: { family: addr.family, network: addr.value & mask(addr.family, bits), bits } };
}

/** What a CIDR should look like, for error messages. */
export function cidrExpectation(text: string): string {
  return text.includes(":") ? "expected an IPv6 prefix x:x::x/0-128" : "expected a.b.c.d/0-32";
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddr({ family: p.family, value: p.network })}/${p.bits}`;
}

export function prefixContains(p: Prefix, a: Addr): boolean {
  return p.family === a.family && (a.value & mask(p.family, p.bits)) === p.network;
}

export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const bits = Math.min(a.bits, b.bits);
  const m = mask(a.family, bits);
  return (a.network & m) === (b.network & m);
}

/** The last address of the prefix (the IPv4 broadcast address). */
export function prefixLast(p: Prefix): bigint {
  return p.network | ((1n << BigInt(WIDTH[p.family] - p.bits)) - 1n);
}

export function addrEqual(a: Addr, b: Addr): boolean {
  return a.family === b.family && a.value === b.value;
}
