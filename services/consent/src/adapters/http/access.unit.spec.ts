import { roleTableFixture, type OpenApiAccessDoc } from "@parley/runtime";
import { accessTableSuite, readRepoFile } from "@parley/testkit";
import { parse } from "yaml";
import type { ConsentLedger } from "../../ledger/ledger.js";
import { createConsentApiApp } from "./routes.js";
import { startConsentApiServer } from "./server.js";

const { authenticator, suite } = roleTableFixture(
  "consent",
  parse(readRepoFile("docs/consent-api.openapi.yaml")) as OpenApiAccessDoc,
);
// Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
const options = {
  ledger: {} as ConsentLedger,
  authenticator,
  clock: () => new Date(),
  maxBodyBytes: 1_024,
};
accessTableSuite("consent API", {
  ...suite,
  appRoutes: () =>
    createConsentApiApp({ ...options, isStopping: () => false, onWork: () => () => undefined })
      .routes,
  start: () => startConsentApiServer({ ...options, host: "127.0.0.1", port: 0 }),
});
