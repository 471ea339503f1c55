/**
 * Checks an OCI `linux.seccomp` object and turns it into a typed, normalised profile.
 * Every problem is reported with the field that holds it; nothing is thrown here. Pure.
 */
import {
  FILTER_FLAG_LOG, FILTER_FLAG_SPEC_ALLOW, FILTER_FLAG_TSYNC, FILTER_FLAG_WAIT_KILLABLE_RECV,
  RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, RET_TRACE, RET_TRAP, RET_USER_NOTIF,
} from "./bpf.ts";
import { OCI_ARCHES } from "./arch.ts";

/** A profile the compiler refuses; `errors` lists every problem, each naming its field. */
export class SeccompConfigError extends Error {
  readonly errors: readonly string[];
  constructor(errors: readonly string[]) {
    super(errors.length === 1 ? (errors[0] ?? "") : `${errors.length} problems in linux.seccomp:\n  ${errors.join("\n  ")}`);
    this.name = "SeccompConfigError";
    this.errors = errors;
  }
}

export const OPERATORS = [
  "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
] as const;
export type Operator = (typeof OPERATORS)[number];

/** SECCOMP_RET_* base value of each OCI action. */
export const ACTIONS: Readonly<Record<string, number>> = {
  SCMP_ACT_KILL: RET_KILL_THREAD,
  SCMP_ACT_KILL_THREAD: RET_KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: RET_KILL_PROCESS,
  SCMP_ACT_TRAP: RET_TRAP,
  SCMP_ACT_ERRNO: RET_ERRNO,
  SCMP_ACT_TRACE: RET_TRACE,
  SCMP_ACT_ALLOW: RET_ALLOW,
  SCMP_ACT_LOG: RET_LOG,
  SCMP_ACT_NOTIFY: RET_USER_NOTIF,
};

/** The OCI flag names and their SECCOMP_FILTER_FLAG_* bits. */
export const FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: FILTER_FLAG_TSYNC,
  SECCOMP_FILTER_FLAG_LOG: FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: FILTER_FLAG_WAIT_KILLABLE_RECV,
};

/**
 * The launcher itself makes these calls after installing the filter and before the
 * notify fd reaches the listener; notifying them would deadlock it (runc refuses
 * `write` for the same reason).
 */
export const NOTIFY_FORBIDDEN = ["write", "socket", "connect", "sendmsg"];

const EPERM = 1;
const U64_MAX = (1n << 64n) - 1n;

export interface ArgCond {
  index: number;
  op: Operator;
  value: bigint;
  valueTwo: bigint;
}

export interface ProfileRule {
  /** position in linux.seccomp.syscalls, for error messages */
  origin: number;
  names: readonly string[];
  action: string;
  /** the SECCOMP_RET_* value including errno/trace data */
  ret: number;
  /** sorted by argument index */
  conds: readonly ArgCond[];
  /**
   * An argument is compared more than once: as runc does, each comparison is then a
   * separate rule (so they are ORed, not ANDed).
   */
  splitConds: boolean;
}

export interface Profile {
  defaultAction: string;
  defaultRet: number;
  architectures: readonly string[];
  /** SECCOMP_FILTER_FLAG_* bits asked for, and the position of each in `flags` */
  flags: ReadonlyArray<{ name: string; bit: number; field: string }>;
  listenerPath?: string;
  listenerMetadata?: string;
  rules: readonly ProfileRule[];
  usesNotify: boolean;
}

const P = "linux.seccomp";

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return typeof v === "object" ? "an object" : typeof v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads an unsigned 64-bit value: a bigint, or a JSON number (see docs: 2^64 means 2^64-1). */
function readU64(v: unknown, field: string, errors: string[]): bigint | undefined {
  if (typeof v === "bigint") {
    if (v >= 0n && v <= U64_MAX) return v;
  } else if (typeof v === "number" && Number.isInteger(v) && v >= 0) {
    // JSON.parse rounds 18446744073709551615 (a common "all ones" value) up to 2^64.
    if (v === 2 ** 64) return U64_MAX;
    if (v < 2 ** 64) return BigInt(v);
  }
  errors.push(`${field}: ${describe(v)} is not an unsigned 64-bit integer`);
  return undefined;
}

function readErrno(v: unknown, field: string, errors: string[]): number | undefined {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
  errors.push(`${field}: ${describe(v)} is not an errno (expected an integer from 0 to 65535)`);
  return undefined;
}

