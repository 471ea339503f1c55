// A test host running the `isola` CLI with a state root of its own, for the policy tests that
// drive networks, containers and policies as a user would (inside the test host only).
import { afterAll, beforeAll } from "bun:test";
import { TestHost, type RunResult } from "../../testing/testhost.ts";

export const REPO = new URL("../../../..", import.meta.url).pathname.replace(/\/$/, "");
export const BUN = `${REPO}/node_modules/.bin/bun`;
/** The probe server and client (probe.ts), run with BUN inside containers' namespaces. */
export const PROBE = `${REPO}/src/net/policy/testing/probe.ts`;

export interface CliHost {
  h: TestHost;
  /** the CLI's --root, in the test host's temp dir */
  state: string;
  /** `isola --root STATE ARGS...` inside the test host */
  isola(...args: string[]): Promise<RunResult>;
  /** the same, its stdout, or an error with its exit status and stderr */
  ok(...args: string[]): Promise<string>;
}

export async function cliHost(): Promise<CliHost> {
  const h = await TestHost.create();
  const state = `${h.tmp}/root`;
  const isola = (...args: string[]) => h.exec([BUN, `${REPO}/src/cli/isola.ts`, "--root", state, ...args]);
  return {
    h,
    state,
    isola,
    async ok(...args) {
      const r = await isola(...args);
      if (r.code !== 0) throw new Error(`isola ${args.join(" ")}: exit ${r.code}: ${r.err}`);
      return r.out;
    },
  };
}

/**
 * For a test file: a CliHost made before its tests (only when `enabled`: they need root) and
 * destroyed after them; its fields are looked up when the tests use them.
 */
export function cliHostForFile(enabled: boolean): CliHost {
  let cli: CliHost | undefined;
  beforeAll(async () => {
    if (enabled) cli = await cliHost();
  });
  afterAll(async () => {
    await cli?.h.destroy();
  });
  const made = (): CliHost => {
    if (!cli) throw new Error("no test host: these tests need root");
    return cli;
  };
  return {
    get h() {
      return made().h;
    },
    get state() {
      return made().state;
    },
    isola: (...args) => made().isola(...args),
    ok: (...args) => made().ok(...args),
  };
}
