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
import { probeAccessTable } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Queries } from "../../queries/queries.js";
import { createQueryApiApp } from "./routes.js";
import { startQueryApiServer, type QueryApiServer } from "./server.js";

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
let server: QueryApiServer;

beforeAll(async () => {
  server = await startQueryApiServer({ ...options, host: "127.0.0.1", port: 0 });
});
afterAll(() => server.stop());

describe("query API: the role table of docs/projection-api.openapi.yaml", () => {
  it("enforces exactly the scope each operation declares", () => {
    const app = createQueryApiApp(options);
    const sort = (r: readonly { method: string; path: string }[]) =>
      [...r].sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
    expect(sort(app.routes)).toEqual(sort(declaredAccess(doc)));
  });

  it("allows and refuses every operation for every role as the table says", async () => {
    const cases = roleTable(doc);
    expect(cases.length).toBe(declaredAccess(doc).length * roleNames.length);
    const mismatches = await probeAccessTable({
      base: `http://127.0.0.1:${String(server.port)}`,
      cases,
      credentialOf: keyOf,
    });
    expect(mismatches).toEqual([]);
  });
});
