/** OCI runtime-spec `linux.resources` (1.2), as isola's cgroup drivers read it. */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number | null;
  minor?: number | null;
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCpu {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxWeightDevice { major: number; minor: number; weight?: number; leafWeight?: number }
export interface LinuxThrottleDevice { major: number; minor: number; rate: number }

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit { pageSize: string; limit: number }
export interface LinuxInterfacePriority { name: string; priority: number }
export interface LinuxNetwork { classID?: number; priorities?: LinuxInterfacePriority[] }
export interface LinuxRdma { hcaHandles?: number; hcaObjects?: number }

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCpu;
  pids?: { limit: number };
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  unified?: Record<string, string>;
}

/** One write of a cgroup file, and the spec field it comes from (for error messages). */
export interface CgroupWrite {
  file: string;
  value: string;
  field: string;
}

/** Error from the cgroup layer; the message names the resource, the value and what was expected. */
export class CgroupError extends Error {
  override name = "CgroupError";
  constructor(message: string, readonly field?: string) {
    super(message);
  }
}
