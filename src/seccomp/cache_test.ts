import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { COMPILER_VERSION, profileHash, SeccompCache } from "./cache.ts";
import { compileSeccomp } from "./compile.ts";
import { SeccompConfigError } from "./profile.ts";
import { COMPILER_SOURCES_SHA256 } from "./compiler_version.ts";
import { sha256Hex } from "./sha256.ts";
import { compilerSourceHash, compilerSources, renderVersionFile, VERSION_FILE } from "./source_hash.ts";

const read = (f: string) => readFileSync(new URL(f, import.meta.url), "utf8");

test("the compiler version is the hash of the compiler's sources (stale: run scripts/gen-seccomp-version.ts)", () => {
  expect(read(VERSION_FILE)).toBe(renderVersionFile(compilerSourceHash(read)));
  expect(COMPILER_VERSION).toBe(`isola-seccomp/${COMPILER_SOURCES_SHA256.slice(0, 16)}`);
});

test("the hashed sources are everything the cache's compiler imports: tables and code generator in, tests and tools out", () => {
  const files = compilerSources(read);
  for (const f of ["cache.ts", "compile.ts", "codegen.ts", "profile.ts", "bpf.ts", "arch.ts", "syscalls_x86_64.ts", "syscalls_arm.ts", "sha256.ts"]) expect(files).toContain(f);
  for (const f of ["interp.ts", "moby.ts", "mod.ts", VERSION_FILE, "cache_test.ts"]) expect(files).not.toContain(f);
  // A change anywhere in them (a table entry, a comment) gives another version; elsewhere it does not.
  const edited = (file: string) => (f: string) => (f === file ? read(f) + "\n// changed\n" : read(f));
  expect(compilerSourceHash(edited("syscalls_x86_64.ts"))).not.toBe(COMPILER_SOURCES_SHA256);
  expect(compilerSourceHash(edited("codegen.ts"))).not.toBe(COMPILER_SOURCES_SHA256);
  expect(compilerSourceHash(edited("interp.ts"))).toBe(COMPILER_SOURCES_SHA256);
});

test("sha256 matches node:crypto on assorted lengths", () => {
  expect(sha256Hex(new TextEncoder().encode("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000]) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
    expect(sha256Hex(data)).toBe(createHash("sha256").update(data).digest("hex"));
  }
});

const profile = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read", "write"], action: "SCMP_ACT_ALLOW" }] };

test("the key ignores key order but not content or options", () => {
  expect(profileHash(profile)).toBe(profileHash({ syscalls: [{ action: "SCMP_ACT_ALLOW", names: ["read", "write"] }], defaultAction: "SCMP_ACT_ERRNO" }));
  expect(profileHash(profile)).not.toBe(profileHash({ ...profile, defaultAction: "SCMP_ACT_KILL" }));
  expect(profileHash(profile)).not.toBe(profileHash(profile, { nativeArch: "arm64" }));
});

test("a second compile of the same profile is a hit and returns the same program, through an injected store", () => {
  const disk = new Map<string, string>();
  const store = { get: (k: string) => disk.get(k), set: (k: string, v: string) => void disk.set(k, v) };
  const a = new SeccompCache(store);
  const first = a.compile(profile);
  expect([a.hits, a.misses]).toEqual([0, 1]);
  const b = new SeccompCache(store); // e.g. a later runtime process reading the same directory
  const second = b.compile(structuredClone(profile));
  expect([b.hits, b.misses]).toEqual([1, 0]);
  expect(second).toEqual(first);
  expect(second.program).toEqual(compileSeccomp(profile).program);
});

test("bad profiles are not cached and still throw; damaged entries are misses", () => {
  const c = new SeccompCache();
  expect(() => c.compile({ defaultAction: "NOPE" })).toThrow(SeccompConfigError);
  expect(() => c.compile({ defaultAction: "NOPE" })).toThrow(SeccompConfigError);
  const store = { get: () => "{not json", set: () => {} };
  const d = new SeccompCache(store);
  expect(d.compile(profile).program.length).toBeGreaterThan(0);
  expect(d.misses).toBe(1);
});
