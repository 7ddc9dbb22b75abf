import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createAuthenticator,
  declaredAccess,
  hashApiKey,
  roleNames,
  roleTable,
  type OpenApiAccessDoc,
} from "@parley/runtime";
import { accessTableSuite } from "@parley/testkit";
import { parse } from "yaml";
import type { MediaObjects } from "../../media/objects.js";
import type { MediaQueries } from "../../media/ports.js";
import { createMediaApiApp } from "./routes.js";
import { startMediaApiServer } from "./server.js";

const doc = parse(
  readFileSync(
    resolve(dirname(fileURLToPath(import.meta.url)), "../../../../../docs/media-api.openapi.yaml"),
    "utf8",
  ),
) as OpenApiAccessDoc;
const keyOf = (role: string) => `media-${role}-key-0123456789`;
const options = {
  // Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
  objects: {} as MediaObjects,
  queries: {} as MediaQueries,
  authenticator: createAuthenticator({
    api: "media",
    keys: roleNames.map((role) => ({ id: role, keySha256: hashApiKey(keyOf(role)), role })),
  }),
  maxBytes: 1_024,
};
accessTableSuite("media API", {
  doc,
  declared: declaredAccess,
  table: roleTable,
  roles: roleNames,
  appRoutes: () => createMediaApiApp(options).routes,
  start: () => startMediaApiServer({ ...options, host: "127.0.0.1", port: 0 }),
  credentialOf: keyOf,
});
