/**
 * Turns per-architecture verdict tables into a classic-BPF program: an arch check, a
 * search tree over the syscall number whose leaves are either a return or an argument
 * block, then the shared returns. Jumps are kept symbolic until layout, which also
 * repairs conditional jumps farther than 255 instructions. Pure.
 */
import {
  BPF_MAXINSNS, type Insn, OFF_ARCH, OFF_NR, OP_AND_K, OP_JA, OP_JEQ, OP_JGE, OP_JGT, OP_LD_ABS, OP_RET_K,
  offArgHi, offArgLo,
} from "./bpf.ts";
import type { Operator } from "./profile.ts";

/** A comparison already shaped for one ABI: 32-bit ABIs keep only the low words. */
export interface WordCond {
  index: number;
  op: Operator;
  /** for MASKED_EQ: the mask */
  value: bigint;
  /** for MASKED_EQ: the datum, already masked */
  valueTwo: bigint;
}

export interface CondRule {
  ret: number;
  conds: readonly WordCond[];
}

/** What one syscall number does. */
export type Leaf =
  | { kind: "ret"; ret: number }
  | { kind: "args"; bits: 32 | 64; rules: readonly CondRule[]; fallback: number };

/** A run of syscall numbers [lo, hi] with one verdict; weight steers the tree. */
export interface Segment {
  lo: number;
  hi: number;
  leaf: Leaf;
  weight: number;
}

/** Everything reached under one AUDIT_ARCH_* token. */
export interface TokenSection {
  audit: number;
  segments: readonly Segment[];
}

interface Node {
  code: number;
  k: number;
  jt?: Node;
  jf?: Node;
}

const ld = (k: number): Node => ({ code: OP_LD_ABS, k });
const and = (k: number): Node => ({ code: OP_AND_K, k });
const jmp = (code: number, k: number, jt: Node, jf: Node): Node => ({ code, k: k >>> 0, jt, jf });

const lo32 = (v: bigint): number => Number(v & 0xffffffffn);
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
const MAX32 = 0xffffffff;

