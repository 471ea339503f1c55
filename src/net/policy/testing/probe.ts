/**
 * Flow probes for policy tests, run inside container namespaces (`ip netns exec`):
 * `probe.ts serve` answers on TCP port 80 and UDP port 53 (and prints "ready" once both
 * listen); `probe.ts probe ADDR...` tries
 * each address over TCP and UDP at once and prints {addr: {tcp, udp}} as JSON. A probe
 * that gets no answer within the timeout counts as denied (policies drop, never reject).
 */
const TCP_PORT = 80;
const UDP_PORT = 53;
const TIMEOUT_MS = Number(process.env.PROBE_TIMEOUT_MS ?? 1500);

async function serve(): Promise<void> {
  Bun.listen({
    hostname: "0.0.0.0",
    port: TCP_PORT,
    socket: {
      open(s) {
        s.write("ok\n");
        s.end();
      },
      data() {},
    },
  });
  await Bun.udpSocket({
    port: UDP_PORT,
    socket: {
      data(sock, buf, port, addr) {
        sock.send(buf, port, addr);
      },
    },
  });
  process.stdout.write("ready\n");
}

function tcp(addr: string): Promise<boolean> {
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
      port: TCP_PORT,
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

async function udp(addr: string): Promise<boolean> {
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
    sock.send("ping", UDP_PORT, addr);
    await Bun.sleep(100);
  }
  sock.close();
  return got;
}

if (import.meta.main) {
  const [mode, ...addrs] = process.argv.slice(2);
  if (mode === "serve") await serve();
  else {
    const results = await Promise.all(addrs.map(async (a) => [a, await Promise.all([tcp(a), udp(a)]).then(([t, u]) => ({ tcp: t, udp: u }))] as const));
    process.stdout.write(JSON.stringify(Object.fromEntries(results)) + "\n");
    process.exit(0);
  }
}
