// cgroup v1 rdma controller: the format is the v2 one.
export { rdma } from "../rdma.ts";
