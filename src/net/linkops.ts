/**
 * Kernel link/address/route changes as data. The same ops are rendered as iproute2 batch
 * lines (fallback, and readable goldens) or encoded as rtnetlink messages. Pure.
 */
export type LinkOp =
  | { op: "bridge-add"; name: string; mac: string; mtu?: number }
  | { op: "veth-add"; name: string; mac: string; mtu?: number; master: string; peer: string; peerMac: string; peerNetns: string }
  | { op: "hairpin"; dev: string }
  | { op: "link-up"; dev: string }
  | { op: "link-down"; dev: string }
  | { op: "link-rename"; dev: string; name: string }
  | { op: "link-del"; dev: string }
  | { op: "addr-add"; dev: string; cidr: string; replace?: boolean }
  | { op: "route-add"; dev: string; dst: string; gw: string };

const mtuPart = (mtu: number | undefined) => (mtu ? ` mtu ${mtu}` : "");

/**
 * Refuses an op whose arguments could change the meaning of an `ip -batch` line: iproute2
 * splits on whitespace (a newline starts a new command), reads quotes, backslashes and
 * a leading "#", and an empty argument shifts the others. Callers validate names first;
 * this is the last line of defence, on the netlink path too.
 */
export function checkLinkOp(o: LinkOp): void {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== "string") continue;
    if (v === "" || /[\s"'\\#\u0085]/.test(v))
      throw new Error(`${o.op}: ${k} ${JSON.stringify(v)} is not a safe argument (expected no whitespace, quotes, "\\" or "#", and not empty)`);
  }
}

/** iproute2 batch lines (`ip -batch -`), one per op. */
export function renderIp(ops: readonly LinkOp[]): string[] {
  return ops.map((o) => {
    checkLinkOp(o);
    switch (o.op) {
      case "bridge-add":
        return `link add ${o.name} address ${o.mac}${mtuPart(o.mtu)} type bridge`;
      case "veth-add":
        return `link add ${o.name} address ${o.mac}${mtuPart(o.mtu)} master ${o.master} up type veth peer name ${o.peer} address ${o.peerMac}${mtuPart(o.mtu)} netns ${o.peerNetns}`;
      case "hairpin":
        return `link set ${o.dev} type bridge_slave hairpin on`;
      case "link-up":
        return `link set ${o.dev} up`;
      case "link-down":
        return `link set ${o.dev} down`;
      case "link-rename":
        return `link set ${o.dev} name ${o.name}`;
      case "link-del":
        return `link del ${o.dev}`;
      case "addr-add":
        return `address ${o.replace ? "replace" : "add"} ${o.cidr} dev ${o.dev}${o.cidr.includes(":") ? " nodad" : ""}`;
      case "route-add":
        return `route add ${o.dst} via ${o.gw} dev ${o.dev}`;
    }
  });
}
