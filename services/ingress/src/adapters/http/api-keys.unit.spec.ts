import { describe, expect, it } from "vitest";
import type { ApiKeyEntry } from "../../config.js";
import { bearerToken, createKeyring, hashApiKey } from "./api-keys.js";

const ORDERS_KEY = "orders-key-0123456789";
const SUPPORT_KEY = "support-key-9876543210";
const entries: ApiKeyEntry[] = [
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

describe("hashApiKey", () => {
  it("is the hex SHA-256 that `printf %s KEY | sha256sum` prints", () => {
    expect(hashApiKey("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

describe("createKeyring", () => {
  const keyring = createKeyring(entries);

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
    const [orders] = entries;
    if (orders === undefined) throw new Error("unreachable");
    const upper = createKeyring([{ ...orders, keySha256: hashApiKey(ORDERS_KEY).toUpperCase() }]);
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
