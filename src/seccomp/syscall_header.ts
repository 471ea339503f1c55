/**
 * Reads syscall numbers out of the kernel's uapi headers (a tiny C preprocessor that
 * knows just enough: #define, #undef, #if/#ifdef/#ifndef/#elif/#else/#endif with
 * `defined`, integer arithmetic and comparisons) and adds the calls newer than those
 * headers (syscall_supplement.ts). Pure: the caller passes the text.
 * Used by scripts/gen-syscalls.ts and by the test that checks the committed tables.
 */
import { SYSCALL_SUPPLEMENT, type SupplementedSyscall } from "./syscall_supplement.ts";

/** One generated table: which header, which predefined macros, which file it becomes. */
export interface SyscallTableSpec {
  /** the SCMP_ARCH_* name the table serves */
  arch: string;
  /** exported constant name in the generated module */
  constName: string;
  /** generated module, relative to src/seccomp/ */
  file: string;
  /** header path relative to `root` */
  header: string;
  /** include directory (default /usr/include, Debian's linux-libc-dev; cross headers live elsewhere) */
  root?: string;
  /** macros the kernel's arch headers define before including the header */
  predefined: Record<string, number>;
  /** `#include`s to read in (relative to `root`); others are skipped */
  follow?: readonly string[];
  /** prefix of an arch's private calls besides `__NR_` (ARM's `__ARM_NR_cacheflush` …) */
  privatePrefix?: string;
  /** added to a supplemented call's number in this table (x32's bit 30) */
  supplementOffset?: number;
}

/**
 * asm-generic/unistd.h serves aarch64 once arch/arm64/include/uapi/asm/unistd.h has set
 * these wants; __BITS_PER_LONG is 64 there.
 */
export const TABLE_SPECS: readonly SyscallTableSpec[] = [
  { arch: "SCMP_ARCH_X86_64", constName: "SYSCALLS_X86_64", file: "syscalls_x86_64.ts", header: "x86_64-linux-gnu/asm/unistd_64.h", predefined: {} },
  { arch: "SCMP_ARCH_X86", constName: "SYSCALLS_X86", file: "syscalls_x86.ts", header: "x86_64-linux-gnu/asm/unistd_32.h", predefined: {} },
  { arch: "SCMP_ARCH_X32", constName: "SYSCALLS_X32", file: "syscalls_x32.ts", header: "x86_64-linux-gnu/asm/unistd_x32.h", predefined: { __X32_SYSCALL_BIT: 0x40000000 }, supplementOffset: 0x40000000 },
  {
    arch: "SCMP_ARCH_AARCH64",
    constName: "SYSCALLS_AARCH64",
    file: "syscalls_aarch64.ts",
    header: "asm-generic/unistd.h",
    predefined: {
      __BITS_PER_LONG: 64,
      __ARCH_WANT_RENAMEAT: 1,
      __ARCH_WANT_NEW_STAT: 1,
      __ARCH_WANT_SET_GET_RLIMIT: 1,
      __ARCH_WANT_TIME32_SYSCALLS: 1,
      __ARCH_WANT_SYS_CLONE3: 1,
      __ARCH_WANT_MEMFD_SECRET: 1,
    },
  },
  // ARM EABI (what an arm64 host runs as its 32-bit compat ABI): Debian's
  // linux-libc-dev-armhf-cross. seccomp sees the private calls (cacheflush, set_tls …) at
  // 0xf0000 + n, as libseccomp names them.
  {
    arch: "SCMP_ARCH_ARM",
    constName: "SYSCALLS_ARM",
    file: "syscalls_arm.ts",
    header: "asm/unistd.h",
    root: "/usr/arm-linux-gnueabihf/include",
    predefined: { __ARM_EABI__: 1 },
    follow: ["asm/unistd-eabi.h"],
    privatePrefix: "__ARM_NR_",
  },
];

/** Where a table's header is. */
export const headerPath = (spec: SyscallTableSpec, root = spec.root ?? "/usr/include"): string => `${root}/${spec.header}`;

/** Macros named __NR_* (or an arch's private prefix) that are bookkeeping, not syscalls. */
const NOT_SYSCALLS = new Set(["syscalls", "arch_specific_syscall", "SYSCALL_BASE", "OABI_SYSCALL_BASE", "SYSCALL_MASK", "BASE"]);