export function leafKey(leaf: Leaf): string {
  return leaf.kind === "ret" ? `r${leaf.ret}` : JSON.stringify(leaf, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

class Emitter {
  private readonly rets = new Map<number, Node>();
  ret(k: number): Node {
    let n = this.rets.get(k >>> 0);
    if (!n) this.rets.set(k >>> 0, (n = { code: OP_RET_K, k: k >>> 0 }));
    return n;
  }
  retNodes(): Node[] {
    return [...this.rets.values()];
  }
}

/** Code for one comparison: control reaches `match` when it holds, `fail` when not. */
function condCode(c: WordCond, bits: 32 | 64, match: Node, fail: Node): Node[] {
  const L = offArgLo(c.index), H = offArgHi(c.index);
  const vl = lo32(c.value), vh = hi32(c.value);
  if (c.op === "SCMP_CMP_MASKED_EQ") {
    const ml = lo32(c.value), mh = hi32(c.value), dl = lo32(c.valueTwo), dh = hi32(c.valueTwo);
    const out: Node[] = [];
    let entry = match;
    if (ml !== 0) {
      const t = jmp(OP_JEQ, dl, match, fail);
      const part = ml === MAX32 ? [ld(L), t] : [ld(L), and(ml), t];
      out.unshift(...part);
      entry = part[0] as Node;
    }
    if (bits === 64 && mh !== 0) {
      const t = jmp(OP_JEQ, dh, entry, fail);
      out.unshift(...(mh === MAX32 ? [ld(H), t] : [ld(H), and(mh), t]));
    }
    return out;
  }
  // The low-word test, as a function of where "low word decides" should go.
  const lowTest = (): Node => {
    switch (c.op) {
      case "SCMP_CMP_EQ": return jmp(OP_JEQ, vl, match, fail);
      case "SCMP_CMP_NE": return jmp(OP_JEQ, vl, fail, match);
      case "SCMP_CMP_GT": return jmp(OP_JGT, vl, match, fail);
      case "SCMP_CMP_GE": return jmp(OP_JGE, vl, match, fail);
      case "SCMP_CMP_LT": return jmp(OP_JGE, vl, fail, match);
      default: return jmp(OP_JGT, vl, fail, match); // SCMP_CMP_LE
    }
  };
  const lowLd = ld(L);
  const low = [lowLd, lowTest()];
  if (bits === 32) return low;
  // 64-bit: the high word decides unless it equals the datum's high word.
  switch (c.op) {
    case "SCMP_CMP_EQ": return [ld(H), jmp(OP_JEQ, vh, lowLd, fail), ...low];
    case "SCMP_CMP_NE": return [ld(H), jmp(OP_JEQ, vh, lowLd, match), ...low];
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE": {
      if (c.op === "SCMP_CMP_GE" && vl === 0) return [ld(H), jmp(OP_JGE, vh, match, fail)];
      const eq = jmp(OP_JEQ, vh, lowLd, fail);
      return vh === MAX32 ? [ld(H), eq, ...low] : [ld(H), jmp(OP_JGT, vh, match, eq), eq, ...low];
    }
    default: { // SCMP_CMP_LT, SCMP_CMP_LE
      const eq = jmp(OP_JEQ, vh, lowLd, match);
      return vh === MAX32 ? [ld(H), eq, ...low] : [ld(H), jmp(OP_JGT, vh, fail, eq), eq, ...low];
    }
  }
}

/** A rule that is one equality test on an argument (joins a switch with its neighbours). */
function soleEq(r: CondRule): WordCond | undefined {
  const c = r.conds[0];
  return r.conds.length === 1 && c && c.op === "SCMP_CMP_EQ" ? c : undefined;
}

/**
 * Code for an argument-dependent syscall: rules in order, the first that matches
 * decides, else `fallback`. Runs of single-equality rules on the same argument become
 * one switch that loads each word once.
 */
function argBlock(leaf: Extract<Leaf, { kind: "args" }>, em: Emitter): Node[] {
  let code: Node[] = [];
  let fail = em.ret(leaf.fallback);
  const rules = leaf.rules;
  let j = rules.length;
  while (j > 0) {
    const last = rules[j - 1] as CondRule;
    const eq = soleEq(last);
    let i = j - 1;
    if (eq) while (i > 0 && soleEq(rules[i - 1] as CondRule)?.index === eq.index) i--;
    let part: Node[];
    if (eq && j - i > 1) part = eqSwitch(rules.slice(i, j), leaf.bits, fail, em);
    else {
      i = j - 1;
      part = [];
      let match = em.ret(last.ret);
      for (let c = last.conds.length - 1; c >= 0; c--) {
        const cc = condCode(last.conds[c] as WordCond, leaf.bits, match, fail);
        if (cc.length) { part = [...cc, ...part]; match = cc[0] as Node; }
      }
      if (!part.length) part = [{ code: OP_JA, k: 0, jt: match }];
    }
    code = [...part, ...code];
    fail = part[0] as Node;
    j = i;
  }
  return code;
}

function eqSwitch(rules: readonly CondRule[], bits: 32 | 64, fail: Node, em: Emitter): Node[] {
  const index = (rules[0] as CondRule).conds[0]?.index ?? 0;
  // First rule for a value wins (rules arrive in precedence order).
  const byHi = new Map<number, Map<number, number>>();
  for (const r of rules) {
    const v = (r.conds[0] as WordCond).value;
    const h = bits === 64 ? hi32(v) : 0;
    let m = byHi.get(h);
    if (!m) byHi.set(h, (m = new Map()));
    if (!m.has(lo32(v))) m.set(lo32(v), r.ret);
  }
  const groups: Node[][] = [];
  for (const values of byHi.values()) {
    groups.push([ld(offArgLo(index)), ...valueSearch([...values].sort((a, b) => a[0] - b[0]), fail, em)]);
  }
  if (bits === 32) return groups[0] ?? [];
  const his = [...byHi.keys()];
  const dispatch: Node[] = [];
  let next = fail;
  for (let g = his.length - 1; g >= 0; g--) {
    const t = jmp(OP_JEQ, his[g] as number, (groups[g] as Node[])[0] as Node, next);
    dispatch.unshift(t);
    next = t;
  }
  return [ld(offArgHi(index)), ...dispatch, ...groups.flat()];
}

/**
 * Tests the accumulator against sorted values: a short run of `jeq`, or a `jge` split
 * first when there are many, so a switch over n values costs about log2(n) + 2.
 */
function valueSearch(values: ReadonlyArray<[number, number]>, fail: Node, em: Emitter): Node[] {
  if (values.length <= 3) {
    const tests: Node[] = [];
    let next = fail;
    for (const [v, ret] of [...values].reverse()) {
      const t = jmp(OP_JEQ, v, em.ret(ret), next);
      tests.unshift(t);
      next = t;
    }
    return tests;
  }
  const mid = Math.floor(values.length / 2);
  const left = valueSearch(values.slice(0, mid), fail, em);
  const right = valueSearch(values.slice(mid), fail, em);
  const split = jmp(OP_JGE, (values[mid] as [number, number])[0], right[0] as Node, left[0] as Node);
  return [split, ...left, ...right];
}

/**
 * Chooses the split points of the search tree: an optimal alphabetic tree for the
 * segment weights (Knuth's O(n²) dynamic programme), so that frequent ranges sit high.
 * Returns root[i][j] as a flat array.
 */
function optimalSplits(weights: readonly number[]): { root: Int32Array } {
  const n = weights.length;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] as number) + (weights[i] as number);
  const cost = new Float64Array(n * n);
  const root = new Int32Array(n * n);
  for (let i = 0; i < n; i++) root[i * n + i] = i;
  for (let len = 2; len <= n; len++) {
    for (let i = 0; i + len - 1 < n; i++) {
      const j = i + len - 1;
      const lo = Math.max(i + 1, len === 2 ? i + 1 : (root[i * n + j - 1] as number));
      const hi = Math.min(j, len === 2 ? j : (root[(i + 1) * n + j] as number));
      let best = Infinity, bestM = lo;
      for (let m = lo; m <= hi; m++) {
        const c = (cost[i * n + m - 1] as number) + (cost[m * n + j] as number);
        if (c < best) { best = c; bestM = m; }
      }
      cost[i * n + j] = best + (prefix[j + 1] as number) - (prefix[i] as number);
      root[i * n + j] = bestM;
    }
  }
  return { root };
}

