// The test lab: runs a command in a small QEMU guest with Debian's kernel, cgroup2 alone at
// /sys/fs/cgroup (cgroup_no_v1=all; or, asked for, the v1 hierarchies alone, as on a legacy
// host), the host's root shared read-only under a tmpfs overlay,
// and no network device. General purpose: any test file that needs a kernel or layout this host
// lacks (pure cgroup v2 now, VLANs later) runs with `runInLab`. See test/lab/README.md.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cpioArchive, type CpioEntry } from "./cpio.ts";

export interface LabOptions {
  /** Shell command run in the guest (by /bin/sh), with `cwd` as working directory. */
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  memMiB?: number;
  cpus?: number;
  /** Wall-clock limit for the whole guest run; the guest is killed after it. */
  timeoutSec?: number;
  /** Extra kernel modules to load at boot (e.g. "8021q", "bridge"). */
  modules?: string[];
  /** Extra kernel command-line arguments. */
  kernelArgs?: string[];
  /** "v2" (default): cgroup2 alone at /sys/fs/cgroup; "v1": the v1 hierarchies alone, no cgroup2 anywhere (a legacy host). */
  cgroups?: "v1" | "v2";
  /** "auto" (default) uses KVM when a probe boot works, else TCG; $ISOLA_LAB_ACCEL overrides. */
  accel?: "auto" | "kvm" | "tcg";
  /** Receives the guest's console output as it comes. */
  onOutput?: (text: string) => void;
}

export interface LabResult {
  /** The command's exit status; undefined when the guest never reported one (crash, timeout). */
  status: number | undefined;
  output: string;
  accel: "kvm" | "tcg";
  seconds: number;
}

/** Where the kernel and initramfs are cached (outside the repo). */
export const CACHE_DIR = process.env.ISOLA_LAB_CACHE ?? "/var/cache/isola-lab";
const QEMU = "qemu-system-x86_64";
const BUSYBOX = "/usr/bin/busybox";
const BASE_MODULES = ["virtio_pci", "9p", "9pnet_virtio", "overlay", "loop"];

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

