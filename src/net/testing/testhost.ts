/**
 * Test hosts: network namespaces that play a host (own bridges, NAT, sysctls, nft) with
 * containers (more namespaces) attached inside them. Everything a test host made is
 * removed by destroy(), which tests call in finally/afterAll.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { AttachOptions, RuntimeOptions } from "../runtime.ts";
import type { AgentRequest } from "./agent.ts";

const ROOT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
const BUN = `${ROOT}/node_modules/.bin/bun`;

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

export async function run(argv: string[], stdin?: string): Promise<RunResult> {
  const p = Bun.spawn(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

async function must(argv: string[]): Promise<string> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}: ${r.err}`);
  return r.out;
}

export class AgentError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export class TestHost {
  readonly name: string;
  readonly path: string;
  readonly tmp: string;
  readonly cacheDir: string;
  readonly ipamDir: string;
  private readonly netnses: string[] = [];
  private readonly pids: number[] = [];
  private agent: ReturnType<typeof Bun.spawn> | undefined;
  /** The machine's own network namespace as it was before the test (see hostSnapshot). */
  private hostBefore = "";
  private nextId = 1;
  private readonly waiting = new Map<number, (r: { ok: boolean; result?: unknown; error?: { code: number; message: string } }) => void>();

  /** extra environment for the agent (e.g. ISOLA_NET_NETLINK=0) */
  env: Record<string, string> = {};

  private constructor(name: string, tmp: string) {
    this.name = name;
    this.path = `/run/netns/${name}`;
    this.tmp = tmp;
    this.cacheDir = `${tmp}/cache`;
    this.ipamDir = `${tmp}/ipam`;
  }

  static async create(): Promise<TestHost> {
    const name = `isola-test-${Math.random().toString(36).slice(2, 8)}`;
    const tmp = await mkdtemp(`${tmpdir()}/isola-net-test-`);
    const h = new TestHost(name, tmp);
    h.hostBefore = await hostSnapshot();
    await must(["ip", "netns", "add", name]);
    h.netnses.push(name);
    await must(["ip", "-n", name, "link", "set", "lo", "up"]);
    return h;
  }

  /** A container network namespace; returns its path. */
  async container(): Promise<string> {
    const name = `${this.name}-c${this.netnses.length}`;
    this.netnses.push(name);
    await must(["ip", "netns", "add", name]);
    await must(["ip", "-n", name, "link", "set", "lo", "up"]);
    return `/run/netns/${name}`;
  }

  async removeContainerNetns(path: string): Promise<void> {
    const name = path.split("/").pop()!;
    await must(["ip", "netns", "del", name]);
  }

  async recreateContainerNetns(path: string): Promise<void> {
    const name = path.split("/").pop()!;
    await must(["ip", "netns", "add", name]);
    await must(["ip", "-n", name, "link", "set", "lo", "up"]);
  }

  /** Runs a command in the test host (netns undefined) or in a container namespace path. */
  exec(argv: string[], netns?: string): Promise<RunResult> {
    const name = (netns ?? this.path).split("/").pop()!;
    return run(["ip", "netns", "exec", name, ...argv]);
  }

  /** Starts a long-running process in a namespace; it is killed by PID in destroy(). */
  background(argv: string[], netns: string): number {
    return this.spawnIn(argv, netns, "ignore").pid;
  }

  private spawnIn<Out extends "ignore" | "pipe">(argv: string[], netns: string, stdout: Out) {
    const name = netns.split("/").pop()!;
    const p = Bun.spawn(["ip", "netns", "exec", name, ...argv], { stdin: "ignore", stdout, stderr: stdout === "pipe" ? "inherit" : "ignore" });
    this.pids.push(p.pid);
    return p;
  }

  /**
   * Starts a long-running server like background() and resolves once it has printed `marker`
   * on stdout, so a test never races the server's start. Rejects if it exits or stays silent.
   */
  async backgroundReady(argv: string[], netns: string, marker = "ready", timeoutMs = 30_000): Promise<number> {
    const p = this.spawnIn(argv, netns, "pipe");
    const reader = p.stdout.getReader();
    let seen = "";
    const timer = setTimeout(() => void reader.cancel(), timeoutMs);
    try {
      while (!seen.includes(marker)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${argv.join(" ")}: ended before printing ${JSON.stringify(marker)} (within ${timeoutMs} ms)`);
        seen += new TextDecoder().decode(value);
      }
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
    return p.pid;
  }

  runtimeOptions(extra: Partial<RuntimeOptions> = {}): RuntimeOptions {
    return { pluginDirs: [`${ROOT}/bin/cni`, "/usr/lib/cni"], cacheDir: this.cacheDir, timeoutMs: 30_000, ...extra };
  }

  private startAgent(): ReturnType<typeof Bun.spawn> {
    if (this.agent) return this.agent;
    const p = Bun.spawn(["ip", "netns", "exec", this.name, BUN, `${ROOT}/src/net/testing/agent.ts`], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env: { ...process.env, ...this.env } });
    this.agent = p;
    void (async () => {
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of p.stdout as ReadableStream<Uint8Array>) {
        buf += dec.decode(chunk);
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl)) as { id: number; ok: boolean; result?: unknown; error?: { code: number; message: string } };
          buf = buf.slice(nl + 1);
          this.waiting.get(msg.id)?.(msg);
          this.waiting.delete(msg.id);
        }
      }
    })();
    return p;
  }

  /** Runs one CNI runtime operation inside the test host. */
  async cni(op: AgentRequest["op"], conf: string, att?: AttachOptions, opts: { runtime?: Partial<RuntimeOptions>; valid?: { containerId: string; ifName: string }[] } = {}): Promise<unknown> {
    const p = this.startAgent();
    const id = this.nextId++;
    const req: AgentRequest = { id, op, conf, runtime: this.runtimeOptions(opts.runtime) };
    if (att) req.att = att;
    if (opts.valid) req.valid = opts.valid;
    const reply = new Promise<{ ok: boolean; result?: unknown; error?: { code: number; message: string } }>((res) => this.waiting.set(id, res));
    const sink = p.stdin as import("bun").FileSink;
    sink.write(JSON.stringify(req) + "\n");
    await sink.flush();
    const r = await reply;
    if (!r.ok) throw new AgentError(r.error!.message, r.error!.code);
    return r.result;
  }

  /** Interface names in the test host. */
  async links(netns?: string): Promise<string[]> {
    const out = await this.exec(["ip", "-j", "link", "show"], netns);
    return (JSON.parse(out.out || "[]") as { ifname: string }[]).map((l) => l.ifname);
  }

  async destroy(): Promise<void> {
    if (this.agent) {
      this.agent.kill("SIGKILL");
      await this.agent.exited;
    }
    // processes this test started inside its namespaces (by PID, e.g. servers)
    const inside = await Promise.all(this.netnses.map((n) => run(["ip", "netns", "pids", n])));
    const pids = new Set([...this.pids, ...inside.flatMap((r) => r.out.split(/\s+/).filter(Boolean).map(Number))]);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await Promise.all(this.netnses.map((n) => run(["ip", "netns", "del", n])));
    await rm(this.tmp, { recursive: true, force: true });
    // the tests' promise: nothing in the machine's own network namespace changed
    const after = await hostSnapshot();
    if (after !== this.hostBefore) throw new Error(`the machine's own network namespace changed during the test:\n--- before\n${this.hostBefore}\n--- after\n${after}`);
  }
}

/**
 * What the network tests must never change in the machine's own network namespace (read
 * only): its interfaces, addresses, routes, forwarding and nftables ruleset.
 */
export async function hostSnapshot(): Promise<string> {
  const parts = await Promise.all([
    run(["ip", "-o", "link", "show"]),
    run(["ip", "-o", "addr", "show"]),
    run(["ip", "route", "show", "table", "all"]),
    run(["ip", "-6", "route", "show", "table", "all"]),
    run(["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"]),
    run(["nft", "list", "ruleset"]),
  ]);
  // link lines carry counters of nothing we check; keep names, flags, mtu, state
  const links = parts[0]!.out.split("\n").map((l) => l.replace(/\s+link\/.*$/, "")).join("\n");
  // address lifetimes count down
  const addrs = parts[1]!.out.replace(/\s+valid_lft \S+ preferred_lft \S+/g, "");
  return [links, addrs, ...parts.slice(2).map((p) => p.out)].join("\n==\n");
}

/** A conflist for isola's own bridge network inside a test host. */
export function isolaConflist(h: TestHost, opts: { name?: string; bridge?: string; subnets?: string[]; ipMasq?: boolean; portmap?: boolean; cniVersion?: string } = {}): string {
  const subnets = opts.subnets ?? ["10.77.0.0/24"];
  const plugins: Record<string, unknown>[] = [
    {
      type: "isola-bridge",
      bridge: opts.bridge ?? "isolatest0",
      ipMasq: opts.ipMasq ?? false,
      capabilities: { ips: true, mac: true },
      ipam: { type: "isola-ipam", dataDir: h.ipamDir, ranges: subnets.map((s) => [{ subnet: s }]) },
    },
  ];
  if (opts.portmap !== false) plugins.push({ type: "isola-portmap", capabilities: { portMappings: true } });
  return JSON.stringify({ cniVersion: opts.cniVersion ?? "1.1.0", name: opts.name ?? "testnet", plugins });
}
