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
import type { ConsentLedger } from "../../ledger/ledger.js";
import { createConsentApiApp } from "./routes.js";
import { startConsentApiServer } from "./server.js";

const doc = parse(
  readFileSync(
    resolve(
      dirname(fileURLToPath(import.meta.url)),
      "../../../../../docs/consent-api.openapi.yaml",
    ),
    "utf8",
  ),
) as OpenApiAccessDoc;
const keyOf = (role: string) => `consent-${role}-key-0123456789`;
const options = {
  // Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
  ledger: {} as ConsentLedger,
  authenticator: createAuthenticator({
    api: "consent",
    keys: roleNames.map((role) => ({ id: role, keySha256: hashApiKey(keyOf(role)), role })),
  }),
  clock: () => new Date(),
  maxBodyBytes: 1_024,
};
accessTableSuite("consent API", {
  doc,
  declared: declaredAccess,
  table: roleTable,
  roles: roleNames,
  appRoutes: () =>
    createConsentApiApp({ ...options, isStopping: () => false, onWork: () => () => undefined })
      .routes,
  start: () => startConsentApiServer({ ...options, host: "127.0.0.1", port: 0 }),
  credentialOf: keyOf,
});
