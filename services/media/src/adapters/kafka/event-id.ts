import { nameBasedId } from "@parley/contracts";

/**
 * A UUIDv5 of `name`: a media object's events get the same ids however often a crash or a
 * redelivery makes the decider decide them, so consumers dedupe them by event id.
 */
export const eventIdOf = nameBasedId("6a1f0d2c8e3b4f5a9c7d1e2f3a4b5c6d");