function sh(argv: string[], cwd?: string): string {
  const r = Bun.spawnSync(argv, { ...(cwd === undefined ? {} : { cwd }), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`);
  return r.stdout.toString();
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "the lab needs root (to share the host's root filesystem with the guest)";
  if (!which(QEMU)) return `${QEMU} is not installed (Debian package qemu-system-x86)`;
  if (!fs.existsSync(BUSYBOX)) return `${BUSYBOX} is missing (Debian package busybox-static)`;
  if (!fs.existsSync(`${CACHE_DIR}/ready`) && (!which("apt-get") || !which("dpkg-deb"))) return "no cached kernel and no apt-get/dpkg-deb to fetch one";
  return undefined;
}

interface Kernel {
  release: string;
  image: string;
  modulesDir: string;
}

/** Downloads and unpacks Debian's linux-image-amd64 into the cache (once). */
export function ensureKernel(): Kernel {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const unpacked = `${CACHE_DIR}/k`;
  if (!fs.existsSync(`${unpacked}/boot`)) {
    const dep = /Depends: (linux-image-\S+)/.exec(sh(["apt-cache", "depends", "linux-image-amd64"]))?.[1];
    if (!dep) throw new Error("apt-cache knows no linux-image-amd64 dependency (run apt-get update)");
    if (!fs.readdirSync(CACHE_DIR).some((f) => f.startsWith(`${dep}_`) && f.endsWith(".deb"))) sh(["apt-get", "download", dep], CACHE_DIR);
    const deb = fs.readdirSync(CACHE_DIR).find((f) => f.startsWith(`${dep}_`) && f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${dep} left no .deb in ${CACHE_DIR}`);
    // Unpack beside and rename: a concurrent first run may win the race, which is fine.
    const tmp = `${unpacked}.tmp-${process.pid}`;
    fs.mkdirSync(tmp, { recursive: true });
    sh(["dpkg-deb", "-x", `${CACHE_DIR}/${deb}`, tmp]);
    try {
      fs.renameSync(tmp, unpacked);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const vmlinuz = fs.readdirSync(`${unpacked}/boot`).find((f) => f.startsWith("vmlinuz-"));
  if (!vmlinuz) throw new Error(`no vmlinuz in ${unpacked}/boot`);
  const release = vmlinuz.slice("vmlinuz-".length);
  return { release, image: bootImage(`${unpacked}/boot/${vmlinuz}`), modulesDir: `${unpacked}/lib/modules/${release}` };
}

/**
 * The uncompressed vmlinux (booted through its PVH entry, which skips the slow decompression
 * under TCG), extracted once from the bzImage's xz payload; the bzImage when that fails.
 */
function bootImage(vmlinuz: string): string {
  if (process.env.ISOLA_LAB_BZIMAGE === "1") return vmlinuz;
  const out = `${vmlinuz}.vmlinux`;
  if (fs.existsSync(out)) return out;
  const buf = fs.readFileSync(vmlinuz);
  const magic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  const at = buf.indexOf(magic);
  if (at < 0) return vmlinuz;
  const r = Bun.spawnSync(["xz", "-dc", "--single-stream"], { stdin: buf.subarray(at), stdout: "pipe", stderr: "pipe" });
  const elf = r.stdout;
  if (elf.length < 4 || elf[0] !== 0x7f || elf[1] !== 0x45) return vmlinuz;
  fs.writeFileSync(`${out}.tmp-${process.pid}`, elf);
  fs.renameSync(`${out}.tmp-${process.pid}`, out);
  return out;
}

/** Module names a .ko depends on, from its .modinfo "depends=" string. */
function moduleDepends(ko: string): string[] {
  const buf = fs.readFileSync(ko);
  const at = buf.indexOf("\0depends=");
  if (at < 0) return [];
  const end = buf.indexOf(0, at + 1);
  return buf.subarray(at + "\0depends=".length, end).toString().split(",").filter((d) => d !== "");
}

/** Resolves modules and their dependencies to .ko paths (relative to modulesDir), dependencies first. */
export function resolveModules(modulesDir: string, wanted: string[]): string[] {
  const index = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ko")) index.set(e.name.slice(0, -3).replace(/-/g, "_"), path.relative(modulesDir, p));
    }
  };
  walk(modulesDir);
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    const key = name.replace(/-/g, "_");
    if (seen.has(key)) return;
    seen.add(key);
    const rel = index.get(key);
    if (rel === undefined) return; // built into the kernel
    for (const d of moduleDepends(path.join(modulesDir, rel))) visit(d);
    order.push(rel);
  };
  for (const m of wanted) visit(m);
  return order;
}

/** Builds (and caches) the initramfs: busybox, /init, and the modules. */
export function ensureInitramfs(kernel: Kernel, modules: string[]): string {
  const mods = resolveModules(kernel.modulesDir, [...BASE_MODULES, ...modules]);
  const init = fs.readFileSync(path.join(import.meta.dir, "init.sh"));
  const key = Bun.hash(JSON.stringify([kernel.release, mods, init.toString(), fs.statSync(BUSYBOX).size])).toString(16);
  const out = `${CACHE_DIR}/initramfs-${key}.cpio`;
  if (fs.existsSync(out)) return out;
  const entries: CpioEntry[] = [
    { name: "bin", mode: 0o040755 },
    { name: "modules", mode: 0o040755 },
    { name: "bin/busybox", mode: 0o100755, data: fs.readFileSync(BUSYBOX) },
    { name: "bin/sh", mode: 0o120777, data: "busybox" },
    { name: "init", mode: 0o100755, data: init },
    { name: "modules.list", mode: 0o100644, data: mods.map((m) => path.basename(m)).join("\n") + "\n" },
  ];
  for (const m of mods) entries.push({ name: `modules/${path.basename(m)}`, mode: 0o100644, data: fs.readFileSync(path.join(kernel.modulesDir, m)) });
  fs.writeFileSync(`${out}.tmp-${process.pid}`, cpioArchive(entries));
  fs.renameSync(`${out}.tmp-${process.pid}`, out);
  return out;
}

