import { BlockList, isIP } from "node:net";
import type { Cidr } from "../../config.js";

/** Which client addresses may reach the webhook. */
export interface AllowList {
  /** True when the list is empty (everyone) or `address` falls in one of its ranges. */
  allows(address: string | undefined): boolean;
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) is checked as `10.1.2.3`. */
function normalise(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** Builds the allow-list from ranges the configuration parsed (WEBHOOK_ALLOWED_CIDRS). */
export function createAllowList(ranges: readonly Cidr[]): AllowList {
  if (ranges.length === 0) return { allows: () => true };
  const list = new BlockList();
  for (const { network, prefix, family } of ranges) list.addSubnet(network, prefix, family);
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
