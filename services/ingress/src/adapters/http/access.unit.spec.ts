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
import { createMetrics } from "@parley/telemetry";
import { createRateLimiter } from "../../admission/rate-limit.js";
import { createSendApiMetrics } from "../../metrics.js";
import { createAcceptSend } from "../../sending/accept.js";
import { createMemorySendRecordStore } from "../../sending/memory-store.js";
import { createSendApiApp } from "./send-routes.js";
import { startSendApiServer } from "./send-server.js";

const doc = parse(
  readFileSync(
    resolve(dirname(fileURLToPath(import.meta.url)), "../../../../../docs/send-api.openapi.yaml"),
    "utf8",
  ),
) as OpenApiAccessDoc;
const keyOf = (role: string) => `send-${role}-key-0123456789`;
const store = createMemorySendRecordStore({ retentionMs: 60_000 });
const metrics = createSendApiMetrics(
  createMetrics({ service: "access-test", collectDefaults: false }),
);
const quiet = () => undefined;
const options = {
  // Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
  store,
  acceptSend: createAcceptSend({
    store,
    publish: () => Promise.resolve(),
    metrics,
    publishTimeoutMs: 200,
  }),
  bodyLimitBytes: 4_096,
  rateLimiter: createRateLimiter({ ratePerSecond: 0, burst: 1 }),
  metrics,
  logger: { info: quiet, warn: quiet, error: quiet, debug: quiet },
  authenticator: createAuthenticator({
    api: "messages",
    keys: roleNames.map((role) => ({
      id: role,
      keySha256: hashApiKey(keyOf(role)),
      role,
      requester: role,
    })),
  }),
};
accessTableSuite("send API", {
  doc,
  declared: declaredAccess,
  table: roleTable,
  roles: roleNames,
  appRoutes: () => createSendApiApp(options).routes,
  start: () => startSendApiServer({ ...options, host: "127.0.0.1", port: 0 }),
  credentialOf: keyOf,
});
