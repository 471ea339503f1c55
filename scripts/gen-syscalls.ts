// Regenerates src/seccomp/syscalls_*.ts from the kernel uapi headers that Debian's
// linux-libc-dev installs under /usr/include, plus src/seccomp/syscall_supplement.ts. Run: node_modules/.bin/bun scripts/gen-syscalls.ts
import { readFileSync, writeFileSync } from "node:fs";
import { parseSyscallHeader, renderSyscallTable, TABLE_SPECS, withSupplement } from "../src/seccomp/syscall_header.ts";

const include = process.env.ISOLA_INCLUDE_DIR ?? "/usr/include";
for (const spec of TABLE_SPECS) {
  const table = withSupplement(spec, parseSyscallHeader(readFileSync(`${include}/${spec.header}`, "utf8"), spec.predefined));
  const out = new URL(`../src/seccomp/${spec.file}`, import.meta.url);
  writeFileSync(out, renderSyscallTable(spec, table));
  console.log(`${spec.file}: ${table.size} syscalls from ${spec.header}`);
}
