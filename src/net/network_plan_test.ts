// `isola network create`'s plan (pure): what it refuses, naming the flag.
import { expect, test } from "bun:test";
import { planNetwork, type NetworkOptions } from "./network_plan.ts";

const plan = (o: Partial<NetworkOptions>) => planNetwork({ name: "n", ...o }, [], [], "now");
const refused = (o: Partial<NetworkOptions>) => {
  try {
    plan(o);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(o)}`);
};
const ranges = (o: Partial<NetworkOptions>) => ((plan(o).plugins as { ipam: { ranges: unknown } }[])[0]!.ipam.ranges);

test("a gateway that is the network or broadcast address, or a second one for a subnet, is refused", () => {
  expect(refused({ subnets: ["10.5.0.0/24"], gateways: ["10.5.0.0"] })).toBe("--gateway[0]: 10.5.0.0 is the network address of 10.5.0.0/24 (expected an address a host can have)");
  expect(refused({ subnets: ["10.5.0.0/24"], gateways: ["10.5.0.255"] })).toBe("--gateway[0]: 10.5.0.255 is the broadcast address of 10.5.0.0/24 (expected an address a host can have)");
  expect(refused({ subnets: ["10.5.0.0/24", "fd05::/64"], gateways: ["10.5.0.1", "fd05::"] })).toBe("--gateway[1]: fd05:: is the network address of fd05::/64 (expected an address a host can have)");
  expect(refused({ subnets: ["10.5.0.0/24"], gateways: ["10.5.0.1", "10.5.0.2"] })).toBe("--gateway[1]: 10.5.0.2 is a second gateway for 10.5.0.0/24 (--gateway[0] is one)");
  // an IPv6 subnet has no broadcast address: its last address can be the gateway
  expect(ranges({ subnets: ["10.5.0.0/24", "fd05::/64"], gateways: ["10.5.0.254", "fd05::ffff:ffff:ffff:ffff"] })).toEqual([
    [{ subnet: "10.5.0.0/24", gateway: "10.5.0.254" }],
    [{ subnet: "fd05::/64", gateway: "fd05::ffff:ffff:ffff:ffff" }],
  ]);
});

test("a subnet with no room for a container is refused naming --subnet, not the conflist field", () => {
  expect(refused({ subnets: ["10.5.0.0/31"] })).toBe("--subnet[0]: 10.5.0.0/31 is too small (expected room for the gateway and a container: /30 or larger)");
  expect(refused({ subnets: ["10.6.0.0/24", "10.5.0.7/32"] })).toBe("--subnet[1]: 10.5.0.7/32 is too small (expected room for the gateway and a container: /30 or larger)");
  expect(refused({ subnets: ["fd05::/127"] })).toBe("--subnet[0]: fd05::/127 is too small (expected room for the gateway and a container: /126 or larger)");
  expect(ranges({ subnets: ["10.5.0.0/30"] })).toEqual([[{ subnet: "10.5.0.0/30", gateway: "10.5.0.1" }]]);
});

test("flags the driver would ignore are refused", () => {
  const mac = { driver: "macvlan" as const, parent: "eth1" };
  expect(refused({ ...mac, nat: true })).toBe("--nat: the macvlan driver cannot masquerade (its containers' traffic leaves through the parent interface, not through the host's routing); use --driver bridge");
  expect(refused({ ...mac, internal: true })).toStartWith("--internal: the macvlan driver cannot keep its containers in");
  expect(refused({ ...mac, bridge: "br9" })).toBe("--bridge: only the bridge driver has a bridge (macvlan attaches to --parent)");
  expect(refused({ parent: "eth1" })).toBe("--parent: only the macvlan driver has a parent interface (the bridge driver makes its own bridge)");
  expect(refused({ nat: true, internal: true })).toBe("--nat: conflicts with --internal (an internal network has no way out to masquerade)");
  expect((plan({ ...mac }).plugins as { type: string }[])[0]!.type).toBe("macvlan");
  expect((plan({ nat: true }).isola as { nat: boolean }).nat).toBe(true);
});
