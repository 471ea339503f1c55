/** Builds busybox bundles for tests and the demo (Debian's busybox-static). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultSpec } from "../src/oci/defaults.ts";
import type { Spec } from "../src/oci/types.ts";

const BUSYBOX = "/bin/busybox";
let applets: string[] | undefined;

function busyboxApplets(): string[] {
  if (!applets) {
    const out = Bun.spawnSync([BUSYBOX, "--list"]).stdout.toString();
    applets = out.split("\n").filter((a) => a && a !== "busybox");
  }
  return applets;
}

/** A root filesystem with busybox and its applets as symlinks. */
export function makeRootfs(dir: string): void {
  for (const d of ["bin", "proc", "sys", "dev", "etc", "tmp", "root"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(dir, "bin/busybox"));
  fs.chmodSync(path.join(dir, "bin/busybox"), 0o755);
  for (const a of busyboxApplets()) {
    try {
      fs.symlinkSync("busybox", path.join(dir, "bin", a));
    } catch {
      // exists
    }
  }
  fs.writeFileSync(path.join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
  fs.writeFileSync(path.join(dir, "etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
  fs.chmodSync(path.join(dir, "tmp"), 0o1777);
}

/** A bundle dir (rootfs + config.json) whose config is the default spec adjusted by `edit`. */
export function makeBundle(edit?: (spec: Spec) => void, parent = os.tmpdir()): string {
  const bundle = fs.mkdtempSync(path.join(parent, "isola-bundle-"));
  fs.chmodSync(bundle, 0o755); // reachable by a container's mapped root in a user namespace
  makeRootfs(path.join(bundle, "rootfs"));
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = ["true"];
  edit?.(spec);
  fs.writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return bundle;
}

export function writeSpec(bundle: string, spec: Spec) {
  fs.writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec, null, 2));
}

export function readSpec(bundle: string): Spec {
  return JSON.parse(fs.readFileSync(path.join(bundle, "config.json"), "utf8")) as Spec;
}
