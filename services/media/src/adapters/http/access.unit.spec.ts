import { roleTableFixture, type OpenApiAccessDoc } from "@parley/runtime";
import { accessTableSuite, readRepoFile } from "@parley/testkit";
import { parse } from "yaml";
import type { MediaObjects } from "../../media/objects.js";
import type { MediaQueries } from "../../media/ports.js";
import { createMediaApiApp } from "./routes.js";
import { startMediaApiServer } from "./server.js";

const { authenticator, suite } = roleTableFixture(
  "media",
  parse(readRepoFile("docs/media-api.openapi.yaml")) as OpenApiAccessDoc,
);
// Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
const options = {
  objects: {} as MediaObjects,
  queries: {} as MediaQueries,
  authenticator,
  maxBytes: 1_024,
};
accessTableSuite("media API", {
  ...suite,
  appRoutes: () => createMediaApiApp(options).routes,
  start: () => startMediaApiServer({ ...options, host: "127.0.0.1", port: 0 }),
});
