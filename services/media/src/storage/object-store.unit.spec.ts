import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFsObjectStore } from "../adapters/store/fs-object-store.js";
import { createMemoryObjectStore } from "./memory-store.js";
import { describeObjectStore } from "./object-store-contract.unit-helpers.js";

describeObjectStore("in-memory fake", () => Promise.resolve(createMemoryObjectStore()));
describeObjectStore("filesystem", () =>
  Promise.resolve(createFsObjectStore({ root: mkdtempSync(join(tmpdir(), "parley-media-")) })),
);