function qemuArgs(kernel: Kernel, initrd: string, accel: "kvm" | "tcg", opts: { memMiB: number; cpus: number; append: string; exchange?: string }): string[] {
  const args = [
    QEMU, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
    "-machine", "pc", "-m", String(opts.memMiB), "-smp", String(opts.cpus),
    ...(accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"]),
    "-kernel", kernel.image, "-initrd", initrd, "-append", opts.append,
    "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
    "-nic", "none",
    "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
  ];
  if (opts.exchange) args.push("-virtfs", `local,path=${opts.exchange},mount_tag=labio,security_model=none,multidevs=remap`);
  return args;
}

async function runQemu(argv: string[], timeoutSec: number, onOutput?: (t: string) => void, until?: string): Promise<{ output: string; timedOut: boolean }> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let output = "";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill(9);
  }, timeoutSec * 1000);
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) {
      const t = dec.decode(chunk, { stream: true }).replace(/\r/g, "");
      output += t;
      onOutput?.(t);
      if (until !== undefined && output.includes(until)) proc.kill(9);
    }
  };
  await Promise.all([pump(proc.stdout), pump(proc.stderr), proc.exited]);
  clearTimeout(timer);
  return { output, timedOut };
}

/** KVM when /dev/kvm boots this kernel (probed once per host and cached), else TCG. */
async function chooseAccel(kernel: Kernel, initrd: string, wanted: "auto" | "kvm" | "tcg"): Promise<"kvm" | "tcg"> {
  const env = process.env.ISOLA_LAB_ACCEL;
  if (env === "kvm" || env === "tcg") return env;
  if (wanted !== "auto") return wanted;
  if (!fs.existsSync("/dev/kvm")) return "tcg";
  const cacheFile = `${CACHE_DIR}/accel-${os.hostname()}-${os.release()}-${kernel.release}`;
  const cached = fs.existsSync(cacheFile) ? fs.readFileSync(cacheFile, "utf8").trim() : "";
  if (cached === "kvm" || cached === "tcg") return cached;
  const probe = await runQemu(qemuArgs(kernel, initrd, "kvm", { memMiB: 256, cpus: 1, append: "console=ttyS0 quiet panic=-1 isola.probe" }), 30, undefined, "isola-lab: booted");
  const accel = probe.output.includes("isola-lab: booted") ? "kvm" : "tcg";
  fs.writeFileSync(cacheFile, `${accel}\n`);
  return accel;
}

/** Runs `opts.command` in a fresh guest and returns its exit status and console output. */
export async function runInLab(opts: LabOptions): Promise<LabResult> {
  const t0 = performance.now();
  const kernel = ensureKernel();
  const initrd = ensureInitramfs(kernel, opts.modules ?? []);
  fs.writeFileSync(`${CACHE_DIR}/ready`, "");
  const accel = await chooseAccel(kernel, initrd, opts.accel ?? "auto");
  const exchange = fs.mkdtempSync(path.join(os.tmpdir(), "isola-lab-"));
  try {
    fs.copyFileSync(path.join(import.meta.dir, "stage2.sh"), `${exchange}/stage2.sh`);
    fs.writeFileSync(`${exchange}/cmd`, `${opts.command}\n`);
    fs.writeFileSync(`${exchange}/cwd`, opts.cwd ?? process.cwd());
    const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
    fs.writeFileSync(`${exchange}/env`, Object.entries(opts.env ?? {}).map(([k, v]) => `export ${k}=${q(v)}\n`).join(""));
    const v1 = opts.cgroups === "v1";
    fs.writeFileSync(`${exchange}/cgroups`, v1 ? "v1" : "v2");
    const append = ["console=ttyS0", "quiet", "panic=-1", ...(v1 ? [] : ["cgroup_no_v1=all"]), ...(opts.kernelArgs ?? [])].join(" ");
    const { output } = await runQemu(
      qemuArgs(kernel, initrd, accel, { memMiB: opts.memMiB ?? 1536, cpus: opts.cpus ?? Math.min(2, os.cpus().length), append, exchange }),
      opts.timeoutSec ?? 900,
      opts.onOutput,
    );
    const statusText = fs.existsSync(`${exchange}/status`) ? fs.readFileSync(`${exchange}/status`, "utf8").trim() : "";
    return { status: statusText === "" ? undefined : Number(statusText), output, accel, seconds: (performance.now() - t0) / 1000 };
  } finally {
    fs.rmSync(exchange, { recursive: true, force: true });
  }
}
