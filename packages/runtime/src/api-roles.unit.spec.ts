import { describe, expect, it } from "vitest";
import { declaredAccess, roleTable } from "./api-roles.js";

const doc = {
  paths: {
    "/v1/things": {
      parameters: [],
      get: { "x-parley-scope": "media:read" },
      delete: { "x-parley-scope": "media:erase", "x-parley-audit": "media.erased" },
    },
  },
};

describe("declaredAccess", () => {
  it("lists every operation with its scope and audit action", () => {
    expect(declaredAccess(doc)).toEqual([
      { method: "get", path: "/v1/things", scope: "media:read" },
      { method: "delete", path: "/v1/things", scope: "media:erase", audit: "media.erased" },
    ]);
  });

  it("refuses a document with an operation that declares no scope, naming it", () => {
    const open = { paths: { ...doc.paths, "/v1/new": { post: { summary: "forgot" } } } };
    expect(() => declaredAccess(open)).toThrow("POST /v1/new declares no x-parley-scope");
  });

  it("refuses a scope no role knows (a typo would lock everyone out but admin, silently)", () => {
    const typo = { paths: { "/v1/x": { get: { "x-parley-scope": "media:raed" } } } };
    expect(() => declaredAccess(typo)).toThrow("declares the unknown scope media:raed");
  });
});

describe("roleTable", () => {
  it("has a row per operation and role; erasure is admin's alone", () => {
    const rows = roleTable(doc);
    expect(rows).toHaveLength(2 * 5);
    expect(rows.filter((r) => r.scope === "media:erase" && r.allowed).map((r) => r.role)).toEqual([
      "admin",
    ]);
    expect(rows.filter((r) => r.scope === "media:read" && !r.allowed)).toEqual([]);
  });
});
