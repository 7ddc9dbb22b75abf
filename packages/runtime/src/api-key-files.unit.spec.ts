import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { apiKeyEntry, apiKeyList } from "@parley/config";
import type { AuditFact } from "@parley/kafka";
import fc from "fast-check";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { hashApiKey } from "./api-access.js";
import { apiAuthenticatorOf } from "./api-settings.js";
import type { ReloadingAuthenticator } from "./key-reload.js";

// Key rotation in every API (issue 28): the one wiring each service's API uses. A key list given
// as <VAR>_FILE and a JWKS given as API_JWT_JWKS_FILE are re-read on change, without a restart;
// each change is an AuditRecorded keys.changed naming ids and kids, never material; a bad file
// keeps the keys in use. The last test checks that every service building an API wires it.

const dir = mkdtempSync(join(tmpdir(), "parley-api-keys-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
/** Writes a file the way a secret manager's agent does: a new file renamed over the old one. */
const put = (path: string, content: string) => {
  const tmp = `${path}.${String(Math.random()).slice(2)}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
};
const schema = apiKeyList(apiKeyEntry(["read", "write"], {}));
const entry = (id: string, key: string) => ({
  id,
  keySha256: hashApiKey(key),
  role: "operator" as const,
});

interface Logged {
  readonly level: "info" | "error";
  readonly fields: Record<string, unknown>;
}
function wire(env: Record<string, string>, config: Record<string, unknown> = {}, intervalMs = 20) {
  const facts: AuditFact[] = [];
  const logged: Logged[] = [];
  const auth = apiAuthenticatorOf(config, {
    api: "media",
    keys: [],
    logger: {
      info: (fields: object) => logged.push({ level: "info", fields: { ...fields } }),
      error: (fields: object) => logged.push({ level: "error", fields: { ...fields } }),
    },
    reload: {
      variable: "MEDIA_API_KEYS",
      schema,
      audit: (f) => facts.push(f),
      env,
      intervalMs,
    },
  }) as ReloadingAuthenticator;
  return { auth, facts, logged };
}
const ok = async (auth: ReloadingAuthenticator, token: string) =>
  (await auth.authenticate(`Bearer ${token}`, Date.now())).ok;

describe("apiAuthenticatorOf: an API's key file re-read on change", () => {
  it("rotates with overlap from <VAR>_FILE without a restart, and audits each change by name", async () => {
    const file = join(dir, "media-keys.json");
    const [OLD, NEW] = ["media-old-key-0123456789", "media-new-key-0123456789"];
    put(file, JSON.stringify([entry("crm", OLD)]));
    const { auth, facts, logged } = wire({ MEDIA_API_KEYS_FILE: file });
    try {
      expect(await ok(auth, OLD)).toBe(true);
      expect(await ok(auth, NEW)).toBe(false);
      // Overlap: both keys valid while the callers move.
      put(file, JSON.stringify([entry("crm", OLD), entry("crm", NEW)]));
      await auth.reload();
      expect([await ok(auth, OLD), await ok(auth, NEW)]).toEqual([true, true]);
      // The old one removed: refused from the next request on, found by the poll by itself.
      put(file, JSON.stringify([entry("crm", NEW)]));
      await expect.poll(() => ok(auth, OLD), { timeout: 5_000, interval: 20 }).toBe(false);
      expect(await ok(auth, NEW)).toBe(true);
      expect(facts.map((f) => [f.action, f.details["added"], f.details["removed"]])).toEqual([
        ["keys.changed", [`crm#${hashApiKey(NEW).slice(0, 8)}`], []],
        ["keys.changed", [], [`crm#${hashApiKey(OLD).slice(0, 8)}`]],
      ]);
      // Names only (consent's key-reload spec checks the fact is a valid AuditRecorded).
      for (const fact of facts) expect(fact.target).toEqual({ api: "media", file });
      const json = JSON.stringify(facts) + JSON.stringify(logged);
      for (const secret of [OLD, NEW, hashApiKey(OLD), hashApiKey(NEW)])
        expect(json).not.toContain(secret);
    } finally {
      auth.stop();
    }
  });

  it("takes a new JWKS signing key from API_JWT_JWKS_FILE and drops the removed one", async () => {
    const file = join(dir, "jwks.json");
    const [a, b] = [await generateKeyPair("ES256"), await generateKeyPair("ES256")];
    const jwk = async (k: CryptoKey, kid: string) => ({
      ...(await exportJWK(k)),
      kid,
      alg: "ES256",
    });
    const jwksA = JSON.stringify({ keys: [await jwk(a.publicKey, "a")] });
    put(file, jwksA);
    const config = {
      API_JWT_ISSUER: "https://auth.example",
      API_JWT_AUDIENCE: "parley",
      API_JWT_JWKS: jwksA,
      API_JWT_ALGORITHMS: ["ES256"],
    };
    const token = (key: CryptoKey, kid: string) =>
      new SignJWT({ scope: "operator" })
        .setProtectedHeader({ alg: "ES256", kid })
        .setIssuer(config.API_JWT_ISSUER)
        .setAudience(config.API_JWT_AUDIENCE)
        .setSubject("crm")
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(key);
    const { auth, facts } = wire({ API_JWT_JWKS_FILE: file }, config);
    try {
      const [byA, byB] = [await token(a.privateKey, "a"), await token(b.privateKey, "b")];
      expect([await ok(auth, byA), await ok(auth, byB)]).toEqual([true, false]);
      put(file, JSON.stringify({ keys: [await jwk(b.publicKey, "b")] }));
      await auth.reload();
      expect([await ok(auth, byA), await ok(auth, byB)]).toEqual([false, true]);
      expect(facts.map((f) => [f.details["jwksAdded"], f.details["jwksRemoved"]])).toEqual([
        [["b"], ["a"]],
      ]);
    } finally {
      auth.stop();
    }
  });

  it("without a file (keys inline) or without reload, a fixed authenticator: nothing polled", () => {
    const inline = apiAuthenticatorOf(
      {},
      {
        api: "media",
        keys: [entry("crm", "inline-key-0123456789")],
        logger: { info: () => undefined, error: () => undefined },
        reload: { variable: "MEDIA_API_KEYS", schema, audit: () => undefined, env: {} },
      },
    );
    expect("reload" in inline).toBe(false);
  });

  it("property: each valid key file becomes the keys in use exactly; a hostile one keeps them, with an error naming the file", async () => {
    const file = join(dir, "prop-keys.json");
    put(file, "[]");
    // Reloaded by the test only (no poll racing it), so each write is judged exactly once.
    const { auth, facts, logged } = wire({ MEDIA_API_KEYS_FILE: file }, {}, 3_600_000);
    // The first load, right after creation, would otherwise race the first step's write.
    await auth.loaded;
    const pool = ["k-alpha-0123456789", "k-beta-0123456789", "k-gamma-0123456789"];
    const valid = fc.subarray(pool).map((keys) => ({
      kind: "valid" as const,
      keys,
      text: JSON.stringify(keys.map((k) => entry(k.slice(2, 6), k))),
    }));
    const hostile = fc
      .oneof(
        fc.constantFrom("{", "null", '{"keys":[]}', "\u0000\u00ff", '[{"id":"x"}]'),
        fc.constant(JSON.stringify([{ id: "crm", keySha256: "nothex", role: "operator" }])),
        fc.constant(
          JSON.stringify([entry("crm", "k-alpha-0123456789"), entry("crm", "k-alpha-0123456789")]),
        ),
        fc.string({ maxLength: 40 }).filter((s) => !/^\s*\[\s*\]\s*$/.test(s) && s.trim() !== ""),
      )
      .map((text) => ({ kind: "hostile" as const, keys: undefined, text }));
    let inUse: readonly string[] = [];
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof(valid, hostile), { minLength: 1, maxLength: 8 }),
          async (steps) => {
            for (const s of steps) {
              const errors = logged.filter((l) => l.level === "error").length;
              const auditsBefore = facts.length;
              put(file, s.text);
              await auth.reload();
              if (s.kind === "valid") {
                const changed = s.keys.join() !== [...inUse].join();
                inUse = s.keys;
                expect(facts.length - auditsBefore).toBe(changed ? 1 : 0);
              } else {
                expect(logged.filter((l) => l.level === "error").length).toBe(errors + 1);
                expect(logged.at(-1)?.fields["file"]).toBe(file);
                expect(String(logged.at(-1)?.fields["err"])).toContain("prop-keys.json");
                expect(facts.length).toBe(auditsBefore);
              }
              for (const k of pool) expect(await ok(auth, k)).toBe(inUse.includes(k));
            }
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      auth.stop();
    }
  });
});

