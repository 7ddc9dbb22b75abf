import { contactStoreContract } from "./contact-store.contract.js";
import { memoryStore } from "./memory-store.unit-helpers.js";

contactStoreContract("in-memory fake", () => memoryStore().store);
