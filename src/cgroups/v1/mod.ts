// cgroup v1 controllers, in the order they are applied (runc's).
import type { Controller } from "../controller.ts";
import { blkio } from "./blkio.ts";
import { cpu } from "./cpu.ts";
import { cpuacct } from "./cpuacct.ts";
import { cpuset } from "./cpuset.ts";
import { devices } from "./devices.ts";
import { freezer } from "./freezer.ts";
import { hugetlb } from "./hugetlb.ts";
import { memory } from "./memory.ts";
import { netCls } from "./net_cls.ts";
import { netPrio } from "./net_prio.ts";
import { pids } from "./pids.ts";
import { rdma } from "./rdma.ts";

export const CONTROLLERS: readonly Controller[] = [cpuset, devices, memory, cpu, cpuacct, pids, blkio, hugetlb, netCls, netPrio, freezer, rdma];
