/**
 * Kernel changes from isola's plugins, behind one small interface: batched `ip -batch -`
 * runs, one `nft -f -` transaction, sysctls and interface listing of the current network
 * namespace. The real implementation spawns at most one process per batch.
 */
import { readFile, writeFile } from "node:fs/promises";
import { renderIp, type LinkOp } from "./linkops.ts";
import { encodeElemBatch, renderElemOps, withoutExpire, type ElemOp } from "./netlink/nft_encode.ts";

export interface NetHost {
  /** Applies link/address/route changes in order, in `netns` (a path) or the current namespace. */
  apply(ops: readonly LinkOp[], opts?: { netns?: string; force?: boolean }): Promise<void>;
  /** Runs iproute2 commands as one batch, in `netns` (a path) or the current namespace. */
  ip(lines: readonly string[], opts?: { netns?: string; force?: boolean }): Promise<void>;
  /** `ip -j <args>`, parsed. */
  ipJson(args: readonly string[], opts?: { netns?: string }): Promise<unknown>;
  /**
   * Deletes a link without waiting for the kernel's unregister (RCU grace periods, tens
   * of ms); settle() waits for every such deletion.
   */
  deleteLinkLater(dev: string): void;
  settle(): Promise<void>;
  /** Set-element changes as one atomic transaction (errors carry `line`: the op's 1-based index). */
  nftElements(ops: readonly ElemOp[]): Promise<void>;
  /** One atomic nftables transaction. */
  nft(script: string): Promise<void>;
  /** `nft list ...` output (`nft -j list ...` with json). */
  nftList(args: readonly string[], opts?: { json?: boolean }): Promise<string>;
  /** Interface names in the current network namespace. */
  links(): Promise<Set<string>>;
  readSysctl(key: string): Promise<string | undefined>;
  writeSysctl(key: string, value: string): Promise<void>;
}

/** A failed kernel batch: names the command and its stderr, with the failing line number when known. */
export class HostCommandError extends Error {
  constructor(
    readonly tool: string,
    readonly stderr: string,
    readonly line: number | undefined,
  ) {
    super(`${tool}: ${stderr.trim().split("\n").slice(0, 3).join("; ")}`);
    this.name = "HostCommandError";
  }
}

