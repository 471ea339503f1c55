// isola-ipam through the runtime's in-process invoker, on a temp data dir (no kernel changes,
// no root): an ADD that follows one that never finished reuses its reservation.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { PluginCall } from "../plugin.ts";
import { CniRuntime } from "../runtime.ts";
import type { Result } from "../types.ts";

let dir: string;
const rt = new CniRuntime({ pluginDirs: [], cacheDir: "/nonexistent" });

beforeAll(async () => {
  dir = await mkdtemp(`${tmpdir()}/isola-ipam-`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function call(command: PluginCall["command"], containerId: string, extra: Record<string, unknown> = {}, ranges = [[{ subnet: "10.9.0.0/24" }], [{ subnet: "fd09::/64" }]]): PluginCall {
  return {
    command,
    containerId,
    netns: "/proc/self/ns/net",
    ifName: "eth0",
    args: "",
    path: [],
    config: { type: "isola-ipam", name: "crash", cniVersion: "1.1.0", ipam: { type: "isola-ipam", dataDir: dir, ranges }, ...extra },
  };
}

const add = async (cid: string, extra?: Record<string, unknown>) => ((await rt.invoke("isola-ipam", call("ADD", cid, extra))) as Result).ips!.map((i) => i.address);
/** reservation files and who holds them */
async function reservations(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of await readdir(`${dir}/crash`)) if (!n.startsWith("last_reserved") && !n.startsWith(".")) out[n] = (await readFile(`${dir}/crash/${n}`, "utf8")).replace("\r\n", "/");
  return out;
}
const markers = async () => (await readdir(`${dir}/crash`)).filter((n) => n.startsWith(".attachment-"));

test("an ADD after one that never got its DEL (a crash before the cache was written) gets the same addresses, not second ones", async () => {
  const first = await add("crashy");
  expect(first).toEqual(["10.9.0.2/24", "fd09::2/64"]);
  // the crash: no DEL, no cached result; the runtime runs ADD again
  expect(await add("crashy")).toEqual(first);
  expect(await reservations()).toEqual({ "10.9.0.2": "crashy/eth0", "fd09::2": "crashy/eth0" });
  // others still get their own
  expect(await add("other")).toEqual(["10.9.0.3/24", "fd09::3/64"]);
  expect(await markers()).toHaveLength(2);
  // DEL releases the addresses and the marker; the next ADD of the same attachment allocates afresh
  await rt.invoke("isola-ipam", call("DEL", "crashy"));
  expect(await reservations()).toEqual({ "10.9.0.3": "other/eth0", "fd09::3": "other/eth0" });
  expect(await markers()).toHaveLength(1);
  expect(await add("crashy")).toEqual(["10.9.0.4/24", "fd09::4/64"]);
});

test("an unfinished ADD's address that the new ADD does not want is released", async () => {
  // "crashy" holds 10.9.0.4 (previous test, no DEL); now it asks for 10.9.0.77
  expect(await add("crashy", { runtimeConfig: { ips: ["10.9.0.77"] } })).toEqual(["10.9.0.77/24", "fd09::4/64"]);
  const held = Object.entries(await reservations()).filter(([, w]) => w === "crashy/eth0").map(([a]) => a);
  expect(held.sort()).toEqual(["10.9.0.77", "fd09::4"]);
});

test("a failed ADD leaves nothing of the attachment, also what an unfinished one held", async () => {
  // "crashy" holds 10.9.0.77 and fd09::4; an address in use by "other" is refused
  await expect(add("crashy", { runtimeConfig: { ips: ["10.9.0.3"] } })).rejects.toThrow("runtimeConfig.ips[0]: 10.9.0.3 is already in use");
  expect(await reservations()).toEqual({ "10.9.0.3": "other/eth0", "fd09::3": "other/eth0" });
  expect(await markers()).toHaveLength(1);
});

test("GC forgets the markers of attachments that are not valid", async () => {
  await add("gone");
  expect(await markers()).toHaveLength(2);
  const gc = call("GC", "");
  gc.config["cni.dev/valid-attachments"] = [{ containerID: "other", ifname: "eth0" }];
  await rt.invoke("isola-ipam", gc);
  expect(await reservations()).toEqual({ "10.9.0.3": "other/eth0", "fd09::3": "other/eth0" });
  expect(await markers()).toHaveLength(1);
  await rt.invoke("isola-ipam", call("DEL", "other"));
  expect(await readdir(`${dir}/crash`).then((ns) => ns.filter((n) => !n.startsWith("last_reserved")))).toEqual([]);
});