export interface ParseOptions {
  /** the text of an `#include <name>` to read in, or undefined to skip it */
  include?: (name: string) => string | undefined;
  /** also collect `<privatePrefix><name>` macros */
  privatePrefix?: string;
}

/** Replaces each `#include <name>` the resolver knows with that file's text (which keeps the surrounding #if). */
function inlineIncludes(text: string, include: ParseOptions["include"], depth = 0): string {
  if (!include) return text;
  if (depth > 8) throw new Error("#include nested too deep");
  return text.replace(/^[ \t]*#[ \t]*include[ \t]*[<"]([^>"]+)[>"].*$/gm, (line, name: string) => {
    const body = include(name);
    return body === undefined ? line : inlineIncludes(body, include, depth + 1);
  });
}

/**
 * Returns syscall name → number for every `__NR_<name>` the header defines under
 * `predefined`, after reading in the includes `opts.include` resolves.
 */
export function parseSyscallHeader(text: string, predefined: Record<string, number>, opts: ParseOptions = {}): Map<string, number> {
  const macros = new Map<string, string>();
  for (const [k, v] of Object.entries(predefined)) macros.set(k, String(v));
  // Stack of [this branch active, some branch of this #if already taken].
  const stack: Array<{ active: boolean; taken: boolean; parentActive: boolean }> = [];
  const active = () => stack.every((s) => s.active);
  const lines = inlineIncludes(text, opts.include).replace(/\\\n/g, " ").replace(/\/\*[\s\S]*?\*\//g, " ").split("\n");
  for (const raw of lines) {
    const line = raw.trim();
    const m = /^#\s*(\w+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, directive = "", rest = ""] = m;
    switch (directive) {
      case "ifdef":
      case "ifndef": {
        const def = macros.has(rest.trim());
        const cond = directive === "ifdef" ? def : !def;
        const parentActive = active();
        stack.push({ active: cond, taken: cond, parentActive });
        break;
      }
      case "if": {
        const parentActive = active();
        const cond = parentActive && evaluate(rest, macros) !== 0;
        stack.push({ active: cond, taken: cond, parentActive });
        break;
      }
      case "elif": {
        const top = stack.at(-1);
        if (!top) throw new Error("#elif without #if");
        const cond = !top.taken && top.parentActive && evaluate(rest, macros) !== 0;
        top.active = cond;
        top.taken ||= cond;
        break;
      }
      case "else": {
        const top = stack.at(-1);
        if (!top) throw new Error("#else without #if");
        top.active = !top.taken;
        top.taken = true;
        break;
      }
      case "endif":
        if (!stack.pop()) throw new Error("#endif without #if");
        break;
      case "define": {
        if (!active()) break;
        const d = /^(\w+)(\([^)]*\))?\s*(.*)$/.exec(rest);
        if (d && !d[2]) macros.set(d[1] ?? "", (d[3] ?? "").trim());
        break;
      }
      case "undef":
        if (active()) macros.delete(rest.trim());
        break;
      default:
        break; // #include, #error, #pragma: nothing to do for numbers
    }
  }
  if (stack.length) throw new Error("unterminated #if");
  const out = new Map<string, number>();
  const prefixes = ["__NR_", ...(opts.privatePrefix ? [opts.privatePrefix] : [])];
  for (const name of macros.keys()) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    if (!prefix) continue;
    const sys = name.slice(prefix.length);
    if (NOT_SYSCALLS.has(sys)) continue;
    out.set(sys, evaluate(name, macros));
  }
  return out;
}

/**
 * One table as the generator writes it: the spec's header (and the includes it follows,
 * read through `read`, which returns undefined for a missing file) plus the supplement.
 * `root` overrides the spec's include directory.
 */
export function buildTable(spec: SyscallTableSpec, read: (path: string) => string | undefined, root?: string): Map<string, number> {
  const dir = root ?? spec.root ?? "/usr/include";
  const text = read(headerPath(spec, dir));
  if (text === undefined) throw new Error(`${headerPath(spec, dir)} is missing`);
  const include = (name: string) => (spec.follow?.includes(name) ? read(`${dir}/${name}`) : undefined);
  return withSupplement(spec, parseSyscallHeader(text, spec.predefined, { include, ...(spec.privatePrefix ? { privatePrefix: spec.privatePrefix } : {}) }));
}

/**
 * The table with the calls newer than its header added. A header that has one already
 * must give it the same number, and no supplemented number may belong to another name.
 */