async function run(argv: string[], stdin: string | undefined): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(argv, {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

function inNetns(netns: string | undefined, argv: string[]): string[] {
  return netns ? ["nsenter", `--net=${netns}`, "--", ...argv] : argv;
}

/**
 * Link changes through rtnetlink in this process (bun:ffi) when libc loads, else through
 * one `ip -batch -` run. ISOLA_NET_NETLINK=0 forces `ip`.
 */
export class SystemNetHost implements NetHost {
  private netlink: typeof import("./netlink/socket.ts") | null | undefined;

  private async nl(): Promise<typeof import("./netlink/socket.ts") | null> {
    if (this.netlink === undefined) {
      if (process.env.ISOLA_NET_NETLINK === "0") this.netlink = null;
      else {
        const m = await import("./netlink/socket.ts");
        this.netlink = m.loadLibc() ? m : null;
      }
    }
    return this.netlink;
  }

  async apply(ops: readonly LinkOp[], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return;
    const nl = await this.nl();
    if (!nl) return this.ip(renderIp(ops), opts);
    const sock = nl.RouteSocket.open(nl.loadLibc()!, opts.netns);
    try {
      sock.apply(ops, opts.force);
    } catch (e) {
      const line = (e as { line?: number }).line;
      throw new HostCommandError(opts.netns ? `netlink (in ${opts.netns})` : "netlink", (e as Error).message, line);
    } finally {
      sock.close();
    }
  }

  async ip(lines: readonly string[], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
    if (lines.length === 0) return;
    const argv = inNetns(opts.netns, ["ip", ...(opts.force ? ["-force"] : []), "-batch", "-"]);
    const r = await run(argv, lines.join("\n") + "\n");
    if (r.code !== 0) {
      const m = /Command failed -:(\d+)/.exec(r.err);
      throw new HostCommandError(opts.netns ? `ip (in ${opts.netns})` : "ip", r.err || r.out, m ? Number(m[1]) : undefined);
    }
  }

  async ipJson(args: readonly string[], opts: { netns?: string } = {}): Promise<unknown> {
    const r = await run(inNetns(opts.netns, ["ip", "-j", ...args]), undefined);
    if (r.code !== 0) throw new HostCommandError("ip", r.err, undefined);
    return JSON.parse(r.out || "[]");
  }

  private readonly pending = new Set<Promise<unknown>>();

  /**
   * A plugin executable sets this: the deletion is left to an `ip` process of its own that
   * outlives the plugin (stdio not inherited, so the caller isn't kept waiting on our output),
   * instead of waiting the kernel's unregister out (≈20 ms) before exiting. GC removes a
   * renamed pair whose deletion never happened.
   */
  detachDeletes = false;

  deleteLinkLater(dev: string): void {
    if (this.detachDeletes) {
      Bun.spawn(["ip", "link", "del", dev], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).unref();
      return;
    }
    const p = run(["ip", "link", "del", dev], undefined).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  async settle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private updatesTimeouts: boolean | undefined;

  /** Linux ≥ 6.10 updates the timeout of an existing set element. */
  private async timeoutUpdates(): Promise<boolean> {
    if (this.updatesTimeouts === undefined) {
      const m = /^(\d+)\.(\d+)/.exec((await this.readSysctl("kernel.osrelease")) ?? "");
      this.updatesTimeouts = !!m && (Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 10));
    }
    return this.updatesTimeouts;
  }

  async nftElements(ops: readonly ElemOp[]): Promise<void> {
    if (ops.length === 0) return;
    const nl = await this.nl();
    if (!nl) return this.nft(renderElemOps(ops).join("\n") + "\n");
    if (!(await this.timeoutUpdates())) ops = withoutExpire(ops);
    const sock = nl.RouteSocket.open(nl.loadLibc()!, undefined, nl.NETLINK_NETFILTER);
    try {
      const { bytes, seqs } = encodeElemBatch(ops, sock.nextSeq(ops.length + 2));
      sock.batch(bytes, seqs, (i) => renderElemOps([ops[i]!])[0]!);
    } catch (e) {
      throw new HostCommandError("nft (netlink)", (e as Error).message, (e as { line?: number }).line);
    } finally {
      sock.close();
    }
  }

  async nft(script: string): Promise<void> {
    const r = await run(["nft", "-f", "-"], script);
    if (r.code !== 0) {
      const m = /\/dev\/stdin:(\d+):/.exec(r.err);
      throw new HostCommandError("nft", r.err, m ? Number(m[1]) : undefined);
    }
  }

  async nftList(args: readonly string[], opts: { json?: boolean } = {}): Promise<string> {
    const r = await run(["nft", ...(opts.json ? ["-j"] : []), "list", ...args], undefined);
    if (r.code !== 0) throw new HostCommandError("nft", r.err, undefined);
    return r.out;
  }

  async links(): Promise<Set<string>> {
    const text = await readFile("/proc/self/net/dev", "utf8");
    const out = new Set<string>();
    for (const line of text.split("\n").slice(2)) {
      const c = line.indexOf(":");
      if (c > 0) out.add(line.slice(0, c).trim());
    }
    return out;
  }

  async readSysctl(key: string): Promise<string | undefined> {
    try {
      return (await readFile(`/proc/sys/${key.replaceAll(".", "/")}`, "utf8")).trim();
    } catch {
      return undefined;
    }
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    await writeFile(`/proc/sys/${key.replaceAll(".", "/")}`, value);
  }
}

let shared: NetHost | undefined;
/** The process-wide host (replaceable in tests). */
export function netHost(): NetHost {
  return (shared ??= new SystemNetHost());
}
export function setNetHost(h: NetHost | undefined): void {
  shared = h;
}
