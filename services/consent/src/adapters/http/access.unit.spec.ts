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
import type { ConsentLedger } from "../../ledger/ledger.js";
import { createConsentApiApp } from "./routes.js";
import { startConsentApiServer, type ConsentApiServer } from "./server.js";

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
let server: ConsentApiServer;

beforeAll(async () => {
  server = await startConsentApiServer({ ...options, host: "127.0.0.1", port: 0 });
});
afterAll(() => server.stop());

describe("consent API: the role table of docs/consent-api.openapi.yaml", () => {
  it("enforces exactly the scope each operation declares", () => {
    const app = createConsentApiApp({
      ...options,
      isStopping: () => false,
      onWork: () => () => undefined,
    });
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
