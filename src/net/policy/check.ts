/**
 * What the kernel holds vs what the compiler expects: `nft -j list table` output reduced to
 * the table's generation mark, its sets (type, flags, elements), counters, and chains (hook,
 * priority, policy, and every rule's expressions, normalized). Pure.
 *
 * nft lists a rule in its own words: a single-element anonymous set becomes a value,
 * overlapping or adjacent intervals are merged, a /32 prefix becomes an address, the protocol
 * match a port match depends on is left out. Normalization therefore compares what a match
 * means: values become merged intervals (addresses, ports), symbols a sorted list.
 */
import { parseAddr, parseCidr, prefixLast } from "../ip.ts";
import { tableComment, type CompiledTable } from "./compile.ts";

export interface RuleView {
  /** the normalized expressions (equal keys: the same rule) */
  key: string;
  /** nft syntax, for messages */
  text: string;
}

export interface ChainView {
  /** "type filter hook forward priority 0 policy accept"; undefined: a regular chain */
  base?: string;
  rules: RuleView[];
}

export interface SetView {
  type: string;
  flags: string[];
  elements: string[];
}

export interface TableView {
  comment: string;
  sets: Record<string, SetView>;
  counters: string[];
  chains: Record<string, ChainView>;
}

export interface CounterValue {
  packets: number;
  bytes: number;
}

/** The view the compiler expects the kernel to hold. */
export function expectedView(t: CompiledTable): TableView {
  const sets: Record<string, SetView> = {};
  for (const s of t.sets) sets[s.name] = { type: s.type, flags: [], elements: [...s.elements].sort() };
  const chains: Record<string, ChainView> = {};
  for (const c of t.chains) {
    const view: ChainView = { rules: c.rules.map((r) => ({ key: ruleKey(r.expr), text: r.text })) };
    // the compiler's base chains: "type filter hook X priority filter; policy accept;"
    if (c.hook) view.base = baseText("filter", c.hook, 0, "accept");
    chains[c.name] = view;
  }
  return { comment: tableComment(t), sets, counters: [...t.counters].sort(), chains };
}

const baseText = (type: unknown, hook: unknown, prio: unknown, policy: unknown) => `type ${String(type)} hook ${String(hook)} priority ${String(prio)} policy ${String(policy ?? "accept")}`;

type NftJson = { nftables?: Record<string, Record<string, unknown>>[] };

function elemText(e: unknown): string {
  if (typeof e === "string") return e;
  if (typeof e === "object" && e !== null && "elem" in e) return elemText((e as { elem: { val?: unknown } }).elem.val);
  return JSON.stringify(e);
}

/** Reduces `nft -j list table inet NAME` to a view. */
export function kernelView(json: unknown): TableView {
  const v: TableView = { comment: "", sets: {}, counters: [], chains: {} };
  for (const item of (json as NftJson).nftables ?? []) {
    if (item.set) {
      const s = item.set;
      v.sets[String(s.name)] = {
        type: typeof s.type === "string" ? s.type : JSON.stringify(s.type),
        flags: Array.isArray(s.flags) ? (s.flags as unknown[]).map(String).sort() : typeof s.flags === "string" ? [s.flags] : [],
        elements: ((s.elem as unknown[] | undefined) ?? []).map(elemText).sort(),
      };
    }
    if (item.counter) v.counters.push(String(item.counter.name));
    if (item.chain) {
      const c = item.chain;
      const view = (v.chains[String(c.name)] ??= { rules: [] });
      if (c.hook !== undefined) view.base = baseText(c.type, c.hook, c.prio, c.policy);
    }
    if (item.rule) {
      const expr = (item.rule.expr as unknown[] | undefined) ?? [];
      (v.chains[String(item.rule.chain)] ??= { rules: [] }).rules.push({ key: ruleKey(expr), text: ruleText(expr) });
      if (typeof item.rule.comment === "string" && item.rule.comment.startsWith("isola network policy")) v.comment = item.rule.comment;
    }
  }
  v.counters.sort();
  return v;
}