export function withSupplement(spec: SyscallTableSpec, table: Map<string, number>, supplement: readonly SupplementedSyscall[] = SYSCALL_SUPPLEMENT): Map<string, number> {
  const out = new Map(table);
  const byNr = new Map([...table].map(([name, nr]) => [nr, name]));
  for (const s of supplement) {
    if (!s.arches.includes(spec.arch)) continue;
    const nr = s.nr + (spec.supplementOffset ?? 0);
    const had = table.get(s.name);
    if (had !== undefined && had !== nr) throw new Error(`${spec.header} numbers ${s.name} ${had}, the supplement ${nr}`);
    const owner = byNr.get(nr);
    if (owner !== undefined && owner !== s.name) throw new Error(`${spec.header} gives ${nr} to ${owner}, the supplement to ${s.name}`);
    out.set(s.name, nr);
  }
  return out;
}

/** Renders the generated TypeScript module for one table (sorted by number, then name). */
export function renderSyscallTable(spec: SyscallTableSpec, table: Map<string, number>): string {
  const rows = [...table].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const body = rows.map(([n, v]) => `  ${/^[A-Za-z_$][\w$]*$/.test(n) ? n : JSON.stringify(n)}: ${v < 0x10000 ? v : "0x" + v.toString(16)},`).join("\n");
  return (
    `// Generated by scripts/gen-syscalls.ts from ${headerPath(spec)} and syscall_supplement.ts. Do not edit.\n` +
    `/** ${spec.arch}: syscall name → number as seen in seccomp_data.nr. */\n` +
    `export const ${spec.constName}: Readonly<Record<string, number>> = {\n${body}\n};\n`
  );
}

// ---- expression evaluation (integers only) -------------------------------------------

function evaluate(expr: string, macros: Map<string, string>, depth = 0): number {
  if (depth > 32) throw new Error(`macro expansion too deep in ${expr}`);
  const tokens = expr.match(/0[xX][0-9a-fA-F]+|\d+|\w+|\|\||&&|==|!=|<=|>=|<<|>>|[-+*()!<>|&~]/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const primary = (): number => {
    const t = next();
    if (t === undefined) throw new Error(`unexpected end of expression: ${expr}`);
    if (t === "(") {
      const v = or();
      if (next() !== ")") throw new Error(`missing ) in ${expr}`);
      return v;
    }
    if (t === "!") return primary() === 0 ? 1 : 0;
    if (t === "-") return -primary();
    if (t === "~") return ~primary();
    if (t === "defined") {
      const paren = peek() === "(";
      if (paren) next();
      const name = next() ?? "";
      if (paren && next() !== ")") throw new Error(`missing ) after defined in ${expr}`);
      return macros.has(name) ? 1 : 0;
    }
    if (/^\d/.test(t)) return Number.parseInt(t.replace(/[uUlL]+$/, ""), t.startsWith("0x") || t.startsWith("0X") ? 16 : 10);
    const body = macros.get(t);
    if (body === undefined) return 0; // undefined identifiers are 0 in #if, as in C
    return body === "" ? 1 : evaluate(body, macros, depth + 1);
  };
  const binary = (ops: Record<string, (a: number, b: number) => number>, sub: () => number) => (): number => {
    let v = sub();
    for (let op = peek(); op !== undefined && op in ops; op = peek()) {
      next();
      v = (ops[op] as (a: number, b: number) => number)(v, sub());
    }
    return v;
  };
  const mul = binary({ "*": (a, b) => a * b }, primary);
  const add = binary({ "+": (a, b) => a + b, "-": (a, b) => a - b }, mul);
  const shift = binary({ "<<": (a, b) => a * 2 ** b, ">>": (a, b) => Math.floor(a / 2 ** b) }, add);
  const rel = binary({ "<": (a, b) => +(a < b), ">": (a, b) => +(a > b), "<=": (a, b) => +(a <= b), ">=": (a, b) => +(a >= b) }, shift);
  const eq = binary({ "==": (a, b) => +(a === b), "!=": (a, b) => +(a !== b) }, rel);
  const bitand = binary({ "&": (a, b) => a & b }, eq);
  const bitor = binary({ "|": (a, b) => a | b }, bitand);
  const and = binary({ "&&": (a, b) => +(a !== 0 && b !== 0) }, bitor);
  const or = binary({ "||": (a, b) => +(a !== 0 || b !== 0) }, and);
  const v = or();
  if (i !== tokens.length) throw new Error(`trailing tokens in ${expr}`);
  return v;
}
