/** Host facts for a caller without root: its ids, subordinate ranges, the uidmap helpers. */
import * as fs from "node:fs";
import { ConfigError } from "../oci/validate.ts";
import { delegationProblems, parseSubordinateIds, type Delegation } from "../oci/idmap.ts";
import { toRootless } from "../oci/rootless.ts";
import type { Spec } from "../oci/types.ts";
import type { CallerFacts } from "../plan/compile.ts";

const HELPER_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"];

export const isRootless = () => (process.geteuid?.() ?? 0) !== 0;

function findHelper(name: string): string | undefined {
  for (const dir of HELPER_DIRS) {
    const p = `${dir}/${name}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The caller's user name from /etc/passwd (subuid files may list names or ids). */
function userName(uid: number): string | undefined {
  try {
    for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[2] === String(uid)) return f[0];
    }
  } catch {
    // no passwd: ids only
  }
  return undefined;
}

function subordinate(file: string, uid: number): Delegation[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const name = userName(uid);
  return parseSubordinateIds(text, name === undefined ? { id: uid } : { name, id: uid });
}

/** What an unprivileged caller may map, for the plan compiler; undefined for root. */
export function callerFacts(): CallerFacts | undefined {
  if (!isRootless()) return undefined;
  const facts: CallerFacts = { uid: process.geteuid!(), gid: process.getegid!() };
  const u = findHelper("newuidmap");
  const g = findHelper("newgidmap");
  if (u) facts.newuidmap = u;
  if (g) facts.newgidmap = g;
  return facts;
}

/**
 * Problems of a config run without root, found before anything is created: it needs a
 * user namespace, and its mappings may use only the caller's own ids and its ranges in
 * /etc/subuid and /etc/subgid.
 */
export function rootlessProblems(spec: Spec, caller: CallerFacts): string[] {
  const linux = spec.linux ?? {};
  const user = (linux.namespaces ?? []).find((n) => n.type === "user");
  if (!user)
    return [`linux.namespaces: running without root needs a user namespace (add {"type":"user"} with uid/gid mappings, or write the config with "isola-runtime spec --rootless")`];
  if (user.path) return [];
  return [
    ...delegationProblems("linux.uidMappings", linux.uidMappings ?? [], caller.uid, subordinate("/etc/subuid", caller.uid), "/etc/subuid"),
    ...delegationProblems("linux.gidMappings", linux.gidMappings ?? [], caller.gid, subordinate("/etc/subgid", caller.uid), "/etc/subgid"),
  ];
}

/** Throws ConfigError when a rootless config can't work; no-op for root. */
export function checkRootless(spec: Spec, caller: CallerFacts | undefined): void {
  if (!caller) return;
  const problems = rootlessProblems(spec, caller);
  if (problems.length) throw new ConfigError(problems);
}

/** `spec --rootless` for the calling user: subordinate ranges only when the helpers exist. */
export function rootlessSpec(base: Spec): Spec {
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  const helpers = findHelper("newuidmap") !== undefined && findHelper("newgidmap") !== undefined;
  const subuid = helpers ? subordinate("/etc/subuid", uid)[0] : undefined;
  const subgid = helpers ? subordinate("/etc/subgid", uid)[0] : undefined;
  return toRootless(base, { uid, gid, ...(subuid && subgid ? { subuid, subgid } : {}) });
}