/** Differences between the expected and the kernel's view, one line each (empty: they agree). */
export function diffViews(want: TableView, have: TableView): string[] {
  const out: string[] = [];
  if (want.comment !== have.comment) out.push(`table comment: expected "${want.comment}", found "${have.comment}"`);
  for (const [name, w] of Object.entries(want.sets)) {
    const got = have.sets[name];
    if (!got) {
      out.push(`set ${name}: missing`);
      continue;
    }
    if (got.type !== w.type) out.push(`set ${name}: expected type ${w.type}, found ${got.type}`);
    if (got.flags.join() !== w.flags.join()) out.push(`set ${name}: expected flags ${w.flags.join(", ") || "none"}, found ${got.flags.join(", ") || "none"}`);
    const missing = w.elements.filter((e) => !got.elements.includes(e));
    const extra = got.elements.filter((e) => !w.elements.includes(e));
    if (missing.length) out.push(`set ${name}: missing ${missing.join(", ")}`);
    if (extra.length) out.push(`set ${name}: unexpected ${extra.join(", ")}`);
  }
  for (const name of Object.keys(have.sets)) if (!(name in want.sets)) out.push(`set ${name}: unexpected`);
  if (want.counters.join() !== have.counters.join()) out.push(`counters: expected ${want.counters.join(", ")}, found ${have.counters.join(", ")}`);
  for (const [name, w] of Object.entries(want.chains)) {
    const got = have.chains[name];
    if (!got) {
      out.push(`chain ${name}: missing`);
      continue;
    }
    if (got.base !== w.base) out.push(`chain ${name}: expected ${w.base ?? "a regular chain"}, found ${got.base ?? "a regular chain"}`);
    out.push(...diffRules(name, w.rules, got.rules));
  }
  for (const name of Object.keys(have.chains)) if (!(name in want.chains)) out.push(`chain ${name}: unexpected`);
  return out;
}

/** Same number of rules: position by position (order decides in nft); else what is missing and what is extra. */
function diffRules(chain: string, want: RuleView[], have: RuleView[]): string[] {
  const out: string[] = [];
  if (want.length === have.length) {
    want.forEach((w, i) => {
      if (have[i]!.key !== w.key) out.push(`chain ${chain} rule ${i + 1}: expected [${w.text}], found [${have[i]!.text}]`);
    });
    return out;
  }
  out.push(`chain ${chain}: expected ${want.length} rules, found ${have.length}`);
  const left = have.map((r) => r.key);
  for (const w of want) {
    const i = left.indexOf(w.key);
    if (i >= 0) left.splice(i, 1);
    else out.push(`chain ${chain}: missing rule [${w.text}]`);
  }
  const wantLeft = want.map((r) => r.key);
  for (const h of have) {
    const i = wantLeft.indexOf(h.key);
    if (i >= 0) wantLeft.splice(i, 1);
    else out.push(`chain ${chain}: unexpected rule [${h.text}]`);
  }
  return out;
}

type Interval = [kind: string, lo: bigint, hi: bigint];

/** A value as intervals (an address, prefix, port or range of them), or undefined for symbols. */
function intervalsOf(v: unknown): Interval[] | undefined {
  if (typeof v === "number" && Number.isInteger(v)) return [["n", BigInt(v), BigInt(v)]];
  if (typeof v === "string") {
    const a = parseAddr(v);
    return a ? [[`ip${a.family}`, a.value, a.value]] : undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.prefix && typeof o.prefix === "object") {
    const p = o.prefix as { addr?: unknown; len?: unknown };
    const c = parseCidr(`${String(p.addr)}/${String(p.len)}`);
    return c ? [[`ip${c.prefix.family}`, c.prefix.network, prefixLast(c.prefix)]] : undefined;
  }
  if (Array.isArray(o.range) && o.range.length === 2) {
    const [a, b] = o.range.map(intervalsOf);
    return a?.length === 1 && b?.length === 1 && a[0]![0] === b[0]![0] ? [[a[0]![0], a[0]![1], b[0]![2]]] : undefined;
  }
  return undefined;
}

/** Merged, sorted intervals as text ("n:70-90", "ip4:167772160-167772415"). */
function mergedText(ivs: Interval[]): string {
  const sorted = [...ivs].sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && last[0] === iv[0] && iv[1] <= last[2] + 1n) last[2] = iv[2] > last[2] ? iv[2] : last[2];
    else out.push([...iv]);
  }
  return out.map(([k, lo, hi]) => `${k}:${lo}-${hi}`).join(",");
}