function readAction(v: unknown, field: string, errors: string[]): string | undefined {
  if (typeof v === "string" && v in ACTIONS) return v;
  errors.push(`${field}: ${describe(v)} is not an action (expected one of ${Object.keys(ACTIONS).join(", ")})`);
  return undefined;
}

/** Actions whose return value carries errnoRet (as the runtime spec says). */
const TAKES_ERRNO = new Set(["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"]);

function retOf(action: string, errno: number | undefined): number {
  const base = ACTIONS[action] ?? RET_KILL_THREAD;
  return TAKES_ERRNO.has(action) ? (base | (errno ?? EPERM)) >>> 0 : base;
}

/** Validates `profile`, appending problems to `errors`; returns the profile when there are none. */
export function parseProfile(profile: unknown, errors: string[]): Profile | undefined {
  const start = errors.length;
  if (!isRecord(profile)) {
    errors.push(`${P}: expected an object, found ${describe(profile)}`);
    return undefined;
  }
  const defaultAction = readAction(profile.defaultAction, `${P}.defaultAction`, errors);
  if (defaultAction === "SCMP_ACT_NOTIFY") {
    errors.push(`${P}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (it would notify the launcher's own syscalls)`);
  }
  let defaultErrno: number | undefined;
  if (profile.defaultErrnoRet !== undefined) {
    defaultErrno = readErrno(profile.defaultErrnoRet, `${P}.defaultErrnoRet`, errors);
    if (defaultAction !== undefined && !TAKES_ERRNO.has(defaultAction)) {
      errors.push(`${P}.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, but defaultAction is ${defaultAction}`);
    }
  }

  const architectures: string[] = [];
  if (profile.architectures !== undefined && profile.architectures !== null) {
    if (!Array.isArray(profile.architectures)) {
      errors.push(`${P}.architectures: expected an array of SCMP_ARCH_* names, found ${describe(profile.architectures)}`);
    } else {
      profile.architectures.forEach((a: unknown, i) => {
        if (typeof a === "string" && OCI_ARCHES.includes(a)) architectures.push(a);
        else errors.push(`${P}.architectures[${i}]: ${describe(a)} is not an architecture (expected one of ${OCI_ARCHES.join(", ")})`);
      });
    }
  }

  const flags: Array<{ name: string; bit: number; field: string }> = [];
  if (profile.flags !== undefined && profile.flags !== null) {
    if (!Array.isArray(profile.flags)) {
      errors.push(`${P}.flags: expected an array of SECCOMP_FILTER_FLAG_* names, found ${describe(profile.flags)}`);
    } else {
      profile.flags.forEach((f: unknown, i) => {
        const bit = typeof f === "string" ? FLAGS[f] : undefined;
        if (typeof f === "string" && bit !== undefined) flags.push({ name: f, bit, field: `${P}.flags[${i}]` });
        else errors.push(`${P}.flags[${i}]: ${describe(f)} is not a seccomp flag (expected one of ${Object.keys(FLAGS).join(", ")})`);
      });
    }
  }

  let listenerPath: string | undefined;
  if (profile.listenerPath !== undefined) {
    if (typeof profile.listenerPath !== "string" || !profile.listenerPath.startsWith("/")) {
      errors.push(`${P}.listenerPath: expected an absolute path to a unix socket, found ${describe(profile.listenerPath)}`);
    } else listenerPath = profile.listenerPath;
  }
  let listenerMetadata: string | undefined;
  if (profile.listenerMetadata !== undefined) {
    if (typeof profile.listenerMetadata !== "string") {
      errors.push(`${P}.listenerMetadata: expected a string, found ${describe(profile.listenerMetadata)}`);
    } else listenerMetadata = profile.listenerMetadata;
  }

  const rules: ProfileRule[] = [];
  let usesNotify = false;
  if (profile.syscalls !== undefined && profile.syscalls !== null) {
    if (!Array.isArray(profile.syscalls)) {
      errors.push(`${P}.syscalls: expected an array of rules, found ${describe(profile.syscalls)}`);
    } else {
      profile.syscalls.forEach((raw: unknown, i) => {
        const rule = parseRule(raw, i, errors);
        if (!rule) return;
        if (rule.action === "SCMP_ACT_NOTIFY") {
          usesNotify = true;
          const bad = rule.names.filter((n) => NOTIFY_FORBIDDEN.includes(n));
          if (bad.length) {
            errors.push(`${P}.syscalls[${i}].names: SCMP_ACT_NOTIFY cannot apply to ${bad.join(", ")} (the launcher needs ${bad.length > 1 ? "them" : "it"} to hand the notify fd to the listener)`);
          }
        }
        rules.push(rule);
      });
    }
  }
  if (usesNotify && listenerPath === undefined && profile.listenerPath === undefined) {
    errors.push(`${P}.listenerPath: required when a rule uses SCMP_ACT_NOTIFY (the notify fd is sent there)`);
  }
  const waitKillable = flags.find((f) => f.bit === FILTER_FLAG_WAIT_KILLABLE_RECV);
  if (waitKillable && !usesNotify) {
    errors.push(`${waitKillable.field}: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY`);
  }

  if (errors.length > start || defaultAction === undefined) return undefined;
  return {
    defaultAction,
    defaultRet: retOf(defaultAction, defaultErrno),
    architectures,
    flags,
    ...(listenerPath !== undefined ? { listenerPath } : {}),
    ...(listenerMetadata !== undefined ? { listenerMetadata } : {}),
    rules,
    usesNotify,
  };
}

