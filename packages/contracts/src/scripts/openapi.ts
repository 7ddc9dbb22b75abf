// Writes the generated schemas into docs/send-api.openapi.yaml: `pnpm --filter @parley/contracts openapi`.
import { readFileSync, writeFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { sendApiSchemas } from "../openapi.js";
import { sendApiOpenApiPath } from "./paths.js";

const doc = parseDocument(readFileSync(sendApiOpenApiPath, "utf8"));
for (const [name, schema] of Object.entries(sendApiSchemas())) {
  doc.setIn(["components", "schemas", name], schema);
}
writeFileSync(sendApiOpenApiPath, doc.toString({ lineWidth: 100 }));
console.log(`wrote ${sendApiOpenApiPath}`);