/** Deepest tree we accept from the weighted search before falling back to a balanced one. */
const MAX_TREE_DEPTH = 12;

function treeDepth(root: Int32Array, n: number, i: number, j: number): number {
  if (i >= j) return 0;
  const m = root[i * n + j] as number;
  return 1 + Math.max(treeDepth(root, n, i, m - 1), treeDepth(root, n, m, j));
}

function balancedSplits(n: number): Int32Array {
  const root = new Int32Array(n * n);
  const fill = (i: number, j: number): void => {
    if (i >= j) return;
    const m = i + Math.ceil((j - i + 1) / 2);
    root[i * n + j] = m;
    fill(i, m - 1);
    fill(m, j);
  };
  fill(0, n - 1);
  return root;
}

function sectionCode(sec: TokenSection, em: Emitter): { entry: Node; nodes: Node[] } {
  const segs = sec.segments;
  const blocks = new Map<string, Node[]>();
  const target = (leaf: Leaf): Node => {
    if (leaf.kind === "ret") return em.ret(leaf.ret);
    const key = leafKey(leaf);
    let b = blocks.get(key);
    if (!b) blocks.set(key, (b = argBlock(leaf, em)));
    return b[0] as Node;
  };
  if (segs.length === 1) {
    const entry = target((segs[0] as Segment).leaf);
    return { entry, nodes: [...blocks.values()].flat() };
  }
  // Light leaves can end up very deep; lifting every weight by a constant bounds the
  // depth at a small cost to the average. Past that, a balanced tree.
  const weights = segs.map((s) => s.weight);
  const mean = weights.reduce((a, b) => a + b, 0) / weights.length;
  let root: Int32Array | undefined;
  const n = segs.length;
  for (const lift of [0, 0.01, 0.03, 0.1, 0.3, 1, 3]) {
    const r = optimalSplits(weights.map((w) => w + lift * mean)).root;
    if (treeDepth(r, n, 0, n - 1) <= MAX_TREE_DEPTH) { root = r; break; }
  }
  root ??= balancedSplits(n);
  const tree: Node[] = [];
  const splits = root;
  const build = (i: number, j: number): Node => {
    if (i === j) return target((segs[i] as Segment).leaf);
    const m = splits[i * n + j] as number;
    const node: Node = { code: OP_JGE, k: (segs[m] as Segment).lo >>> 0 };
    tree.push(node);
    node.jf = build(i, m - 1);
    node.jt = build(m, j);
    return node;
  };
  const top = build(0, n - 1);
  const load = ld(OFF_NR);
  if (tree[0] !== top) throw new Error("internal: tree root is not first");
  return { entry: load, nodes: [load, ...tree, ...[...blocks.values()].flat()] };
}

