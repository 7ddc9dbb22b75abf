import { describe, expect, it } from "vitest";
import {
  ApiKeysConfigError,
  bearerToken,
  createKeyring,
  hashApiKey,
  loadApiKeys,
  parseApiKeys,
} from "./keys.js";

const ORDERS_KEY = "orders-key-0123456789";
const SUPPORT_KEY = "support-key-9876543210";
const entries = [
  {
    id: "orders",
    keySha256: hashApiKey(ORDERS_KEY),
    scopes: ["messages:send"],
    requester: "orders",
  },
  {
    id: "support",
    keySha256: hashApiKey(SUPPORT_KEY),
    scopes: ["messages:send", "messages:read"],
    requester: "support-desk",
  },
];

const problemsOf = (fn: () => unknown): readonly string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiKeysConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected ApiKeysConfigError");
};

describe("hashApiKey", () => {
  it("is the hex SHA-256 that `printf %s KEY | sha256sum` prints", () => {
    expect(hashApiKey("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

describe("parseApiKeys", () => {
  it("reads the documented shape", () => {
    expect(parseApiKeys(JSON.stringify(entries), "SEND_API_KEYS")).toHaveLength(2);
  });

  it("lists every problem at once", () => {
    const problems = problemsOf(() =>
      parseApiKeys(
        JSON.stringify([
          { id: "bad id!", keySha256: "abc", scopes: ["messages:delete"], requester: "" },
          { id: "x", keySha256: hashApiKey("k"), scopes: [], requester: "x", extra: 1 },
        ]),
        "SEND_API_KEYS",
      ),
    );
    expect(problems.join("\n")).toMatch(/\[0\]\[id\]/);
    expect(problems.join("\n")).toMatch(/\[0\]\[keySha256\].*sha256sum/);
    expect(problems.join("\n")).toMatch(/\[0\]\[scopes\]\[0\]/);
    expect(problems.join("\n")).toMatch(/\[0\]\[requester\]/);
    expect(problems.join("\n")).toMatch(/\[1\]\[scopes\]/);
    expect(problems.join("\n")).toMatch(/\[1\].*extra/);
  });

  it("refuses JSON that does not parse, a hash listed twice, and one id with two requesters", () => {
    expect(problemsOf(() => parseApiKeys("{", "SEND_API_KEYS"))[0]).toMatch(/not JSON/);
    const twice = [entries[0], { ...entries[0], id: "other" }];
    expect(problemsOf(() => parseApiKeys(JSON.stringify(twice), "K"))[0]).toMatch(/twice/);
    const clash = [entries[0], { ...entries[1], id: "orders" }];
    expect(problemsOf(() => parseApiKeys(JSON.stringify(clash), "K"))[0]).toMatch(/same requester/);
  });

  it("refuses one requester under two ids (the router dedupes keys per requester)", () => {
    const shared = [entries[0], { ...entries[1], requester: "orders" }];
    expect(problemsOf(() => parseApiKeys(JSON.stringify(shared), "K"))[0]).toMatch(
      /already belongs to id "orders"/,
    );
  });

  it("accepts two keys under one id with one requester (a rotation)", () => {
    const rotation = [entries[0], { ...entries[0], keySha256: hashApiKey("orders-key-new-1") }];
    expect(parseApiKeys(JSON.stringify(rotation), "K")).toHaveLength(2);
  });
});

describe("loadApiKeys", () => {
  it("is off (undefined) with neither variable or an empty list", () => {
    expect(loadApiKeys({})).toBeUndefined();
    expect(loadApiKeys({ SEND_API_KEYS: "[]" })).toBeUndefined();
  });

  it("reads the file, or says why it cannot", () => {
    const read = (path: string) => {
      if (path === "/keys.json") return JSON.stringify(entries);
      throw new Error("ENOENT");
    };
    expect(loadApiKeys({ SEND_API_KEYS_FILE: "/keys.json" }, read)).toHaveLength(2);
    expect(problemsOf(() => loadApiKeys({ SEND_API_KEYS_FILE: "/missing" }, read))[0]).toMatch(
      /\/missing cannot be read \(ENOENT\)/,
    );
  });

  it("refuses both variables at once", () => {
    expect(
      problemsOf(() => loadApiKeys({ SEND_API_KEYS_FILE: "/k", SEND_API_KEYS: "[]" }))[0],
    ).toMatch(/not both/);
  });
});

describe("createKeyring", () => {
  const keyring = createKeyring(parseApiKeys(JSON.stringify(entries), "K"));

  it("authenticates a configured key to its principal, requester and scopes", () => {
    const principal = keyring.authenticate(SUPPORT_KEY);
    expect(principal?.id).toBe("support");
    expect(principal?.requester).toBe("support-desk");
    expect([...(principal?.scopes ?? [])]).toEqual(["messages:send", "messages:read"]);
    expect(keyring.authenticate(ORDERS_KEY)?.scopes.has("messages:read")).toBe(false);
  });

  it("knows no other key, nor a hash presented as the key", () => {
    expect(keyring.authenticate("orders-key-012345678")).toBeUndefined();
    expect(keyring.authenticate(hashApiKey(ORDERS_KEY))).toBeUndefined();
    expect(keyring.authenticate("")).toBeUndefined();
  });

  it("matches upper-case hashes in the file too", () => {
    const upper = createKeyring(
      parseApiKeys(
        JSON.stringify([{ ...entries[0], keySha256: hashApiKey(ORDERS_KEY).toUpperCase() }]),
        "K",
      ),
    );
    expect(upper.authenticate(ORDERS_KEY)?.id).toBe("orders");
  });
});

describe("bearerToken", () => {
  it("takes the token of a Bearer header, any case of the scheme", () => {
    expect(bearerToken("Bearer abc.DEF-1")).toBe("abc.DEF-1");
    expect(bearerToken("bearer abc")).toBe("abc");
  });

  it("is undefined for other schemes, no token, or a token with spaces", () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken("Basic dXNlcjpwYXNz")).toBeUndefined();
    expect(bearerToken("Bearer ")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
  });
});
