import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createApiKeyring,
  createAuthenticator,
  hashApiKey,
  roleScopes,
  type ApiKeyConfig,
  type AuthResult,
  type JwtSettings,
} from "./api-access.js";

const ORDERS_KEY = "orders-key-0123456789";
const SUPPORT_KEY = "support-key-9876543210";
const NEXT_KEY = "orders-key-next-000000";
const NOW = Date.parse("2026-12-06T12:00:00Z");
const entries: ApiKeyConfig[] = [
  { id: "orders", keySha256: hashApiKey(ORDERS_KEY), scopes: ["send"], requester: "orders" },
  // The rotation: the old key expires, its successor is valid beside it until then.
  {
    id: "orders",
    keySha256: hashApiKey(NEXT_KEY),
    role: "sender",
    requester: "orders",
  },
  {
    id: "support",
    keySha256: hashApiKey(SUPPORT_KEY),
    role: "viewer",
    expiresAt: "2026-12-07T00:00:00Z",
  },
];

describe("hashApiKey", () => {
  it("is the hex SHA-256 that `printf %s KEY | sha256sum` prints", () => {
    expect(hashApiKey("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

describe("createApiKeyring", () => {
  const keyring = createApiKeyring("messages", entries);
  const principalOf = (r: AuthResult) => (r.ok ? r.principal : undefined);

  it("authenticates a key to its principal, qualifying the API's own scope names", () => {
    const p = principalOf(keyring.authenticate(ORDERS_KEY, NOW));
    expect(p?.id).toBe("orders");
    expect(p?.attributes["requester"]).toBe("orders");
    expect([...(p?.scopes ?? [])]).toEqual(["messages:send"]);
  });

  it("gives a key with a role exactly the role's scopes", () => {
    const p = principalOf(keyring.authenticate(NEXT_KEY, NOW));
    expect(p?.role).toBe("sender");
    expect([...(p?.scopes ?? [])].sort()).toEqual([...roleScopes.sender].sort());
  });

  it("keeps two keys of one id valid at once (rotation overlap)", () => {
    expect(principalOf(keyring.authenticate(ORDERS_KEY, NOW))?.id).toBe("orders");
    expect(principalOf(keyring.authenticate(NEXT_KEY, NOW))?.id).toBe("orders");
  });

  it("refuses a key from its expiry on, naming the key and the instant", () => {
    expect(keyring.authenticate(SUPPORT_KEY, NOW).ok).toBe(true);
    const late = keyring.authenticate(SUPPORT_KEY, Date.parse("2026-12-07T00:00:00Z"));
    expect(late).toMatchObject({ ok: false, reason: "expired_key" });
    expect(late.ok ? "" : late.detail).toMatch(/"support" expired at 2026-12-07T00:00:00Z/);
  });

  it("knows no other key, nor a hash presented as the key, nor upper-case trickery", () => {
    for (const k of ["orders-key-012345678", hashApiKey(ORDERS_KEY), "", ORDERS_KEY.toUpperCase()])
      expect(keyring.authenticate(k, NOW)).toMatchObject({ ok: false, reason: "unknown_key" });
  });

  it("matches upper-case hashes in the file too", () => {
    const upper = createApiKeyring("messages", [
      { id: "orders", keySha256: hashApiKey(ORDERS_KEY).toUpperCase(), scopes: ["send"] },
    ]);
    expect(upper.authenticate(ORDERS_KEY, NOW).ok).toBe(true);
  });
});

describe("roles: least privilege", () => {
  it("lets no role but admin erase, and only auditor and admin read the audit log", () => {
    for (const [role, scopes] of Object.entries(roleScopes)) {
      expect(scopes.includes("consent:erase"), role).toBe(role === "admin");
      expect(scopes.includes("media:erase"), role).toBe(role === "admin");
      expect(scopes.includes("audit:read"), role).toBe(role === "auditor" || role === "admin");
    }
  });

  it("keeps the viewer and the auditor read-only, and personal data from viewer and sender", () => {
    const writes = /:(send|write|delete|erase)$/;
    expect(roleScopes.viewer.filter((s) => writes.test(s))).toEqual([]);
    expect(roleScopes.auditor.filter((s) => writes.test(s))).toEqual([]);
    for (const role of ["viewer", "sender"] as const) {
      expect(roleScopes[role]).not.toContain("query:pii");
      expect(roleScopes[role]).not.toContain("consent:evidence");
    }
  });
});

describe("bearer JWTs (OAuth 2.1 client credentials)", () => {
  let signing: CryptoKey;
  let publicJwk: JWK;
  let publicPem: string;
  let other: CryptoKey;
  let jwksServer: Server;
  let jwksUrl: URL;
  const ISS = "https://auth.example.test/";
  const AUD = "parley-api";

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    signing = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    publicPem = await exportSPKI(pair.publicKey);
    other = (await generateKeyPair("RS256")).privateKey;
    jwksServer = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    jwksUrl = new URL(
      `http://127.0.0.1:${String((jwksServer.address() as AddressInfo).port)}/jwks`,
    );
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        jwksServer.close(() => {
          resolve();
        });
      }),
  );

  const token = (
    claims: Record<string, unknown> = {},
    { key = signing, alg = "RS256", iss = ISS, aud = AUD, exp = NOW / 1000 + 300 } = {},
  ) =>
    new SignJWT({ scope: "operator", ...claims })
      .setProtectedHeader({ alg, kid: "k1" })
      .setIssuer(iss)
      .setAudience(aud)
      .setSubject("crm-backend")
      .setIssuedAt(Math.floor(NOW / 1000) - 10)
      .setExpirationTime(exp)
      .sign(key);

  const settings = (): JwtSettings => ({
    issuer: ISS,
    audience: AUD,
    jwks: { keys: [publicJwk] },
    algorithms: ["RS256", "ES256"],
    clockToleranceSeconds: 0,
  });
  const check = (jwt: string, s = settings()) =>
    createAuthenticator({ api: "consent", keys: [], jwt: s }).authenticate(`Bearer ${jwt}`, NOW);

  it("accepts a valid token: the subject is the principal, its scope claim the role", async () => {
    const result = await check(await token());
    expect(result).toMatchObject({
      ok: true,
      principal: { id: "crm-backend", method: "jwt", role: "operator" },
    });
    expect(result.ok && result.principal.scopes.has("consent:write")).toBe(true);
    expect(result.ok && result.principal.scopes.has("consent:erase")).toBe(false);
  });

  it("fetches the issuer's keys from its JWKS endpoint", async () => {
    const result = await check(await token(), { ...settings(), jwks: jwksUrl });
    expect(result.ok).toBe(true);
  });

  it.each([
    ["a wrong issuer", { iss: "https://evil.example.test/" }, /issuer is not accepted/],
    ["a wrong audience", { aud: "another-api" }, /audience is not this API/],
    ["an expired token", { exp: NOW / 1000 - 60 }, /has expired/],
    ["another key's signature", { key: undefined as unknown as CryptoKey }, /signature/],
  ])("refuses %s, saying why", async (_name, opts, why) => {
    const o = "key" in opts ? { key: other } : opts;
    const result = await check(await token({}, o));
    expect(result).toMatchObject({ ok: false, reason: "invalid_token" });
    expect(result.ok ? "" : result.detail).toMatch(why);
  });

  it("refuses alg none", async () => {
    const unsecured = new UnsecuredJWT({ scope: "admin" })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setSubject("x")
      .setExpirationTime(NOW / 1000 + 300)
      .encode();
    const result = await check(unsecured);
    expect(result).toMatchObject({ ok: false, reason: "invalid_token" });
  });

  it("refuses HS256 signed with the issuer's public key (algorithm confusion)", async () => {
    for (const secret of [publicPem, JSON.stringify(publicJwk)]) {
      const forged = await token(
        { scope: "admin" },
        {
          alg: "HS256",
          key: new TextEncoder().encode(secret) as unknown as CryptoKey,
        },
      );
      const result = await check(forged);
      expect(result).toMatchObject({ ok: false, reason: "invalid_token" });
      expect(result.ok ? "" : result.detail).toMatch(/algorithm is not accepted/);
    }
  });

  it("never lets HS* or none into the pinned list", () => {
    expect(() =>
      createAuthenticator({
        api: "x",
        keys: [],
        jwt: { ...settings(), algorithms: ["HS256", "none"] },
      }),
    ).toThrow(/asymmetric/);
  });
});
