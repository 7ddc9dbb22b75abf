import { nameBasedId } from "@parley/contracts";

/**
 * A UUIDv5 of `name` (RFC 9562, 5.5): the request id of a recipient's send and the event ids of
 * what the plan publishes are the same on every run, so a resumed plan repeats, never adds.
 */
export const uuidV5Of = nameBasedId("5b0f3c1e9a7d4e2b8c6a1d3f5e7b9c0a");
