// cgroup v2 rdma controller: rdma.max per device.
export { rdma } from "../rdma.ts";
