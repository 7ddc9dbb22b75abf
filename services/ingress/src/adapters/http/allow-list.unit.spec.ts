import { describe, expect, it } from "vitest";
import { parseCidr } from "../../config.js";
import { createAllowList as fromRanges } from "./allow-list.js";

const createAllowList = (ranges: readonly string[]) => fromRanges(ranges.map(parseCidr));

describe("createAllowList", () => {
  it("allows everyone when empty", () => {
    const list = createAllowList([]);
    expect(list.allows("203.0.113.9")).toBe(true);
    expect(list.allows(undefined)).toBe(true);
  });

  it("matches IPv4 ranges, including IPv4-mapped IPv6 addresses", () => {
    const list = createAllowList(["173.252.64.0/18", "10.1.2.3"]);
    expect(list.allows("173.252.95.1")).toBe(true);
    expect(list.allows("::ffff:173.252.95.1")).toBe(true);
    expect(list.allows("173.252.128.1")).toBe(false);
    expect(list.allows("10.1.2.3")).toBe(true);
    expect(list.allows("10.1.2.4")).toBe(false);
  });

  it("matches IPv6 ranges", () => {
    const list = createAllowList(["2a03:2880::/32", "::1"]);
    expect(list.allows("2a03:2880:f12f:83:face:b00c:0:25de")).toBe(true);
    expect(list.allows("2a03:2881::1")).toBe(false);
    expect(list.allows("::1")).toBe(true);
    expect(list.allows("127.0.0.1")).toBe(false);
  });

  it("refuses unknown or malformed client addresses when a list is set", () => {
    const list = createAllowList(["0.0.0.0/0"]);
    expect(list.allows(undefined)).toBe(false);
    expect(list.allows("not-an-ip")).toBe(false);
    expect(list.allows("8.8.8.8")).toBe(true);
  });

  it.each(["10.0.0.0/33", "10.0.0/8", "fe80::/129", "10.0.0.0/8/1", "meta", "10.0.0.0/x"])(
    "refuses %s when the configuration is parsed",
    (range) => {
      expect(() => parseCidr(range)).toThrow(RangeError);
    },
  );
});
