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
import type { Queries } from "../../queries/queries.js";
import { createQueryApiApp } from "./routes.js";
import { startQueryApiServer } from "./server.js";

const doc = parse(
  readFileSync(
    resolve(
      dirname(fileURLToPath(import.meta.url)),
      "../../../../../docs/projection-api.openapi.yaml",
    ),
    "utf8",
  ),
) as OpenApiAccessDoc;
const keyOf = (role: string) => `query-${role}-key-0123456789`;
const options = {
  // Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
  queries: {} as Queries,
  authenticator: createAuthenticator({
    api: "query",
    keys: roleNames.map((role) => ({ id: role, keySha256: hashApiKey(keyOf(role)), role })),
  }),
  rateLimiter: { take: () => true },
  logger: { warn: () => undefined, error: () => undefined },
};
accessTableSuite("query API", {
  doc,
  declared: declaredAccess,
  table: roleTable,
  roles: roleNames,
  appRoutes: () => createQueryApiApp(options).routes,
  start: () => startQueryApiServer({ ...options, host: "127.0.0.1", port: 0 }),
  credentialOf: keyOf,
});
