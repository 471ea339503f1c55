// rdma controller (same rdma.max format on v1 and v2): "mlx4_0 hca_handle=2 hca_object=2000".
import { R, type Controller } from "./controller.ts";

export const rdma: Controller = {
  name: "rdma",
  needs: (r) => Object.keys(r.rdma ?? {}).length > 0,
  writes: (r) =>
    Object.entries(r.rdma ?? {}).map(([dev, v]) => ({
      file: "rdma.max",
      value: `${dev} hca_handle=${v.hcaHandles ?? "max"} hca_object=${v.hcaObjects ?? "max"}`,
      field: `${R}.rdma.${dev}`,
    })),
  stats: () => {},
};
