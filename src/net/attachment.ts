/**
 * The values that name an attachment, checked as libcni checks them before any plugin
 * runs: container ids and interface names (they end up in file names, interface names
 * and, without netlink, in `ip -batch` lines), and MAC addresses. Pure.
 */
import { CniError, ErrorCode } from "./errors.ts";
import type { Attachment } from "./types.ts";

const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Go's unicode.IsSpace also counts U+0085, which JavaScript's \s does not. */
const IFNAME_FORBIDDEN_RE = /[/:\s\u0085]/;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
/** IFNAMSIZ less the terminating NUL */
const MAX_IFNAME_BYTES = 15;

/** What is wrong with a container id (libcni: ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$), or undefined. */
export function containerIdProblem(id: unknown): string | undefined {
  const expected = 'expected letters, digits, "_", "." or "-", starting with a letter or digit';
  if (id === undefined || id === "") return `missing (${expected})`;
  if (typeof id !== "string" || !CONTAINER_ID_RE.test(id)) return `${JSON.stringify(id)} is not a container id (${expected})`;
  return undefined;
}

/** What is wrong with an interface name (libcni: 1-15 bytes, no "/", ":" or whitespace, not "." or ".."), or undefined. */
export function ifNameProblem(name: unknown): string | undefined {
  if (name === undefined || name === "") return "missing (expected an interface name of 1-15 characters)";
  if (typeof name !== "string") return `${JSON.stringify(name)} is not an interface name (expected a string)`;
  if (IFNAME_FORBIDDEN_RE.test(name)) return `${JSON.stringify(name)} is not an interface name (expected no "/", ":" or whitespace)`;
  if (name === "." || name === "..") return `${JSON.stringify(name)} is not an interface name (expected a name other than "." and "..")`;
  if (new TextEncoder().encode(name).length > MAX_IFNAME_BYTES) return `${JSON.stringify(name)} is too long (expected an interface name of 1-15 characters)`;
  return undefined;
}

/** What is wrong with a MAC address for an interface (xx:xx:xx:xx:xx:xx, unicast), or undefined. */
export function macProblem(mac: unknown): string | undefined {
  if (typeof mac !== "string" || !MAC_RE.test(mac)) return `${JSON.stringify(mac)} is not a MAC address (expected xx:xx:xx:xx:xx:xx)`;
  if (parseInt(mac.slice(0, 2), 16) & 1) return `${mac} is a multicast address (expected a unicast MAC: the first byte even)`;
  return undefined;
}

/**
 * Refuses a bad container id or interface name with CNI's "invalid environment variables"
 * (code 4), naming the field as the caller knows it (CNI_CONTAINERID, containerId, ...).
 */
export function checkAttachment(att: Attachment, fields: { containerId: string; ifName: string }): void {
  const id = containerIdProblem(att.containerId);
  if (id) throw new CniError(ErrorCode.invalidEnvironment, `${fields.containerId}: ${id}`);
  const ifn = ifNameProblem(att.ifName);
  if (ifn) throw new CniError(ErrorCode.invalidEnvironment, `${fields.ifName}: ${ifn}`);
}
