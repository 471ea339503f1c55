// cgroup v2 controllers with resource files, in the order they are applied. Devices (eBPF) and
// `unified` are applied by the manager after these.
import type { Controller } from "../controller.ts";
import { cpu } from "./cpu.ts";
import { cpuset } from "./cpuset.ts";
import { hugetlb } from "./hugetlb.ts";
import { io } from "./io.ts";
import { memory } from "./memory.ts";
import { pids } from "./pids.ts";
import { rdma } from "./rdma.ts";

export const CONTROLLERS: readonly Controller[] = [cpuset, cpu, memory, pids, io, hugetlb, rdma];
