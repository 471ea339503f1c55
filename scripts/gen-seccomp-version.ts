// Rewrites src/seccomp/compiler_version.ts: the hash of the seccomp compiler's sources that
// keys its program cache. Run after changing the compiler or its tables:
//   node_modules/.bin/bun scripts/gen-seccomp-version.ts
import { readFileSync, writeFileSync } from "node:fs";
import { compilerSourceHash, compilerSources, renderVersionFile, VERSION_FILE } from "../src/seccomp/source_hash.ts";

const dir = new URL("../src/seccomp/", import.meta.url);
const read = (f: string) => readFileSync(new URL(f, dir), "utf8");
const hash = compilerSourceHash(read);
writeFileSync(new URL(VERSION_FILE, dir), renderVersionFile(hash));
console.log(`${VERSION_FILE}: ${hash} over ${compilerSources(read).join(", ")}`);
