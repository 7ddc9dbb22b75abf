import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { hashApiKey, type ApiKeyConfig } from "./api-access.js";
import { createReloadingAuthenticator, keyChangeOf, type KeyChange } from "./key-reload.js";

// Key changes audited (issue 28): a key file re-read on change swaps the keys without a restart
// and reports what changed by name only; a file that does not parse keeps the keys in use.

const dir = mkdtempSync(join(tmpdir(), "parley-keys-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a file the way a secret manager's agent does: a new file renamed over the old one. */
function put(path: string, content: string): void {
  const tmp = `${path}.${String(Math.random()).slice(2)}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

const OLD = "old-key-0123456789abcdef";
const NEW = "new-key-0123456789abcdef";
const entry = (id: string, key: string, extra: Partial<ApiKeyConfig> = {}): ApiKeyConfig => ({
  id,
  keySha256: hashApiKey(key),
  role: "operator",
  ...extra,
});
const parseKeys = (text: string): ApiKeyConfig[] => {
  const value = JSON.parse(text) as unknown;
  if (!Array.isArray(value)) throw new Error("not a list of keys");
  return value as ApiKeyConfig[];
};

describe("createReloadingAuthenticator", () => {
  it("reports a bad file once when an explicit reload judges it before the first load's snapshot is back", async () => {
    const file = join(dir, "keys-first-load.json");
    const initial = [entry("crm", OLD)];
    put(file, JSON.stringify(initial));
    const errors: unknown[] = [];
    const auth = createReloadingAuthenticator({
      api: "consent",
      initial: { keys: initial },
      keysFile: file,
      parseKeys,
      intervalMs: 60_000,
      onReload: () => undefined,
      onError: (e) => errors.push(e),
    });
    try {
      // Before the first snapshot (an asynchronous read) is back: a bad write, judged at once.
      put(file, "[{ not json");
      await auth.reload();
      await auth.loaded;
      expect(errors).toHaveLength(1);
      expect((await auth.authenticate(`Bearer ${OLD}`, Date.now())).ok).toBe(true);
    } finally {
      auth.stop();
    }
  });

  it("uses a rotated key file at once, reports the change by name, and keeps the keys when a file is bad", async () => {
    const file = join(dir, "keys.json");
    const initial = [entry("crm", OLD)];
    put(file, JSON.stringify(initial));
    const changes: KeyChange[] = [];
    const errors: unknown[] = [];
    let nowMs = Date.parse("2026-12-06T12:00:00Z");
    const auth = createReloadingAuthenticator({
      api: "consent",
      initial: { keys: initial },
      keysFile: file,
      parseKeys,
      intervalMs: 50,
      now: () => nowMs,
      onReload: (c) => changes.push(c),
      onError: (e) => errors.push(e),
    });
    try {
      expect((await auth.authenticate(`Bearer ${NEW}`, nowMs)).ok).toBe(false);
      await auth.loaded;

      // The rotation: the new key beside the old one (overlap), the old one expiring in an hour.
      put(
        file,
        JSON.stringify([
          entry("crm", OLD, { expiresAt: "2026-12-06T13:00:00Z" }),
          entry("crm", NEW),
        ]),
      );
      await auth.reload();
      expect((await auth.authenticate(`Bearer ${NEW}`, nowMs)).ok).toBe(true);
      expect((await auth.authenticate(`Bearer ${OLD}`, nowMs)).ok).toBe(true);
      const newName = `crm#${hashApiKey(NEW).slice(0, 8)}`;
      const oldName = `crm#${hashApiKey(OLD).slice(0, 8)}`;
      expect(changes).toEqual([
        { added: [newName], removed: [], expired: [], jwksAdded: [], jwksRemoved: [] },
      ]);

      // A file that does not parse: refused, named, and the keys in use stay.
      put(file, "[{ not json");
      await auth.reload();
      // The poll (every 50 ms) meets the same bad write after the reload judged it: not again.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(errors).toHaveLength(1);
      expect((await auth.authenticate(`Bearer ${NEW}`, nowMs)).ok).toBe(true);

      // Past the old key's expiry, the next reload says it expired; then it is removed.
      nowMs = Date.parse("2026-12-06T14:00:00Z");
      put(
        file,
        JSON.stringify([
          entry("crm", OLD, { expiresAt: "2026-12-06T13:00:00Z" }),
          entry("crm", NEW),
          entry("billing", "billing-key-0123456789"),
        ]),
      );
      await auth.reload();
      expect(changes[1]).toMatchObject({ expired: [oldName] });
      put(file, JSON.stringify([entry("crm", NEW)]));
      await auth.reload();
      expect(changes[2]).toMatchObject({
        added: [],
        removed: [`billing#${hashApiKey("billing-key-0123456789").slice(0, 8)}`, oldName].sort(),
      });
      expect((await auth.authenticate(`Bearer ${OLD}`, nowMs)).ok).toBe(false);
      // Never key material: no key, no whole hash.
      const json = JSON.stringify(changes);
      for (const secret of [OLD, NEW, hashApiKey(OLD), hashApiKey(NEW)])
        expect(json).not.toContain(secret);
    } finally {
      auth.stop();
    }
  });

  it("picks a file change up by itself (polling), without a call to reload", async () => {
    const file = join(dir, "polled.json");
    put(file, JSON.stringify([entry("crm", OLD)]));
    const changes: KeyChange[] = [];
    const auth = createReloadingAuthenticator({
      api: "consent",
      initial: { keys: [entry("crm", OLD)] },
      keysFile: file,
      parseKeys,
      intervalMs: 20,
      onReload: (c) => changes.push(c),
      onError: () => undefined,
    });
    try {
      put(file, JSON.stringify([entry("crm", NEW)]));
      const deadline = Date.now() + 5_000;
      while (changes.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(changes[0]).toMatchObject({ added: [`crm#${hashApiKey(NEW).slice(0, 8)}`] });
      expect((await auth.authenticate(`Bearer ${NEW}`, Date.now())).ok).toBe(true);
    } finally {
      auth.stop();
    }
  });

  it("reports JWKS keys added and removed by kid", async () => {
    const file = join(dir, "jwks.json");
    put(file, JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "a", kid: "k1" }] }));
    const changes: KeyChange[] = [];
    const jwt = {
      issuer: "https://issuer.example",
      audience: "parley-api",
      jwks: { keys: [{ kty: "OKP", crv: "Ed25519", x: "a", kid: "k1" }] },
      algorithms: ["EdDSA"],
      clockToleranceSeconds: 30,
    };
    const auth = createReloadingAuthenticator({
      api: "consent",
      initial: { keys: [], jwks: jwt.jwks },
      jwt,
      jwksFile: file,
      parseKeys,
      onReload: (c) => changes.push(c),
      onError: () => undefined,
    });
    try {
      put(file, JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "b", kid: "k2" }] }));
      await auth.reload();
      expect(changes).toEqual([
        { added: [], removed: [], expired: [], jwksAdded: ["k2"], jwksRemoved: ["k1"] },
      ]);
    } finally {
      auth.stop();
    }
  });
});

describe("keyChangeOf (property)", () => {
  const key = fc.record({
    id: fc.constantFrom("crm", "billing", "ops"),
    keySha256: fc.stringMatching(/^[0-9a-f]{64}$/),
    role: fc.constant("operator" as const),
  });
  it("names what was added and removed exactly once, disjointly, and no whole hash", () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 6 }), fc.array(key, { maxLength: 6 }), (a, b) => {
        const c = keyChangeOf({ keys: a }, { keys: b }, 0, 0);
        const name = (k: ApiKeyConfig) => `${k.id}#${k.keySha256.slice(0, 8)}`;
        const [before, after] = [new Set(a.map(name)), new Set(b.map(name))];
        expect(new Set(c.added)).toEqual(new Set([...after].filter((n) => !before.has(n))));
        expect(new Set(c.removed)).toEqual(new Set([...before].filter((n) => !after.has(n))));
        expect(c.added.filter((n) => c.removed.includes(n))).toEqual([]);
        const json = JSON.stringify(c);
        for (const k of [...a, ...b]) expect(json).not.toContain(k.keySha256);
      }),
    );
  });
});
