import { expect, test } from "bun:test";
import { parseConf, parseConfList, parseNetworkConfig } from "./conflist.ts";
import { CniError } from "./errors.ts";

const ok = { cniVersion: "1.0.0", name: "net1", plugins: [{ type: "bridge", ipam: { type: "host-local", ranges: [[{ subnet: "10.1.0.0/24" }]] } }] };

function refused(value: unknown): string {
  try {
    parseConfList(typeof value === "string" ? value : JSON.stringify(value));
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return (e as Error).message;
  }
  throw new Error("accepted");
}

test("a valid list keeps its bytes; a .conf becomes a one-plugin list", () => {
  const text = JSON.stringify(ok);
  const l = parseConfList(text);
  expect(l.name).toBe("net1");
  expect(l.bytes).toBe(text);
  const c = parseConf(JSON.stringify({ cniVersion: "0.4.0", name: "single", type: "bridge" }));
  expect(c.plugins).toEqual([{ cniVersion: "0.4.0", name: "single", type: "bridge" }]);
  expect(parseNetworkConfig(text, "x.conf").plugins).toHaveLength(1);
});

test("cniVersions (CNI 1.1) picks the highest version we support", () => {
  const l = parseConfList(JSON.stringify({ ...ok, cniVersions: ["1.0.0", "1.1.0", "9.0.0"] }));
  expect(l.cniVersion).toBe("1.1.0");
});

test("a cniVersion isola's runtime does not speak is refused as an incompatible version (CNI error 1)", () => {
  const code = (value: unknown) => {
    try {
      parseConfList(JSON.stringify(value));
    } catch (e) {
      return (e as CniError).code;
    }
  };
  const supported = "(expected one of 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)";
  expect(refused({ ...ok, cniVersion: "9.9.9" })).toBe(`cniVersion: "9.9.9" is not supported by isola's CNI runtime ${supported}`);
  expect(code({ ...ok, cniVersion: "9.9.9" })).toBe(1);
  expect(refused({ ...ok, cniVersion: "0.1.0" })).toBe(`cniVersion: "0.1.0" is not supported by isola's CNI runtime ${supported}`);
  expect(refused({ ...ok, cniVersion: "0.2.0", cniVersions: ["0.1.0", "2.0.0"] })).toBe(`cniVersion: "0.2.0" is not supported by isola's CNI runtime, nor is any of cniVersions 0.1.0, 2.0.0 ${supported}`);
  expect(() => parseConf(JSON.stringify({ cniVersion: "0.2.0", name: "single", type: "bridge" }))).toThrow('cniVersion: "0.2.0" is not supported');
  // a supported entry of cniVersions is enough
  expect(parseConfList(JSON.stringify({ ...ok, cniVersion: "9.9.9", cniVersions: ["0.4.0", "9.9.9"] })).cniVersion).toBe("0.4.0");
  for (const v of ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]) expect(parseConfList(JSON.stringify({ ...ok, cniVersion: v })).cniVersion).toBe(v);
});

test("malformed lists are refused with the field and what was expected", () => {
  expect(refused("{")).toContain("conflist: not valid JSON");
  expect(refused("[]")).toBe("conflist: expected a JSON object");
  expect(refused({ ...ok, cniVersion: 1 })).toBe('cniVersion: 1 is not a version (expected "x.y.z", e.g. "1.1.0")');
  expect(refused({ ...ok, name: "a b" })).toContain('name: "a b" is not a network name');
  expect(refused({ ...ok, plugins: [] })).toBe("plugins: expected a non-empty array of plugin configurations");
  expect(refused({ ...ok, plugins: [{ type: "../bin/sh" }] })).toContain('plugins[0].type: "../bin/sh" is not a plugin type');
  expect(refused({ ...ok, plugins: [{ type: "x", capabilities: { portMappings: "yes" } }] })).toBe('plugins[0].capabilities.portMappings: expected true or false, found "yes"');
  expect(refused({ ...ok, disableCheck: "no" })).toBe('disableCheck: expected true or false, found "no"');
  expect(refused({ ...ok, plugins: [{ type: "x", mtu: 20 }] })).toBe("plugins[0].mtu: 20 is not an MTU (expected an integer 68-65535)");
});

test("IPAM ranges: bad CIDRs, addresses outside the subnet, overlaps, mixed families", () => {
  const ipam = (ranges: unknown) => ({ ...ok, plugins: [{ type: "isola-bridge", ipam: { type: "isola-ipam", ranges } }] });
  expect(refused(ipam([[{ subnet: "10.0.0.0/33" }]]))).toBe('plugins[0].ipam.ranges[0][0].subnet: "10.0.0.0/33" is not a CIDR (expected a.b.c.d/0-32)');
  expect(refused(ipam([[{ subnet: "fd00::/200" }]]))).toContain("(expected an IPv6 prefix x:x::x/0-128)");
  expect(refused(ipam([[{ subnet: "10.0.0.0/24", gateway: "10.0.1.1" }]]))).toBe("plugins[0].ipam.ranges[0][0].gateway: 10.0.1.1 is outside the subnet 10.0.0.0/24");
  expect(refused(ipam([[{ subnet: "10.0.0.0/24", rangeStart: "10.0.0.50", rangeEnd: "10.0.0.10" }]]))).toContain("rangeEnd: 10.0.0.10 is before rangeStart 10.0.0.50");
  expect(refused(ipam([[{ subnet: "10.0.0.0/16" }], [{ subnet: "10.0.5.0/24" }]]))).toBe("plugins[0].ipam.ranges[1][0].subnet: 10.0.5.0/24 overlaps 10.0.0.0/16 at plugins[0].ipam.ranges[0][0]");
  expect(refused(ipam([[{ subnet: "10.0.0.0/24" }, { subnet: "fd00::/64" }]]))).toContain("mixes address families");
  expect(refused(ipam([[{ subnet: "10.0.0.0/32" }]]))).toContain("is too small");
  expect(refused({ ...ok, plugins: [{ type: "bridge", ipam: { type: "host-local" } }] })).toContain("plugins[0].ipam.ranges: missing");
});
