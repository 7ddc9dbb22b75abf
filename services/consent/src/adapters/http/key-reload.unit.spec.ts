import { randomUUID } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEvent } from "@parley/contracts";
import type { AuditFact } from "@parley/kafka";
import { apiAuthenticatorOf, hashApiKey, type ReloadingAuthenticator } from "@parley/runtime";
import { afterAll, describe, expect, it } from "vitest";
import { consentApiKeyList } from "../../config.js";

// CONSENT_API_KEYS_PATH: the consent API's key file re-read on change through the shared wiring
// of @parley/runtime (apiAuthenticatorOf, as main.ts wires it), each change recorded as
// AuditRecorded keys.changed (a valid event of the contract), never with key material.

const dir = mkdtempSync(join(tmpdir(), "parley-consent-keys-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const put = (path: string, content: string) => {
  const tmp = `${path}.${String(Math.random()).slice(2)}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
};
const keyFileAuthenticator = ({
  file,
  record,
  onError,
  intervalMs,
}: {
  readonly file: string;
  readonly record: (fact: AuditFact) => void;
  readonly onError?: (error: unknown) => void;
  readonly intervalMs?: number;
}) =>
  apiAuthenticatorOf(
    {},
    {
      api: "consent",
      keys: [],
      logger: {
        info: () => undefined,
        error: (o: object) => onError?.((o as { err?: unknown }).err),
      },
      reload: {
        variable: "CONSENT_API_KEYS",
        file,
        schema: consentApiKeyList,
        audit: record,
        env: {},
        ...(intervalMs === undefined ? {} : { intervalMs }),
      },
    },
  ) as ReloadingAuthenticator;
const OLD = "consent-old-key-0123456789";
const NEW = "consent-new-key-0123456789";

describe("the consent API's key file", () => {
  it("refuses a bad file at start, naming it and the problem", () => {
    const file = join(dir, "bad.json");
    put(file, JSON.stringify([{ id: "crm", keySha256: "nope", role: "operator" }]));
    expect(() => keyFileAuthenticator({ file, record: () => undefined })).toThrow(
      /bad\.json: .*SHA-256/,
    );
  });

  it("swaps in a rotated key file and records keys.changed as a valid AuditRecorded", async () => {
    const file = join(dir, "keys.json");
    put(file, JSON.stringify([{ id: "crm", keySha256: hashApiKey(OLD), role: "operator" }]));
    const facts: AuditFact[] = [];
    const errors: unknown[] = [];
    const auth = keyFileAuthenticator({
      file,
      record: (f) => facts.push(f),
      onError: (e) => errors.push(e),
      intervalMs: 20,
    });
    try {
      expect((await auth.authenticate(`Bearer ${OLD}`, Date.now())).ok).toBe(true);
      put(
        file,
        JSON.stringify([
          { id: "crm", keySha256: hashApiKey(OLD), role: "operator" },
          { id: "crm", keySha256: hashApiKey(NEW), role: "operator" },
        ]),
      );
      await auth.reload();
      expect((await auth.authenticate(`Bearer ${NEW}`, Date.now())).ok).toBe(true);
      // A key list the schema refuses (the same hash twice): the keys in use stay.
      put(
        file,
        JSON.stringify([
          { id: "crm", keySha256: hashApiKey(NEW), role: "operator" },
          { id: "crm", keySha256: hashApiKey(NEW), role: "operator" },
        ]),
      );
      await auth.reload();
      expect(String(errors[0])).toContain("the same key hash appears twice");
      expect((await auth.authenticate(`Bearer ${OLD}`, Date.now())).ok).toBe(true);

      expect(facts).toHaveLength(1);
      const [fact] = facts;
      if (fact === undefined) throw new Error("no fact");
      const event = createEvent(
        "AuditRecorded",
        {
          action: fact.action,
          service: "consent",
          actorId: fact.actor.id,
          authMethod: fact.actor.method,
          target: { ...fact.target },
          details: JSON.parse(JSON.stringify(fact.details)) as Record<string, string[]>,
        },
        { correlationId: randomUUID(), now: fact.at },
      );
      expect(event.data).toMatchObject({
        action: "keys.changed",
        authMethod: "service",
        target: { api: "consent", file },
        details: { added: [`crm#${hashApiKey(NEW).slice(0, 8)}`], removed: [] },
      });
      const json = JSON.stringify(event);
      for (const secret of [OLD, NEW, hashApiKey(OLD), hashApiKey(NEW)])
        expect(json).not.toContain(secret);
    } finally {
      auth.stop();
    }
  });
});
