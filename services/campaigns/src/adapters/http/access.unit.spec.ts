import { roleTableFixture, type OpenApiAccessDoc } from "@parley/runtime";
import { accessTableSuite, readRepoFile } from "@parley/testkit";
import { parse } from "yaml";
import type { Campaigns } from "../../control/campaigns.js";
import { createCampaignsApiApp } from "./routes.js";
import { startCampaignsApiServer } from "./server.js";

const { authenticator, suite } = roleTableFixture(
  "campaigns",
  parse(readRepoFile("docs/campaigns-api.openapi.yaml")) as OpenApiAccessDoc,
);
// Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
const options = {
  campaigns: {} as Campaigns,
  skips: () => Promise.resolve([]),
  authenticator,
  maxBodyBytes: 1_024,
  maxAudienceBytes: 1_024,
};
accessTableSuite("campaigns API", {
  ...suite,
  appRoutes: () =>
    createCampaignsApiApp({ ...options, isStopping: () => false, onWork: () => () => undefined })
      .routes,
  start: () => startCampaignsApiServer({ ...options, host: "127.0.0.1", port: 0 }),
});
