/** CNI 1.1 data shapes as they cross the runtime/plugin boundary. */

export interface PluginConf {
  type: string;
  name?: string;
  cniVersion?: string;
  capabilities?: Record<string, boolean>;
  ipam?: IpamConf;
  dns?: Dns;
  runtimeConfig?: RuntimeConfig;
  prevResult?: Result;
  [key: string]: unknown;
}

export interface IpamConf {
  type: string;
  [key: string]: unknown;
}

export interface NetConfList {
  cniVersion: string;
  cniVersions?: string[];
  name: string;
  disableCheck?: boolean;
  disableGC?: boolean;
  plugins: PluginConf[];
  /** the exact text it was loaded from (cached with results as libcni does) */
  bytes: string;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
}

export interface BandwidthEntry {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** Dynamic per-attachment values, delivered to plugins that declare the capability. */
export interface RuntimeConfig {
  portMappings?: PortMapping[];
  bandwidth?: BandwidthEntry;
  ips?: string[];
  mac?: string;
  dns?: Dns;
  aliases?: Record<string, string[]>;
  /** isola's container labels, for network policies */
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface IpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
  [key: string]: unknown;
}

export type Command = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";

/** The identity of one attachment: a container's interface on a network. */
export interface Attachment {
  containerId: string;
  ifName: string;
}
