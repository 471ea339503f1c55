/**
 * Compiled programs cached by content hash: the key covers the profile, the options
 * and the compiler version, so a hit is always the program compileSeccomp would build.
 * Pure apart from the injected store (memory by default; the runtime passes a disk one).
 */
import { type CompiledSeccomp, type CompileOptions, compileSeccomp } from "./compile.ts";
import { COMPILER_SOURCES_SHA256 } from "./compiler_version.ts";
import { sha256Hex } from "./sha256.ts";

/**
 * Derived from the compiler's own sources (source_hash.ts), never bumped by hand: any
 * change to the compiler or its tables gives new keys, so stale programs are not reused.
 */
export const COMPILER_VERSION = `isola-seccomp/${COMPILER_SOURCES_SHA256.slice(0, 16)}`;

/** Where cached programs live; values are opaque strings. */
export interface SeccompStore {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

function canonical(v: unknown): unknown {
  if (typeof v === "bigint") return { $bigint: v.toString() };
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The cache key of a profile compiled with these options. */
export function profileHash(profile: unknown, opts: CompileOptions = {}): string {
  const text = JSON.stringify(canonical({ v: COMPILER_VERSION, profile, opts }));
  return sha256Hex(new TextEncoder().encode(text));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Memoises compileSeccomp; errors are not cached. */
export class SeccompCache {
  private readonly store: SeccompStore;
  hits = 0;
  misses = 0;
  constructor(store?: SeccompStore) {
    const mem = new Map<string, string>();
    this.store = store ?? { get: (k) => mem.get(k), set: (k, v) => void mem.set(k, v) };
  }

  /** Returns the compiled program for `profile`, compiling only on a miss. */
  compile(profile: unknown, opts: CompileOptions = {}): CompiledSeccomp {
    const key = profileHash(profile, opts);
    const cached = this.store.get(key);
    if (cached !== undefined) {
      try {
        const o = JSON.parse(cached) as Omit<CompiledSeccomp, "program"> & { program: string };
        this.hits++;
        return { ...o, program: unhex(o.program) };
      } catch {
        // a damaged entry is a miss
      }
    }
    this.misses++;
    const out = compileSeccomp(profile, opts);
    this.store.set(key, JSON.stringify({ ...out, program: hex(out.program) }));
    return out;
  }
}
