/** Builds a docker-archive image of busybox-static for client tests (podman load, ctr images import). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { makeRootfs } from "./bundle.ts";

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

function tar(args: string[], cwd: string) {
  const r = Bun.spawnSync(["tar", ...args], { cwd, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar ${args.join(" ")}: ${r.stderr.toString()}`);
}

/** Writes `out` (a docker-archive tar) tagged `ref`, e.g. "localhost/isola-busybox:latest". */
export function makeBusyboxArchive(out: string, ref = "localhost/isola-busybox:latest"): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "isola-image-"));
  try {
    const rootfs = path.join(work, "rootfs");
    makeRootfs(rootfs);
    const dir = path.join(work, "archive");
    fs.mkdirSync(dir);
    tar(["--numeric-owner", "--owner=0", "--group=0", "-cf", path.join(dir, "layer.tar"), "."], rootfs);
    const diffId = sha256(path.join(dir, "layer.tar"));
    fs.mkdirSync(path.join(dir, diffId));
    fs.renameSync(path.join(dir, "layer.tar"), path.join(dir, diffId, "layer.tar"));
    const config = {
      architecture: "amd64",
      os: "linux",
      created: "2026-01-01T00:00:00Z",
      config: { Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
      history: [{ created: "2026-01-01T00:00:00Z", created_by: "isola test image: busybox-static" }],
    };
    const configText = JSON.stringify(config);
    const configId = createHash("sha256").update(configText).digest("hex");
    fs.writeFileSync(path.join(dir, `${configId}.json`), configText);
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify([{ Config: `${configId}.json`, RepoTags: [ref], Layers: [`${diffId}/layer.tar`] }]));
    tar(["-cf", out, "."], dir);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) makeBusyboxArchive(process.argv[2] ?? "busybox.tar");
