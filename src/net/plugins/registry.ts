/** isola's plugin types, loaded lazily (nothing imported until a type is used). */
import type { InProcessPlugin } from "../plugin.ts";

const loaders: Record<string, () => Promise<InProcessPlugin>> = {
  "isola-bridge": async () => (await import("./bridge.ts")).isolaBridge,
  "isola-ipam": async () => (await import("./ipam.ts")).isolaIpam,
  "isola-portmap": async () => (await import("./portmap.ts")).isolaPortmap,
  "isola-policy": async () => (await import("../policy/plugin.ts")).isolaPolicy,
};

export const BUILTIN_TYPES = Object.keys(loaders);

export function isBuiltinType(type: string): boolean {
  return Object.hasOwn(loaders, type);
}

export async function builtinPlugin(type: string): Promise<InProcessPlugin | undefined> {
  const load = Object.hasOwn(loaders, type) ? loaders[type] : undefined;
  return load ? load() : undefined;
}
