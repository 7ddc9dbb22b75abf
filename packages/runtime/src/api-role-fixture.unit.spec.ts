import { describe, expect, it } from "vitest";
import { roleNames, roleScopes } from "./api-access.js";
import { roleTableFixture } from "./api-role-fixture.js";

const doc = {
  paths: {
    "/v1/things": {
      get: { "x-parley-scope": "media:read" },
      post: { "x-parley-scope": "media:write" },
    },
  },
};

describe("roleTableFixture", () => {
  it("gives each role a credential the authenticator knows as that role, with its scopes", async () => {
    const { authenticator, suite } = roleTableFixture("media", doc);
    for (const role of roleNames) {
      const result = await authenticator.authenticate(`Bearer ${suite.credentialOf(role)}`, 0);
      expect(result.ok && result.principal.role).toBe(role);
      expect(result.ok && [...result.principal.scopes].sort()).toEqual(
        [...roleScopes[role]].sort(),
      );
    }
    expect(new Set(roleNames.map(suite.credentialOf)).size).toBe(roleNames.length);
  });

  it("refuses a credential of another API and one for no role", async () => {
    const { authenticator } = roleTableFixture("media", doc);
    const other = roleTableFixture("consent", doc).suite;
    for (const credential of [other.credentialOf("admin"), "media-nobody-key-0123456789"]) {
      expect(await authenticator.authenticate(`Bearer ${credential}`, 0)).toMatchObject({
        ok: false,
        reason: "unknown_key",
      });
    }
  });

  it("hands the document and its role table to the suite", () => {
    const { suite } = roleTableFixture("media", doc);
    expect(suite.declared(suite.doc).map((r) => `${r.method} ${r.scope}`)).toEqual([
      "get media:read",
      "post media:write",
    ]);
    expect(suite.table(suite.doc)).toHaveLength(2 * suite.roles.length);
  });
});
