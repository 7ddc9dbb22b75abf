import { createMemorySendRecordStore } from "./memory-store.js";
import { describeSendRecordStore } from "./store.contract.js";

describeSendRecordStore("in memory", createMemorySendRecordStore);