/** The right-hand side of a match by meaning: intervals merged, symbols sorted, one-element sets unwrapped. */
function normalValue(v: unknown): unknown {
  if (typeof v === "string" && v.startsWith("@")) return v;
  const members = typeof v === "object" && v !== null && Array.isArray((v as { set?: unknown }).set) ? ((v as { set: unknown[] }).set) : Array.isArray(v) ? v : [v];
  const ivs = members.map(intervalsOf);
  if (members.length && ivs.every((i) => i !== undefined)) return { intervals: mergedText(ivs.flat() as Interval[]) };
  const symbols = members.map((m) => JSON.stringify(m)).sort();
  return symbols.length === 1 ? members[0] : { symbols };
}

/** The rule's expressions normalized (see the module comment), as a comparable key. */
export function ruleKey(expr: readonly unknown[]): string {
  const out: unknown[] = [];
  for (let i = 0; i < expr.length; i++) {
    const e = expr[i] as { match?: { op?: string; left?: unknown; right?: unknown } };
    if (e.match) {
      let left = e.match.left as { meta?: { key?: string }; payload?: { protocol?: string; field?: string } };
      const next = (expr[i + 1] as typeof e | undefined)?.match;
      // "meta l4proto tcp th dport 80" listed as written instead of as "tcp dport 80"
      if (left.meta?.key === "l4proto" && e.match.op === "==" && typeof e.match.right === "string" && (next?.left as typeof left | undefined)?.payload?.protocol === "th") {
        out.push({ match: { op: next!.op ?? "==", left: { payload: { protocol: e.match.right, field: (next!.left as typeof left).payload!.field } }, right: normalValue(next!.right) } });
        i++;
        continue;
      }
      out.push({ match: { op: e.match.op ?? "==", left, right: normalValue(e.match.right) } });
    } else out.push(e);
  }
  return JSON.stringify(out);
}

function valueText(v: unknown): string {
  if (typeof v === "string" || typeof v === "number") return String(v);
  if (Array.isArray(v)) return v.map(valueText).join(",");
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.set)) return `{ ${o.set.map(valueText).join(", ")} }`;
    if (o.prefix) return `${String((o.prefix as { addr: unknown }).addr)}/${String((o.prefix as { len: unknown }).len)}`;
    if (Array.isArray(o.range)) return o.range.map(valueText).join("-");
  }
  return JSON.stringify(v);
}

function leftText(l: unknown): string {
  const o = (l ?? {}) as Record<string, Record<string, unknown> | undefined>;
  if (o.payload) return `${String(o.payload.protocol)} ${String(o.payload.field)}`;
  if (o.meta) return `meta ${String(o.meta.key)}`;
  if (o.ct) return `ct ${String(o.ct.key)}`;
  return JSON.stringify(l);
}

/** A listed rule in nft syntax (for messages; unknown expressions as JSON). */
export function ruleText(expr: readonly unknown[]): string {
  return expr
    .map((x) => {
      const e = x as Record<string, Record<string, unknown> | string | null>;
      const [k, v] = Object.entries(e)[0] ?? ["", null];
      if (k === "match" && v && typeof v === "object") {
        const op = v.op === "==" || v.op === "in" ? "" : `${String(v.op)} `;
        return `${leftText(v.left)} ${op}${valueText(v.right)}`;
      }
      if (v === null && ["accept", "drop", "return", "continue"].includes(k)) return k;
      if ((k === "jump" || k === "goto") && v && typeof v === "object") return `${k} ${String(v.target)}`;
      if (k === "counter") return typeof v === "string" ? `counter name "${v}"` : "counter";
      if (k === "log" && v && typeof v === "object") return v.prefix !== undefined ? `log prefix "${String(v.prefix)}"` : "log";
      return JSON.stringify(x);
    })
    .join(" ");
}

/** Named counters from `nft -j list counters table inet NAME`. */
export function counterValues(json: unknown): Record<string, CounterValue> {
  const out: Record<string, CounterValue> = {};
  for (const item of (json as NftJson).nftables ?? []) {
    const c = item.counter;
    if (c) out[String(c.name)] = { packets: Number(c.packets ?? 0), bytes: Number(c.bytes ?? 0) };
  }
  return out;
}
