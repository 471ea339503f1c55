/**
 * Runs inside a test host's network namespace (started by TestHost with `ip netns exec`):
 * answers JSON-line requests by driving a CniRuntime, so every bridge, veth, nft table
 * and sysctl lands in the test host and never in the machine's own namespace.
 */
import { parseNetworkConfig } from "../conflist.ts";
import { asCniError } from "../errors.ts";
import { CniRuntime, type AttachOptions, type RuntimeOptions } from "../runtime.ts";

export interface AgentRequest {
  id: number;
  op: "add" | "del" | "del-nowait" | "check" | "status" | "gc" | "versions";
  conf: string;
  att?: AttachOptions;
  valid?: { containerId: string; ifName: string }[];
  runtime: RuntimeOptions;
}

async function handle(req: AgentRequest): Promise<unknown> {
  const list = parseNetworkConfig(req.conf, "test.conflist");
  const rt = new CniRuntime(req.runtime);
  const att = req.att ?? { containerId: "", ifName: "", netns: "" };
  switch (req.op) {
    case "add":
      return rt.add(list, att);
    case "del":
      await rt.del(list, att);
      return rt.settle(); // tests check that nothing is left right after DEL
    case "del-nowait":
      return rt.del(list, att);
    case "check":
      return rt.check(list, att);
    case "status":
      return rt.status(list);
    case "gc":
      return rt.gc(list, req.valid ?? []);
    case "versions":
      return rt.versions(list);
  }
}

if (import.meta.main) {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of Bun.stdin.stream()) {
    buf += decoder.decode(chunk);
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const req = JSON.parse(line) as AgentRequest;
      handle(req).then(
        (result) => process.stdout.write(JSON.stringify({ id: req.id, ok: true, result: result ?? null }) + "\n"),
        (e) => {
          const c = asCniError(e);
          process.stdout.write(JSON.stringify({ id: req.id, ok: false, error: { code: c.code, message: c.message } }) + "\n");
        },
      );
    }
  }
}
