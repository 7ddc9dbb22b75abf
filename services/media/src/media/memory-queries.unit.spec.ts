import { createMemoryStateStore } from "@parley/decider";
import type { MediaOutput, MediaState } from "../domain/media-object.js";
import { describeMediaQueries } from "./media-queries-contract.unit-helpers.js";
import { createMemoryMediaQueries } from "./memory-queries.js";

describeMediaQueries("in-memory fake", () => {
  const store = createMemoryStateStore<MediaState, MediaOutput>();
  return Promise.resolve({ store, queries: createMemoryMediaQueries(store) });
});
