/**
 * ADD and DEL time of isola's default network (in-process, and as plugin executables)
 * against the reference chain bridge + host-local + portmap from /usr/lib/cni, in the same
 * run, inside a test host (a network namespace: nothing changes in the machine's own).
 * Also 100 attachments in parallel. Prints medians and ratios.
 *
 *   node_modules/.bin/bun bench/network/bench.ts [--rounds N] [--parallel N]
 */
import * as fs from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { parseConfList } from "../../src/net/conflist.ts";
import { CniRuntime } from "../../src/net/runtime.ts";
import type { NetConfList } from "../../src/net/types.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = `${ROOT}node_modules/.bin/bun`;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function sh(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`${argv.join(" ")}: ${await new Response(p.stderr).text()}`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Case {
  name: string;
  list: NetConfList;
  rt: CniRuntime;
}

async function inside(tag: string): Promise<void> {
  const rounds = arg("rounds", 20);
  const parallel = arg("parallel", 100);
  const tmp = await mkdtemp(`${tmpdir()}/isola-net-bench-`);
  const nss: string[] = [];
  const netns = async (n: number) => {
    for (let i = nss.length; i < n; i++) {
      const name = `${tag}-c${i}`;
      nss.push(name);
      await sh(["ip", "netns", "add", name]);
    }
  };
  try {
    await netns(Math.max(1, parallel));
    const isolaList = (name: string, subnet: string, bridge: string) =>
      parseConfList(JSON.stringify({ cniVersion: "1.0.0", name, plugins: [
        { type: "isola-bridge", bridge, capabilities: { ips: true, mac: true }, ipam: { type: "isola-ipam", dataDir: `${tmp}/ipam`, ranges: [[{ subnet }]] } },
        { type: "isola-portmap", capabilities: { portMappings: true } },
      ] }));
    const refList = parseConfList(JSON.stringify({ cniVersion: "1.0.0", name: "ref", plugins: [
      { type: "bridge", bridge: "benchref0", isGateway: true, ipam: { type: "host-local", dataDir: `${tmp}/hl`, ranges: [[{ subnet: "10.61.0.0/16" }]] } },
      { type: "portmap", capabilities: { portMappings: true } },
    ] }));
    const dirs = [`${ROOT}bin/cni`, "/usr/lib/cni"];
    const cases: Case[] = [
      { name: "isola (in-process)", list: isolaList("isola", "10.60.0.0/16", "benchisola0"), rt: new CniRuntime({ pluginDirs: dirs, cacheDir: `${tmp}/c1` }) },
      { name: "isola (executables)", list: isolaList("isolaexe", "10.62.0.0/16", "benchexe0"), rt: new CniRuntime({ pluginDirs: dirs, cacheDir: `${tmp}/c2`, inProcess: false }) },
      { name: "reference chain", list: refList, rt: new CniRuntime({ pluginDirs: dirs, cacheDir: `${tmp}/c3` }) },
    ];
    const caps = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: "tcp" }] };
    const rows: { name: string; add: number; del: number; settled: number; par?: number }[] = [];
    for (const c of cases) {
      const att = { containerId: "bench0", ifName: "eth0", netns: `/run/netns/${nss[0]}`, capabilityArgs: caps };
      // warm-up: bridge creation, module loads, page cache
      await c.rt.add(c.list, att);
      await c.rt.del(c.list, att);
      const adds: number[] = [];
      const dels: number[] = [];
      const settled: number[] = [];
      for (let i = 0; i < rounds; i++) {
        let t = performance.now();
        await c.rt.add(c.list, att);
        adds.push(performance.now() - t);
        t = performance.now();
        await c.rt.del(c.list, att);
        dels.push(performance.now() - t);
        await c.rt.settle();
        // the executables leave the deletion to a process of its own: wait for the pair to go
        // (ip netns exec gave this process the test host's /sys)
        while (fs.readdirSync("/sys/class/net").some((n) => n.startsWith("isz"))) Bun.sleepSync(0.5);
        settled.push(performance.now() - t);
      }
      rows.push({ name: c.name, add: median(adds), del: median(dels), settled: median(settled) });
    }
    if (parallel > 0) {
      for (const c of [cases[0]!, cases[2]!]) {
        const atts = nss.slice(0, parallel).map((n, i) => ({ containerId: `par${i}`, ifName: "eth0", netns: `/run/netns/${n}` }));
        const t = performance.now();
        await Promise.all(atts.map((a) => c.rt.add(c.list, a)));
        const addAll = performance.now() - t;
        const t2 = performance.now();
        await Promise.all(atts.map((a) => c.rt.del(c.list, a)));
        await c.rt.settle();
        const delAll = performance.now() - t2;
        rows.find((r) => r.name === c.name)!.par = addAll + delAll;
        console.log(`${parallel} parallel attachments, ${c.name}: ADD all ${addAll.toFixed(0)} ms, DEL all ${delAll.toFixed(0)} ms`);
      }
    }
    const ref = rows.find((r) => r.name === "reference chain")!;
    console.log(`\n${rounds} rounds, one port published, medians (ms); ratio = reference / this`);
    console.log("DEL returns once addresses and ports are released and the veth is down; DEL+kernel also waits for the kernel to unregister the veth pair");
    console.log(`${"".padEnd(22)}${"ADD".padStart(9)}${"DEL".padStart(9)}${"DEL+kernel".padStart(12)}${"ADD ratio".padStart(11)}${"DEL ratio".padStart(11)}${"DEL+k ratio".padStart(13)}`);
    for (const r of rows)
      console.log(
        `${r.name.padEnd(22)}${r.add.toFixed(2).padStart(9)}${r.del.toFixed(2).padStart(9)}${r.settled.toFixed(2).padStart(12)}${(ref.add / r.add).toFixed(1).padStart(10)}x${(ref.del / r.del).toFixed(1).padStart(10)}x${(ref.settled / r.settled).toFixed(1).padStart(12)}x`,
      );
  } finally {
    for (const n of nss) await sh(["ip", "netns", "del", n]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

async function outside(): Promise<void> {
  const b = Bun.spawn(["bash", `${ROOT}scripts/build-net.sh`], { stdout: "inherit", stderr: "inherit" });
  if ((await b.exited) !== 0) throw new Error("build-net.sh failed");
  const host = `isola-bench-${Math.random().toString(36).slice(2, 8)}`;
  await sh(["ip", "netns", "add", host]);
  try {
    await sh(["ip", "-n", host, "link", "set", "lo", "up"]);
    const p = Bun.spawn(["ip", "netns", "exec", host, BUN, import.meta.path, "--inside", host, ...process.argv.slice(2)], { stdout: "inherit", stderr: "inherit" });
    process.exitCode = await p.exited;
  } finally {
    await sh(["ip", "netns", "del", host]);
  }
}

const i = process.argv.indexOf("--inside");
if (i >= 0) await inside(process.argv[i + 1]!);
else await outside();
