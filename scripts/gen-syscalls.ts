// Regenerates src/seccomp/syscalls_*.ts from the kernel uapi headers that Debian's
// linux-libc-dev installs under /usr/include (and linux-libc-dev-armhf-cross under
// /usr/arm-linux-gnueabihf/include), plus src/seccomp/syscall_supplement.ts.
// Run: node_modules/.bin/bun scripts/gen-syscalls.ts
import { readFileSync, writeFileSync } from "node:fs";
import { buildTable, headerPath, renderSyscallTable, TABLE_SPECS } from "../src/seccomp/syscall_header.ts";

const read = (p: string): string | undefined => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
};
for (const spec of TABLE_SPECS) {
  // ISOLA_INCLUDE_DIR stands in for /usr/include (the tables that read from there).
  const root = spec.root === undefined ? process.env.ISOLA_INCLUDE_DIR : undefined;
  const table = buildTable(spec, read, root);
  const out = new URL(`../src/seccomp/${spec.file}`, import.meta.url);
  writeFileSync(out, renderSyscallTable(spec, table));
  console.log(`${spec.file}: ${table.size} syscalls from ${headerPath(spec, root)}`);
}
