import { fileURLToPath } from "node:url";

// Resolved the same from src/scripts (vitest) and dist/scripts (node).
export const snapshotDir = fileURLToPath(new URL("../../schemas/", import.meta.url));
export const asyncApiPath = fileURLToPath(
  new URL("../../../../docs/asyncapi.yaml", import.meta.url),
);
export const sendApiOpenApiPath = fileURLToPath(
  new URL("../../../../docs/send-api.openapi.yaml", import.meta.url),
);
