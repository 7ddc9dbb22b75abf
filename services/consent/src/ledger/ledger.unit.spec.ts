import { createEvent } from "@parley/contracts";
import { createMemoryStateStore } from "@parley/decider";
import { describe, expect, it } from "vitest";
import type { RecordConsent } from "./decide.js";
import type { LedgerEntry, LedgerState } from "./evolve.js";
import { createConsentLedger, EvidenceNotKeptError } from "./ledger.js";
import type { LedgerReader } from "./ports.js";

// The ledger's use cases over the runtime's in-memory store, without a master key: opt-outs are
// still recorded (without evidence), an input whose evidence cannot be kept is refused whole.

function withoutKeys() {
  const store = createMemoryStateStore<LedgerState, LedgerEntry>();
  const published: LedgerEntry[] = [];
  const reader: LedgerReader = {
    async get(contactId) {
      const found = (await store.loadMany([contactId])).get(contactId);
      return found === undefined || found instanceof Error ? undefined : found.state;
    },
    async *entries() {
      // Not used here.
    },
    recorded: () => Promise.resolve(new Set<string>()),
    async *scan() {
      // Not used here.
    },
  };
  const ledger = createConsentLedger({
    store,
    reader,
    publish: (events) => {
      published.push(...events);
      return Promise.resolve();
    },
    clock: () => new Date("2026-03-01T12:00:00.000Z"),
  });
  return { ledger, published };
}

const optIn: RecordConsent = {
  type: "RecordConsent",
  inputId: "f-1",
  decision: "granted",
  purposes: ["marketing"],
  occurredAt: "2026-03-01T09:00:00.000Z",
  channel: "web",
  source: "api",
  recordedBy: "k",
  businessName: "Acme",
  wording: { text: "ok" },
};

describe("consent ledger without a master key", () => {
  it("refuses an input with evidence, records one without", async () => {
    const { ledger, published } = withoutKeys();
    await expect(
      ledger.handle([{ key: "15550001", command: { ...optIn, evidence: { ip: "203.0.113.1" } } }]),
    ).rejects.toBeInstanceOf(EvidenceNotKeptError);
    expect(published).toEqual([]);
    await ledger.handle([{ key: "15550001", command: optIn }]);
    expect(published.map((e) => e.type)).toEqual(["ConsentGranted"]);
  });

  it("records a STOP without its evidence, and erases with no key to destroy", async () => {
    const { ledger, published } = withoutKeys();
    const stop = createEvent(
      "ConsentKeywordReceived",
      { contactId: "15550002", wamid: "wamid.1", keyword: "stop", text: "STOP" },
      { correlationId: "c", now: new Date("2026-03-01T10:00:00.000Z") },
    );
    await ledger.handle([{ key: "15550002", command: { type: "KeywordReceived", event: stop } }]);
    expect(published.map((e) => e.type)).toEqual(["ConsentRevoked", "ConsentRevoked"]);
    expect(published.every((e) => e.type !== "ContactErased" && e.data.sealed === undefined)).toBe(
      true,
    );
    const view = await ledger.erase("15550002", "desk", "dsr-1");
    expect(view.erased).toBe(true);
    expect(published.at(-1)).toMatchObject({ type: "ContactErased", data: { keyIds: [] } });
  });
});

describe("consent ledger lanes", () => {
  it("decides and publishes a STOP while the API lane's batches are stuck in their round trips", async () => {
    const store = createMemoryStateStore<LedgerState, LedgerEntry>();
    const published: LedgerEntry[] = [];
    const stuck: (() => void)[] = [];
    const ledger = createConsentLedger({
      store,
      reader: {
        get: () => Promise.resolve(undefined),
        async *entries() {
          // Not used here.
        },
        recorded: () => Promise.resolve(new Set<string>()),
        async *scan() {
          // Not used here.
        },
      },
      // The broker holds every opt-in's publish (an import's batches in their round trips).
      publish: (events) => {
        if (events.some((e) => e.type === "ConsentGranted"))
          return new Promise<void>((resolve) => stuck.push(resolve));
        published.push(...events);
        return Promise.resolve();
      },
      clock: () => new Date("2026-03-01T12:00:00.000Z"),
    });
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    // Two import batches (the import keeps two in flight) and an API call, each in its own turn.
    const imports: Promise<void>[] = [];
    for (const contact of ["15550010", "15550011", "15550012"]) {
      imports.push(ledger.handle([{ key: contact, command: { ...optIn, inputId: contact } }]));
      await settle();
    }
    expect(stuck.length).toBeGreaterThanOrEqual(2);
    const stop = createEvent(
      "ConsentKeywordReceived",
      { contactId: "15550099", wamid: "wamid.lane", keyword: "stop", text: "STOP" },
      { correlationId: "c", now: new Date("2026-03-01T10:00:00.000Z") },
    );
    await ledger.handle([{ key: "15550099", command: { type: "KeywordReceived", event: stop } }]);
    expect(published.map((e) => e.type)).toEqual(["ConsentRevoked", "ConsentRevoked"]);
    while (stuck.length > 0) {
      for (const go of stuck.splice(0)) go();
      await settle();
    }
    await Promise.all(imports);
  });
});