function parseRule(raw: unknown, i: number, errors: string[]): ProfileRule | undefined {
  const f = `${P}.syscalls[${i}]`;
  const start = errors.length;
  if (!isRecord(raw)) {
    errors.push(`${f}: expected an object with names and action, found ${describe(raw)}`);
    return undefined;
  }
  const names: string[] = [];
  if (!Array.isArray(raw.names)) {
    errors.push(`${f}.names: expected a non-empty array of syscall names, found ${raw.names === undefined ? "nothing" : describe(raw.names)}`);
  } else if (raw.names.length === 0) {
    errors.push(`${f}.names: expected a non-empty array of syscall names, found an empty array`);
  } else {
    raw.names.forEach((n: unknown, j) => {
      if (typeof n === "string" && /^[A-Za-z0-9_]+$/.test(n)) names.push(n);
      else errors.push(`${f}.names[${j}]: ${describe(n)} is not a syscall name`);
    });
  }
  const action = readAction(raw.action, `${f}.action`, errors);
  let errno: number | undefined;
  if (raw.errnoRet !== undefined) {
    errno = readErrno(raw.errnoRet, `${f}.errnoRet`, errors);
    if (action !== undefined && !TAKES_ERRNO.has(action)) {
      errors.push(`${f}.errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, but the action is ${action}`);
    }
  }
  const conds: ArgCond[] = [];
  let splitConds = false;
  if (raw.args !== undefined && raw.args !== null) {
    if (!Array.isArray(raw.args)) {
      errors.push(`${f}.args: expected an array of argument comparisons, found ${describe(raw.args)}`);
    } else {
      if (raw.args.length > 6) errors.push(`${f}.args: ${raw.args.length} comparisons, but a syscall has at most 6 arguments`);
      const seen = new Map<number, number>();
      // runc: when one argument is compared twice, every comparison becomes a rule of its own.
      raw.args.forEach((a: unknown, j) => {
        const af = `${f}.args[${j}]`;
        if (!isRecord(a)) {
          errors.push(`${af}: expected an object with index, value and op, found ${describe(a)}`);
          return;
        }
        const index = a.index;
        const okIndex = typeof index === "number" && Number.isInteger(index) && index >= 0 && index <= 5;
        if (!okIndex) errors.push(`${af}.index: ${describe(index)} is not an argument index (expected 0 to 5)`);
        else if (seen.has(index)) splitConds = true;
        else seen.set(index, j);
        const op = a.op;
        const okOp = typeof op === "string" && (OPERATORS as readonly string[]).includes(op);
        if (!okOp) errors.push(`${af}.op: ${describe(op)} is not an operator (expected one of ${OPERATORS.join(", ")})`);
        const value = readU64(a.value, `${af}.value`, errors);
        const valueTwo = a.valueTwo === undefined || a.valueTwo === null ? 0n : readU64(a.valueTwo, `${af}.valueTwo`, errors);
        if (okIndex && okOp && value !== undefined && valueTwo !== undefined) {
          conds.push({ index: index as number, op: op as Operator, value, valueTwo });
        }
      });
    }
  }
  if (errors.length > start || action === undefined) return undefined;
  conds.sort((a, b) => a.index - b.index);
  return { origin: i, names, action, ret: retOf(action, errno), conds, splitConds };
}
