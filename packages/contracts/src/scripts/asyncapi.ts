// Writes docs/asyncapi.yaml from the catalog: `pnpm --filter @parley/contracts asyncapi`.
import { writeFileSync } from "node:fs";
import { createCatalog } from "../catalog.js";
import { renderAsyncApi } from "../asyncapi.js";
import { asyncApiPath } from "./paths.js";

writeFileSync(asyncApiPath, renderAsyncApi(createCatalog()));
console.log(`wrote ${asyncApiPath}`);
