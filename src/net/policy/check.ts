/**
 * What the kernel holds vs what the compiler expects: `nft -j list table` output reduced to
 * the table's marks, sets with their elements, counters and rule counts per chain. Pure.
 */
import { tableComment, type CompiledTable } from "./compile.ts";

export interface TableView {
  comment: string;
  sets: Record<string, string[]>;
  counters: string[];
  chains: Record<string, number>;
}

export interface CounterValue {
  packets: number;
  bytes: number;
}

/** The view the compiler expects the kernel to hold. */
export function expectedView(t: CompiledTable): TableView {
  const sets: Record<string, string[]> = {};
  for (const s of t.sets) sets[s.name] = [...s.elements].sort();
  const chains: Record<string, number> = {};
  for (const c of t.chains) chains[c.name] = c.rules.length;
  return { comment: tableComment(t), sets, counters: [...t.counters].sort(), chains };
}

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
    if (item.set) v.sets[String(item.set.name)] = ((item.set.elem as unknown[] | undefined) ?? []).map(elemText).sort();
    if (item.counter) v.counters.push(String(item.counter.name));
    if (item.chain) v.chains[String(item.chain.name)] ??= 0;
    if (item.rule) {
      const c = String(item.rule.chain);
      v.chains[c] = (v.chains[c] ?? 0) + 1;
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
  for (const [name, elems] of Object.entries(want.sets)) {
    const got = have.sets[name];
    if (!got) {
      out.push(`set ${name}: missing`);
      continue;
    }
    const missing = elems.filter((e) => !got.includes(e));
    const extra = got.filter((e) => !elems.includes(e));
    if (missing.length) out.push(`set ${name}: missing ${missing.join(", ")}`);
    if (extra.length) out.push(`set ${name}: unexpected ${extra.join(", ")}`);
  }
  for (const name of Object.keys(have.sets)) if (!(name in want.sets)) out.push(`set ${name}: unexpected`);
  if (want.counters.join() !== have.counters.join()) out.push(`counters: expected ${want.counters.join(", ")}, found ${have.counters.join(", ")}`);
  for (const [name, n] of Object.entries(want.chains)) if (have.chains[name] !== n) out.push(`chain ${name}: expected ${n} rules, found ${have.chains[name] ?? "no chain"}`);
  for (const name of Object.keys(have.chains)) if (!(name in want.chains)) out.push(`chain ${name}: unexpected`);
  return out;
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
