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
import type { Campaigns } from "../../control/campaigns.js";
import { createCampaignsApiApp } from "./routes.js";
import { startCampaignsApiServer } from "./server.js";

const doc = parse(
  readFileSync(
    resolve(
      dirname(fileURLToPath(import.meta.url)),
      "../../../../../docs/campaigns-api.openapi.yaml",
    ),
    "utf8",
  ),
) as OpenApiAccessDoc;
const keyOf = (role: string) => `campaigns-${role}-key-0123456789`;
const options = {
  // Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
  campaigns: {} as Campaigns,
  skips: () => Promise.resolve([]),
  authenticator: createAuthenticator({
    api: "campaigns",
    keys: roleNames.map((role) => ({ id: role, keySha256: hashApiKey(keyOf(role)), role })),
  }),
  maxBodyBytes: 1_024,
  maxAudienceBytes: 1_024,
};
accessTableSuite("campaigns API", {
  doc,
  declared: declaredAccess,
  table: roleTable,
  roles: roleNames,
  appRoutes: () =>
    createCampaignsApiApp({ ...options, isStopping: () => false, onWork: () => () => undefined })
      .routes,
  start: () => startCampaignsApiServer({ ...options, host: "127.0.0.1", port: 0 }),
  credentialOf: keyOf,
});