/** Emits the whole program: arch dispatch (sections in the given order), trees, argument blocks, returns. */
export function generateProgram(sections: readonly TokenSection[], badArchRet: number): Insn[] {
  const em = new Emitter();
  const bad = em.ret(badArchRet);
  const bodies = sections.map((s) => sectionCode(s, em));
  const dispatch: Node[] = [ld(OFF_ARCH)];
  let next = bad;
  const tests: Node[] = [];
  for (let s = sections.length - 1; s >= 0; s--) {
    const t = jmp(OP_JEQ, (sections[s] as TokenSection).audit, (bodies[s] as { entry: Node }).entry, next);
    tests.unshift(t);
    next = t;
  }
  const nodes = [...dispatch, ...tests, ...bodies.flatMap((b) => b.nodes), ...em.retNodes()];
  return layout(nodes);
}

/**
 * Assigns positions and encodes jumps. A conditional jump can skip at most 255
 * instructions; when one cannot reach its target, a copy of the target (if it is a
 * return) or a `ja` is placed right after the jump and the jump goes there instead.
 */
function layout(input: Node[]): Insn[] {
  const nodes = [...input];
  for (let round = 0; ; round++) {
    if (round > 10000) throw new Error("internal: jump relaxation did not settle");
    const pos = new Map<Node, number>();
    nodes.forEach((n, i) => pos.set(n, i));
    let fixed = false;
    for (let i = 0; i < nodes.length && !fixed; i++) {
      const n = nodes[i] as Node;
      if (n.code === OP_JA || !n.jt) continue;
      for (const side of ["jt", "jf"] as const) {
        const t = n[side] as Node;
        const off = (pos.get(t) ?? -1) - i - 1;
        if (off < 0) throw new Error("internal: backward or dangling jump");
        if (off > 255) {
          const hop: Node = t.code === OP_RET_K ? { code: OP_RET_K, k: t.k } : { code: OP_JA, k: 0, jt: t };
          nodes.splice(i + 1, 0, hop);
          n[side] = hop;
          fixed = true;
          break;
        }
      }
    }
    if (fixed) continue;
    if (nodes.length > BPF_MAXINSNS) {
      throw new Error(`the filter needs ${nodes.length} instructions, more than the kernel's limit of ${BPF_MAXINSNS}`);
    }
    return nodes.map((n, i): Insn => {
      if (n.code === OP_JA) return { code: OP_JA, jt: 0, jf: 0, k: (pos.get(n.jt as Node) as number) - i - 1 };
      if (n.jt && n.jf) return { code: n.code, jt: (pos.get(n.jt) as number) - i - 1, jf: (pos.get(n.jf) as number) - i - 1, k: n.k };
      return { code: n.code, jt: 0, jf: 0, k: n.k };
    });
  }
}
