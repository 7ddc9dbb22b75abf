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
import type { MediaObjects } from "../../media/objects.js";
import type { MediaQueries } from "../../media/ports.js";
import { createMediaApiApp } from "./routes.js";
import { startMediaApiServer, type MediaApiServer } from "./server.js";

const doc = parse(
  readFileSync(
    resolve(dirname(fileURLToPath(import.meta.url)), "../../../../../docs/media-api.openapi.yaml"),
    "utf8",
  ),
) as OpenApiAccessDoc;
const keyOf = (role: string) => `media-${role}-key-0123456789`;
const options = {
  // Access is decided before any handler runs: an allowed call may fail after it, never with 401/403.
  objects: {} as MediaObjects,
  queries: {} as MediaQueries,
  authenticator: createAuthenticator({
    api: "media",
    keys: roleNames.map((role) => ({ id: role, keySha256: hashApiKey(keyOf(role)), role })),
  }),
  maxBytes: 1_024,
};
let server: MediaApiServer;

beforeAll(async () => {
  server = await startMediaApiServer({ ...options, host: "127.0.0.1", port: 0 });
});
afterAll(() => server.stop());

describe("media API: the role table of docs/media-api.openapi.yaml", () => {
  it("enforces exactly the scope each operation declares", () => {
    const app = createMediaApiApp(options);
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
