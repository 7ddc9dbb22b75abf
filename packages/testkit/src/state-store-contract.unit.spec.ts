import { createMemoryStateStore } from "@parley/decider";
import {
  describeStateStore,
  type ContractEvent,
  type ContractState,
} from "./state-store-contract.js";

// The in-memory store against the StateStore contract; the MongoDB adapter runs the same suite
// in packages/mongo/src/state-store.int.spec.ts.
const store = createMemoryStateStore<ContractState, ContractEvent>();
describeStateStore("in-memory", () => store);
