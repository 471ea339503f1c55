/**
 * Flow probes for policy tests, run inside container namespaces (`ip netns exec`):
 * `probe.ts serve` answers on every port of PROBE_PORTS (and prints "ready" once all
 * listen); `probe.ts probe ADDR...` tries each address on every port at once and prints
 * {addr: {"tcp/80": true, ...}} as JSON. A probe that gets no answer within the timeout
 * counts as denied (policies drop, never reject).
 */

/**
 * Ports inside the ranges the flow tests allow (TCP 80, UDP 53) and just outside them
 * (TCP 91 past 70-90, UDP 61 past 50-60): a rule that lost its port match, or a range
 * one port too wide, lets the outside ones through.
 */
export const PROBE_PORTS = [
  { protocol: "tcp", port: 80 },
  { protocol: "tcp", port: 91 },
  { protocol: "udp", port: 53 },
  { protocol: "udp", port: 61 },
] as const;

/** "tcp/80" → reachable */
export type ProbeResult = Record<string, boolean>;

export const probeKey = (p: { protocol: string; port: number }) => `${p.protocol}/${p.port}`;

const TIMEOUT_MS = Number(process.env.PROBE_TIMEOUT_MS ?? 1500);

async function serve(): Promise<void> {
  for (const { protocol, port } of PROBE_PORTS) {
    if (protocol === "tcp")
      Bun.listen({
        hostname: "0.0.0.0",
        port,
        socket: {
          open(s) {
            s.write("ok\n");
            s.end();
          },
          data() {},
        },
      });
    else
      await Bun.udpSocket({
        port,
        socket: {
          data(sock, buf, from, addr) {
            sock.send(buf, from, addr);
          },
        },
      });
  }
  process.stdout.write("ready\n");
}

function tcp(addr: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(ok);
      }
    };
    const timer = setTimeout(() => finish(false), TIMEOUT_MS);
    Bun.connect({
      hostname: addr,
      port,
      socket: {
        data(s, d) {
          finish(new TextDecoder().decode(d).startsWith("ok"));
          s.end();
        },
        error: () => finish(false),
        connectError: () => finish(false),
        close: () => finish(false),
      },
    }).catch(() => finish(false));
  });
}

async function udp(addr: string, port: number): Promise<boolean> {
  let got = false;
  const sock = await Bun.udpSocket({
    socket: {
      data() {
        got = true;
      },
    },
  });
  const start = Date.now();
  // resend: the first datagram may be lost while the neighbour entry resolves
  while (!got && Date.now() - start < TIMEOUT_MS) {
    sock.send("ping", port, addr);
    await Bun.sleep(100);
  }
  sock.close();
  return got;
}

if (import.meta.main) {
  const [mode, ...addrs] = process.argv.slice(2);
  if (mode === "serve") await serve();
  else {
    const one = async (a: string): Promise<ProbeResult> =>
      Object.fromEntries(await Promise.all(PROBE_PORTS.map(async (p) => [probeKey(p), p.protocol === "tcp" ? await tcp(a, p.port) : await udp(a, p.port)] as const)));
    const results = await Promise.all(addrs.map(async (a) => [a, await one(a)] as const));
    process.stdout.write(JSON.stringify(Object.fromEntries(results)) + "\n");
    process.exit(0);
  }
}
