import { roleTableFixture, type OpenApiAccessDoc } from "@parley/runtime";
import { accessTableSuite, readRepoFile } from "@parley/testkit";
import { parse } from "yaml";
import type { Queries } from "../../queries/queries.js";
import { createQueryApiApp } from "./routes.js";
import { startQueryApiServer } from "./server.js";

const { authenticator, suite } = roleTableFixture(
  "query",
  parse(readRepoFile("docs/projection-api.openapi.yaml")) as OpenApiAccessDoc,
);
// Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
const options = {
  queries: {} as Queries,
  authenticator,
  rateLimiter: { take: () => true },
  logger: { warn: () => undefined, error: () => undefined },
};
accessTableSuite("query API", {
  ...suite,
  appRoutes: () => createQueryApiApp(options).routes,
  start: () => startQueryApiServer({ ...options, host: "127.0.0.1", port: 0 }),
});
