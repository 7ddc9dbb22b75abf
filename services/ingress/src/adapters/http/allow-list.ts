import { BlockList, isIP } from "node:net";

/** Which client addresses may reach the webhook. */
export interface AllowList {
  /** True when the list is empty (everyone) or `address` falls in one of its ranges. */
  allows(address: string | undefined): boolean;
}

export interface Cidr {
  readonly network: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** Parses `10.0.0.0/8`, `2a03:2880::/32` or a bare address (a /32 or /128); throws with the reason. */
export function parseCidr(text: string): Cidr {
  const [network = "", prefixText, extra] = text.trim().split("/");
  if (extra !== undefined) throw new RangeError(`"${text}" is not a CIDR range`);
  const version = isIP(network);
  if (version === 0) throw new RangeError(`"${text}" does not start with an IPv4 or IPv6 address`);
  const family = version === 4 ? "ipv4" : "ipv6";
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { network, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    throw new RangeError(`"${text}": the prefix length must be 0 to ${max}`);
  }
  return { network, prefix: Number(prefixText), family };
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) is checked as `10.1.2.3`. */
function normalise(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** Builds the allow-list; throws at construction on any entry that is not a range. */
export function createAllowList(ranges: readonly string[]): AllowList {
  if (ranges.length === 0) return { allows: () => true };
  const list = new BlockList();
  for (const range of ranges) {
    const { network, prefix, family } = parseCidr(range);
    list.addSubnet(network, prefix, family);
  }
  return {
    allows(address) {
      if (address === undefined) return false;
      const plain = normalise(address);
      const version = isIP(plain);
      if (version === 0) return false;
      return list.check(plain, version === 4 ? "ipv4" : "ipv6");
    },
  };
}
