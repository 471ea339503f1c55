// Pure modules import no node:* or Bun APIs (they are planned and golden-tested without a host).
import { expect, test } from "bun:test";
import { readFile } from "node:fs/promises";

const PURE = ["ip.ts", "network_plan.ts", "conflist.ts", "errors.ts", "version.ts", "types.ts", "plugin.ts", "attachment.ts", "linkops.ts", "netlink/encode.ts", "netlink/nft_encode.ts", "plugins/bridge_plan.ts", "plugins/nat_ruleset.ts", "plugins/filter_ruleset.ts", "plugins/ipam_ranges.ts"];

test("pure modules stay pure", async () => {
  for (const f of PURE) {
    const text = await readFile(new URL(f, import.meta.url), "utf8");
    expect({ f, node: /from "node:|require\(|\bBun\./.test(text) }).toEqual({ f, node: false });
  }
});