describe("every service's API is wired to reload its keys", () => {
  // main.ts is the composition root (CONTRIBUTING.md): an API's authenticator is built there,
  // so a service that builds an API without the reload (or builds its own) fails here.
  const services = join(dirname(fileURLToPath(import.meta.url)), "../../../services");
  const rows = readdirSync(services).map((name) => ({
    name,
    main: readFileSync(join(services, name, "src/main.ts"), "utf8"),
  }));
  const withApi = rows.filter((r) =>
    /apiAccessOf\(|apiAuthenticatorOf\(|jwtSettingsOf\(/.test(r.main),
  );

  it("finds the services with an authenticated API", () => {
    expect(withApi.map((r) => r.name).sort()).toEqual([
      "campaigns",
      "consent",
      "ingress",
      "media",
      "projection",
    ]);
  });

  it.each(withApi.map((r) => [r.name, r.main] as const))(
    "%s passes reload (its key variable, schema and audit) to the shared wiring",
    (_name, main) => {
      const calls = [
        ...main.matchAll(/(?:apiAccessOf|apiAuthenticatorOf)\(config, \{([\s\S]*?)\n\s*\}\)/g),
      ];
      expect(calls.length).toBe(1);
      const body = calls[0]?.[1] ?? "";
      expect(body).toMatch(/reload: \{\s*variable: "[A-Z_]+_API_KEYS",/);
      expect(body).toMatch(/audit: \{ producer, catalog, service: "[a-z]+" \}/);
      expect(main).not.toMatch(/createAuthenticator\(|createReloadingAuthenticator\(/);
    },
  );
});
