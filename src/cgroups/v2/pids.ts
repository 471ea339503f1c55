// cgroup v2 pids controller: same files as v1.
export { pids } from "../v1/pids.ts";
