/**
 * Traffic for the policy bench, run inside container namespaces: `flow.ts serve` echoes TCP
 * on port 7000; `flow.ts latency ADDR N` times N one-byte round trips on one connection (after
 * N/10 untimed warm-up round trips); `flow.ts connect ADDR N` times N new connections, each one
 * connect + one-byte round trip + close (every SYN goes through the policy's set lookups, unlike
 * the packets of an established connection); `flow.ts throughput ADDR MIB` sends MIB mebibytes
 * to a sink (port 7001) and waits for its answer. Prints JSON.
 */
const PORT = 7000;
const SINK_PORT = 7001;
// a bench never hangs: give up after a minute
setTimeout(() => {
  process.stderr.write("flow: timed out\n");
  process.exit(1);
}, 60_000).unref();

function connect(addr: string, port: number, onData: (n: number) => void, onDrain: () => void = () => {}): Promise<import("bun").Socket> {
  return Bun.connect({ hostname: addr, port, socket: { data: (_s, d) => onData(d.length), drain: () => onDrain() } });
}

const [mode, addr, nText] = process.argv.slice(2);
if (mode === "serve") {
  // echo one byte at a time (latency); the sink counts bytes and answers once it has them all
  Bun.listen({ hostname: "0.0.0.0", port: PORT, socket: { data: (s, d) => void s.write(d) } });
  Bun.listen<{ want: number; got: number }>({
    hostname: "0.0.0.0",
    port: SINK_PORT,
    socket: {
      open(s) {
        s.data = { want: -1, got: 0 };
      },
      data(s, d) {
        let body = d;
        if (s.data.want < 0) {
          const nl = d.indexOf(10);
          s.data.want = Number(new TextDecoder().decode(d.subarray(0, nl)));
          body = d.subarray(nl + 1);
        }
        s.data.got += body.length;
        if (s.data.got >= s.data.want) s.write("done");
      },
    },
  });
  process.stdout.write("ready\n");
} else if (mode === "latency") {
  const n = Number(nText);
  let wake: () => void = () => {};
  const s = await connect(addr!, PORT, () => wake());
  const times: number[] = [];
  const warm = Math.ceil(n / 10);
  for (let i = 0; i < warm + n; i++) {
    const t0 = Bun.nanoseconds();
    const got = new Promise<void>((r) => (wake = r));
    s.write("x");
    await got;
    if (i >= warm) times.push((Bun.nanoseconds() - t0) / 1000);
  }
  s.end();
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ p50_us: times[n >> 1], p99_us: times[Math.floor(n * 0.99)] }) + "\n");
  process.exit(0);
} else if (mode === "connect") {
  const n = Number(nText);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    let wake: () => void = () => {};
    const got = new Promise<void>((r) => (wake = r));
    const t0 = Bun.nanoseconds();
    const s = await connect(addr!, PORT, () => wake());
    s.write("x");
    await got;
    times.push((Bun.nanoseconds() - t0) / 1000);
    s.end();
  }
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ p50_us: times[n >> 1], p99_us: times[Math.floor(n * 0.99)] }) + "\n");
  process.exit(0);
} else if (mode === "throughput") {
  const total = Number(nText) * 1024 * 1024;
  let done: () => void = () => {};
  let drained: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const s = await connect(addr!, SINK_PORT, () => done(), () => drained());
  const chunk = new Uint8Array(256 * 1024);
  const t0 = Bun.nanoseconds();
  s.write(`${total}\n`);
  let sent = 0;
  while (sent < total) {
    const w = s.write(chunk.subarray(0, Math.min(chunk.length, total - sent)));
    sent += Math.max(w, 0);
    if (sent < total && w < chunk.length) await new Promise<void>((r) => (drained = r));
  }
  await finished;
  const secs = (Bun.nanoseconds() - t0) / 1e9;
  s.end();
  process.stdout.write(JSON.stringify({ mib_per_s: Number(nText) / secs }) + "\n");
  process.exit(0);
}

export {};
