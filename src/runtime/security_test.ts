// Integration: escape attempts and sandbox extensions, each tried from inside a container (root only).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeBundle, readSpec, writeSpec } from "../../test/bundle.ts";
import { isRoot, REPO, Runtime, uniqueId, waitFor } from "../../test/harness.ts";
import type { Spec } from "../oci/types.ts";

const rt = new Runtime();
let bundle = "";
let base: Spec;
let work = "";

beforeAll(() => {
  bundle = makeBundle();
  base = readSpec(bundle);
  base.root!.readonly = false;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "isola-sec-"));
});
afterAll(() => {
  rt.cleanup();
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const rootfs = () => path.join(bundle, "rootfs");

function useSpec(edit: (s: Spec) => void): void {
  const spec: Spec = structuredClone(base);
  edit(spec);
  writeSpec(bundle, spec);
}

/**
 * CVE-2019-5736 from inside: hold /proc/<pid>/exe of a process open while it still runs
 * the binary, wait until it has exec'd something else (the kernel then lifts the write-deny),
 * and write through the held fd. Writes "<label> open=<rc> write=<rc> exe=<link>" lines to
 * /tmp/attack.<label>.
 */
const ATTACK = `attack() { # label pid
  exe=$(readlink /proc/$2/exe)
  if command exec 3< /proc/$2/exe 2>/tmp/openerr.$1; then o=0; else o=1; fi
  echo "$1 exe=$exe" > /tmp/exe.$1
  : > /tmp/holding.$1
  while [ "$(readlink /proc/$2/exe)" = "$exe" ]; do usleep 2000; done
  echo PWNED | dd of=/proc/self/fd/3 conv=notrunc 2>/tmp/err.$1; w=$?
  echo "$1 open=$o write=$w" > /tmp/attack.$1
  exec 3<&-
}`;

describe.skipIf(!isRoot)("CVE-2019-5736: the launcher's binary can't be overwritten through /proc/<pid>/exe", () => {
  test("the init of a created container runs from a sealed copy; writing through its exe fails; the host binary is unchanged", () => {
    // attack a copy of the launcher, never the installed one
    const launcher = path.join(work, "isola-launcher");
    fs.copyFileSync(path.join(REPO, "bin/isola-launcher"), launcher);
    fs.chmodSync(launcher, 0o755);
    const before = sha256(launcher);
    const env = { ISOLA_LAUNCHER: launcher };
    useSpec((s) => (s.process!.args = ["sleep", "100"]));
    for (const f of fs.readdirSync(path.join(rootfs(), "tmp"))) fs.rmSync(path.join(rootfs(), "tmp", f), { recursive: true, force: true });
    const id = uniqueId("cve5736");
    expect(rt.run(["create", "-b", bundle, id], { env }).code).toBe(0);
    try {
      // The control: the same attack against a writable binary that execs away does succeed.
      const script = `${ATTACK}
        mkdir /tmp/victim && cp /bin/busybox /tmp/victim/sh
        /tmp/victim/sh -c 'while [ ! -e /tmp/holding.control ]; do usleep 2000; done; exec /bin/busybox sleep 100' &
        while [ "$(readlink /proc/$!/exe)" != /tmp/victim/sh ]; do usleep 1000; done
        attack control $!
        grep -c PWNED /tmp/victim/sh > /tmp/control.pwned
        kill %1 2>/dev/null
        attack init 1`;
      const e = rt.run(["exec", "-d", id, "sh", "-c", script], { env });
      expect(e.stderr).toBe("");
      const tmp = path.join(rootfs(), "tmp");
      expect(waitFor(() => fs.existsSync(path.join(tmp, "holding.init")), 10_000)).toBe(true);
      // the init is still the launcher, waiting on the exec fifo: what does the container see?
      expect(fs.readFileSync(path.join(tmp, "exe.init"), "utf8")).toMatch(/^init exe=\/memfd:isola-launcher/);
      expect(rt.run(["start", id], { env }).code).toBe(0);
      expect(waitFor(() => fs.existsSync(path.join(tmp, "attack.init")), 10_000)).toBe(true);
      expect(fs.readFileSync(path.join(tmp, "exe.control"), "utf8").trim()).toBe("control exe=/tmp/victim/sh");
      expect(fs.readFileSync(path.join(tmp, "attack.control"), "utf8").trim()).toBe("control open=0 write=0");
      expect(fs.readFileSync(path.join(tmp, "control.pwned"), "utf8").trim()).toBe("1");
      // the init's old exe was opened (same uid, dumpable) but the write fails: sealed
      expect(fs.readFileSync(path.join(tmp, "attack.init"), "utf8").trim()).toBe("init open=0 write=1");
      expect(fs.readFileSync(path.join(tmp, "err.init"), "utf8")).toMatch(/Operation not permitted|Text file busy|Permission denied/);
      expect(sha256(launcher)).toBe(before);
    } finally {
      rt.run(["delete", "--force", id], { env });
    }
  });
});
