/** isola-runtime verbs that act on a container's cgroups: update, pause, resume, ps, events. */
import { UPDATE_FLAGS } from "../cgroups/update_flags.ts";
import { warn } from "../runtime/container.ts";
import type * as Resources from "../runtime/resources.ts";
import { UsageError, type FlagSpec } from "./args.ts";
import type { Command } from "./command.ts";
import { writeOut } from "./output.ts";

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
/** The cgroup verbs' implementation, loaded when one of them runs. */
const load = (): Promise<typeof Resources> => import("../runtime/resources.ts");

// runc's spellings: --cpu-share is runc's flag, --cpu-shares the one docs and users write.
// --cpu-burst and the Intel RDT schemas are runc flags the cgroups layer's UPDATE_FLAGS leaves to the runtime.
const EXTRA_FLAGS = ["cpu-burst", "l3-cache-schema", "mem-bw-schema"] as const;
const updateFlags: Record<string, FlagSpec> = { resources: { type: "string", alias: "r" } };
for (const name of [...UPDATE_FLAGS, ...EXTRA_FLAGS]) updateFlags[name] = { type: "string" };

export const CGROUP_COMMANDS: Record<string, Command> = {
  update: {
    usage:
      "update [-r FILE|-] [--memory N] [--memory-swap N] [--memory-reservation N] [--cpu-shares N] [--cpu-quota N] [--cpu-period N] " +
      "[--cpu-burst N] [--cpu-rt-runtime N] [--cpu-rt-period N] [--cpuset-cpus L] [--cpuset-mems L] [--pids-limit N] [--blkio-weight N] <container-id>",
    flags: updateFlags,
    args: [1, 1],
    async run(a, f, g) {
      const resources = await load();
      const flags: Record<string, string | undefined> = {};
      for (const name of [...UPDATE_FLAGS, ...EXTRA_FLAGS]) flags[name] = str(f[name]);
      const req: Resources.UpdateRequest = { flags };
      const file = str(f.resources);
      if (file !== undefined) req.resourcesFile = file;
      resources.update(g.root, a[0]!, req, warn);
    },
  },
  pause: {
    usage: "pause <container-id>",
    flags: {},
    args: [1, 1],
    async run(a, _f, g) {
      const resources = await load();
      resources.pause(g.root, a[0]!);
    },
  },
  resume: {
    usage: "resume <container-id>",
    flags: {},
    args: [1, 1],
    async run(a, _f, g) {
      const resources = await load();
      resources.resume(g.root, a[0]!);
    },
  },
  ps: {
    usage: "ps [--format table|json] <container-id> [ps options]",
    flags: { format: { type: "string", alias: "f" } },
    args: [1, Infinity],
    async run(a, f, g) {
      const resources = await load();
      const format = str(f.format) ?? "table";
      if (format === "json") {
        writeOut(JSON.stringify(resources.processes(g.root, a[0]!)) + "\n");
      } else if (format === "table") {
        writeOut(resources.psTable(g.root, a[0]!, a.slice(1)));
      } else {
        throw new UsageError(`invalid format option "${format}" (expected table or json)`);
      }
    },
  },
  events: {
    usage: "events [--stats] [--interval 5s] <container-id>",
    flags: { stats: { type: "bool" }, interval: { type: "string" } },
    args: [1, 1],
    async run(a, f, g) {
      const resources = await load();
      const id = a[0]!;
      const intervalMs = resources.parseDuration(str(f.interval) ?? "5s");
      if (intervalMs <= 0) throw new UsageError("duration interval must be greater than 0");
      if (f.stats === true) {
        writeOut(resources.statsEvent(g.root, id) + "\n");
        return;
      }
      Bun.unsafe.setJITPolicy(1); // a long-running stream: the normal JIT again (see scripts/compile-flags.sh)
      await resources.streamEvents(g.root, id, { intervalMs, warn, write: (line) => writeOut(line + "\n") });
    },
  },
};
