import { request } from "node:http";
import fc from "fast-check";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthenticator, hashApiKey } from "./api-access.js";
import { createApiChassis, type AuditEntry } from "./api-app.js";
import { startApiListener, type ApiListener } from "./api-listener.js";

const VIEWER = "viewer-key-0123456789";
const SENDER = "sender-key-0123456789";
const OLD = "old-key-0123456789abc";
const ISS = "https://auth.example.test/";
const AUD = "parley-api";
let signing: CryptoKey;
let jwk: JWK;
let listener: ApiListener;
const audited: AuditEntry[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  signing = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
  listener = await startApiListener({
    host: "127.0.0.1",
    port: 0,
    checkName: "api",
    description: "the test API",
    app: () => {
      const api = createApiChassis({
        api: "consent",
        realm: "parley-test",
        authenticator: createAuthenticator({
          api: "consent",
          keys: [
            { id: "viewer", keySha256: hashApiKey(VIEWER), role: "viewer" },
            { id: "sender", keySha256: hashApiKey(SENDER), role: "sender" },
            {
              id: "old",
              keySha256: hashApiKey(OLD),
              role: "admin",
              expiresAt: "2020-01-01T00:00:00Z",
            },
          ],
          jwt: { issuer: ISS, audience: AUD, jwks: { keys: [jwk] }, algorithms: ["ES256"] },
        }),
        onAudit: (entry) => audited.push(entry),
      });
      api.route("get", "/v1/things/{id}", "read", (req, res) => {
        res.json({ id: req.params["id"] });
      });
      api.route(
        "post",
        "/v1/things/{id}/erasure",
        { scope: "erase", audit: "thing.erased" },
        (_req, res) => {
          res.status(202).json({});
        },
      );
      return api.app;
    },
  });
});
afterAll(() => listener.stop());

const jwt = (scope: string, exp = Math.floor(Date.now() / 1000) + 300) =>
  new SignJWT({ scope })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setSubject("crm")
    .setExpirationTime(exp)
    .sign(signing);

/** One request with a raw Authorization header (node's client sends any valid header bytes). */
function call(authorization: string | undefined, method = "GET", path = "/v1/things/a1") {
  return new Promise<{ status: number; type: string; body: string; challenge: unknown }>(
    (resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: listener.port,
          method,
          path,
          agent: false,
          headers: authorization === undefined ? {} : { authorization },
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (body += c));
          res.on("end", () => {
            resolve({
              status: res.statusCode ?? 0,
              type: res.headers["content-type"] ?? "",
              body,
              challenge: res.headers["www-authenticate"],
            });
          });
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

describe("the API chassis: authentication and scope", () => {
  it("lets a role with the scope in, answers 403 naming the scope to one without", async () => {
    expect((await call(`Bearer ${VIEWER}`)).status).toBe(200);
    const refused = await call(`Bearer ${SENDER}`);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({
      type: "urn:parley:problem:insufficient-scope",
      scope: "consent:read",
    });
    expect(refused.challenge).toMatch(/error="insufficient_scope", scope="consent:read"/);
  });

  it("refuses an expired API key with 401 naming it", async () => {
    const res = await call(`Bearer ${OLD}`);
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as { detail: string }).detail).toMatch(
      /"old" expired at 2020-01-01T00:00:00Z/,
    );
  });

  it("records an audit entry for a sensitive route that succeeded, not for a refused one", async () => {
    await call(`Bearer ${VIEWER}`, "POST", "/v1/things/a2/erasure");
    expect(
      (await call(`Bearer ${await jwt("admin")}`, "POST", "/v1/things/a3/erasure")).status,
    ).toBe(202);
    expect(audited.map((a) => [a.action, a.principal.id, a.params["id"], a.status])).toEqual([
      ["thing.erased", "crm", "a3", 202],
    ]);
  });

  it("answers every hostile Authorization header with a precise 401 or 403 problem, never a crash", async () => {
    const valid = await jwt("viewer");
    const noScope = await jwt("sender");
    const expired = await jwt("admin", Math.floor(Date.now() / 1000) - 3_600);
    const [h, p, s] = valid.split(".") as [string, string, string];
    const b64 = fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/);
    const headerChars = fc.stringMatching(/^[\x20-\x7e]{0,200}$/);
    const credential = fc.oneof(
      fc.constant({ header: `Bearer ${VIEWER}`, status: 200 }),
      fc.constant({ header: `Bearer ${valid}`, status: 200 }),
      fc.constant({ header: `bearer   ${valid}  `, status: 200 }),
      fc.constant({ header: `Bearer ${SENDER}`, status: 403 }),
      fc.constant({ header: `Bearer ${noScope}`, status: 403 }),
      fc.constant({ header: `Bearer ${expired}`, status: 401 }),
      headerChars.map((x) => ({ header: x, status: 401 })),
      headerChars.map((x) => ({ header: `Bearer ${x}`, status: 401 })),
      fc
        .tuple(b64, b64, b64)
        .map(([a, b, c]) => ({ header: `Bearer ${a}.${b}.${c}`, status: 401 })),
      // A valid token with one part replaced: the signature no longer holds.
      fc.tuple(fc.nat(2), b64).map(([i, x]) => ({
        header: `Bearer ${[i === 0 ? x : h, i === 1 ? x : p, i === 2 ? x : s].join(".")}`,
        status: 401,
      })),
      fc.constant({ header: `Basic ${Buffer.from("a:b").toString("base64")}`, status: 401 }),
    );
    await fc.assert(
      fc.asyncProperty(credential, async ({ header, status }) => {
        const sent = header.trim() === "" ? undefined : header;
        const res = await call(sent);
        // A mutated part may by chance still verify only if unchanged: then it is the valid token.
        const expected = sent === `Bearer ${valid}` ? 200 : sent === undefined ? 401 : status;
        expect(res.status).toBe(expected);
        if (expected === 200) return;
        expect(res.type).toContain("application/problem+json");
        const problem = JSON.parse(res.body) as { type: string; status: number; detail: string };
        expect(problem.status).toBe(expected);
        expect(problem.type).toBe(
          expected === 401
            ? "urn:parley:problem:unauthorized"
            : "urn:parley:problem:insufficient-scope",
        );
        expect(problem.detail.length).toBeGreaterThan(10);
        expect(res.challenge).toMatch(/^Bearer realm="parley-test"/);
        // The credential is never echoed back.
        if (sent !== undefined && sent.length > 24) expect(res.body).not.toContain(sent.slice(7));
      }),
      { numRuns: 150 },
    );
  });
});
