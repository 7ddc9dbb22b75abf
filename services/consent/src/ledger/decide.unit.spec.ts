import { randomBytes } from "node:crypto";
import { createEvent, isValidatedEvent, type EventData, type EventOf } from "@parley/contracts";
import { deciderSpec } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import { verifyExport } from "../audit/verify.js";
import { eventIdOf, openSeal, sealFor, sha256Hex, type DataKey } from "../crypto/keys.js";
import {
  ConsentRefusedError,
  ledgerDecider,
  type ConsentCommand,
  type LedgerContext,
  type RecordConsent,
} from "./decide.js";
import type { ConsentEntry, LedgerEntry } from "./evolve.js";
import { currentView } from "./view.js";

const CONTACT = "16505551234";
const NUMBER = "106540352242922";
const NOW = new Date("2026-03-01T12:00:00.000Z");
const dataKey: DataKey = { keyId: "k-test", key: randomBytes(32) };
const context: LedgerContext = {
  now: NOW,
  eventIdOf,
  sha256: sha256Hex,
  recorded: () => false,
  seal: (eventId, plaintext) => sealFor(dataKey, eventId, plaintext),
};
const erasedContext: LedgerContext = { ...context, seal: () => undefined };
const spec = deciderSpec(ledgerDecider, { key: CONTACT, context, match: "subset" });

let n = 0;
const nextId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
const meta = (at: string) => ({
  correlationId: nextId(),
  businessNumber: NUMBER,
  occurredAt: at,
  now: new Date(at),
  eventId: nextId(),
});

const keyword = (
  word: "stop" | "start",
  at: string,
  wamid = `wamid.${word}.${at}`,
): ConsentCommand => ({
  type: "KeywordReceived",
  event: createEvent(
    "ConsentKeywordReceived",
    { contactId: CONTACT, wamid, keyword: word, text: word.toUpperCase() },
    meta(at),
  ),
});
const preferences = (value: string, at: string): ConsentCommand => ({
  type: "PreferencesUpdated",
  event: createEvent(
    "UserPreferencesUpdated",
    {
      wabaId: "102290129340398",
      deliveryId: "d-1",
      contactId: CONTACT,
      category: "marketing_messages",
      value,
    },
    meta(at),
  ),
});
const sendFailed = (code: number, at: string): ConsentCommand => ({
  type: "MarketingRefused",
  event: createEvent(
    "SendFailed",
    {
      requestId: "req-1",
      idempotencyKey: "promo:1",
      contactId: CONTACT,
      error: { errorClass: "opted_out_marketing", code, retriable: false },
      phase: "async",
      wamid: "wamid.out.1",
      statusAt: at,
      attempts: 1,
    },
    meta(at),
  ),
});
const api = (over: Partial<RecordConsent> = {}): RecordConsent => ({
  type: "RecordConsent",
  inputId: "web-form-1",
  decision: "granted",
  purposes: ["marketing"],
  occurredAt: "2026-03-01T09:00:00.000Z",
  channel: "web",
  source: "api",
  recordedBy: "crm-key",
  sourceSystem: "acme-crm",
  businessName: "Acme Shop",
  wording: { text: "Yes, send me offers from Acme Shop on WhatsApp." },
  evidence: { formId: "signup-7", ip: "203.0.113.9", userAgent: "Mozilla/5.0" },
  ...over,
});

/** Folds commands into the past events a later `given` starts from. */
function history(...commands: ConsentCommand[]): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (const command of commands) {
    const given = spec.given(...out).when(command);
    out.push(...given.events);
  }
  return out;
}

/** The value, or a failed test. */
function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("expected a value");
  return value;
}

/** An entry known to be a consent entry (not an erasure). */
const c = (e: LedgerEntry | undefined) => e as ConsentEntry;

const lines = (entries: readonly LedgerEntry[]) =>
  entries.map((entry) => JSON.stringify({ entry }));

describe("consent ledger decider: inputs", () => {
  it("a STOP reply revokes marketing (scope marketing) and utility (scope all), evidence sealed", () => {
    const [marketing, utility] = spec
      .given()
      .when(keyword("stop", "2026-03-01T10:00:00.000Z"))
      .then(
        {
          type: "ConsentRevoked",
          data: {
            purpose: "marketing",
            scope: "marketing",
            channel: "whatsapp",
            source: "keyword",
            reason: "requested",
            ledger: { sequence: 1, previousHash: null },
          },
        },
        {
          type: "ConsentRevoked",
          data: { purpose: "utility", scope: "all", source: "keyword", ledger: { sequence: 2 } },
        },
      );
    expect(utility?.data.ledger?.previousHash).toBe(marketing?.data.ledger?.hash);
    expect(c(marketing).data.evidence).toBeUndefined();
    const opened = openSeal(dataKey, must(c(marketing).data.sealed));
    expect(JSON.parse(opened.data)).toEqual({
      wamid: "wamid.stop.2026-03-01T10:00:00.000Z",
      text: "STOP",
    });
    expect(sha256Hex(opened.salt + opened.data)).toBe(c(marketing).data.personalDigest);
    expect(marketing?.businessNumber).toBe(NUMBER);
  });

  it("a START reply grants both purposes", () => {
    spec
      .given()
      .when(keyword("start", "2026-03-01T10:00:00.000Z"))
      .then(
        { type: "ConsentGranted", data: { purpose: "marketing", source: "keyword" } },
        { type: "ConsentGranted", data: { purpose: "utility", scope: "all" } },
      );
  });

  it("the same reply delivered twice decides nothing the second time", () => {
    const past = history(keyword("stop", "2026-03-01T10:00:00.000Z", "wamid.A"));
    spec
      .given(...past)
      .when(keyword("stop", "2026-03-01T10:00:00.000Z", "wamid.A"))
      .thenNothing();
  });

  it("user_preferences stop revokes marketing only; resume and signup grant it; others nothing", () => {
    spec
      .given()
      .when(preferences("stop", "2026-03-01T10:00:00.000Z"))
      .then({
        type: "ConsentRevoked",
        data: {
          purpose: "marketing",
          source: "user_preferences",
          sourceSystem: "meta-user-preferences",
        },
      });
    spec
      .given()
      .when(preferences("Resume", "2026-03-01T10:00:00.000Z"))
      .then({ type: "ConsentGranted", data: { purpose: "marketing" } });
    spec
      .given()
      .when(preferences("signup", "2026-03-01T10:00:00.000Z"))
      .then({ type: "ConsentGranted", data: { purpose: "marketing" } });
    spec.given().when(preferences("something_new", "2026-03-01T10:00:00.000Z")).thenNothing();
  });

  it("Meta's 131050 on a send revokes marketing (source send_failure) at the status time; other codes nothing", () => {
    const [revoked] = spec
      .given()
      .when(sendFailed(131_050, "2026-03-01T10:05:00.000Z"))
      .then({
        type: "ConsentRevoked",
        data: { purpose: "marketing", source: "send_failure", scope: "marketing" },
      });
    expect(revoked?.occurredAt).toBe("2026-03-01T10:05:00.000Z");
    spec.given().when(sendFailed(131_026, "2026-03-01T10:05:00.000Z")).thenNothing();
  });

  it("an API opt-in for marketing keeps channel, source system, business name, wording hash, expiry and sealed evidence", () => {
    const text = "Yes, send me offers from Acme Shop on WhatsApp.";
    const [granted] = spec
      .given()
      .when(api({ expiresAt: "2027-03-01T00:00:00.000Z" }))
      .then({
        type: "ConsentGranted",
        data: {
          purpose: "marketing",
          channel: "web",
          source: "api",
          sourceSystem: "acme-crm",
          businessName: "Acme Shop",
          recordedBy: "crm-key",
          inputId: "web-form-1",
          wording: { versionHash: sha256Hex(text), text },
          expiresAt: "2027-03-01T00:00:00.000Z",
        },
      });
    expect(granted?.occurredAt).toBe("2026-03-01T09:00:00.000Z");
    expect(JSON.parse(openSeal(dataKey, must(c(granted).data.sealed)).data)).toEqual({
      formId: "signup-7",
      ip: "203.0.113.9",
      userAgent: "Mozilla/5.0",
    });
  });

  it("an API opt-in and opt-out for utility use scope all; a given wording version is kept as is", () => {
    const hash = "a".repeat(64);
    spec
      .given()
      .when(api({ purposes: ["utility"], wording: { versionHash: hash } }))
      .then({
        type: "ConsentGranted",
        data: { purpose: "utility", scope: "all", wording: { versionHash: hash } },
      });
    spec
      .given()
      .when(api({ decision: "revoked", purposes: ["utility"], channel: "checkout" }))
      .then({
        type: "ConsentRevoked",
        data: { purpose: "utility", scope: "all", channel: "checkout" },
      });
  });

  it("an opt-out keeps no expiry; an import records its rows like the API", () => {
    const [revoked] = spec
      .given()
      .when(api({ decision: "revoked", expiresAt: "2027-01-01T00:00:00.000Z" }))
      .then({ type: "ConsentRevoked" });
    expect(c(revoked).data.expiresAt).toBeUndefined();
    spec
      .given()
      .when(api({ source: "import", channel: "import", inputId: "import:7:row:2" }))
      .then({
        type: "ConsentGranted",
        data: { source: "import", channel: "import", inputId: "import:7:row:2" },
      });
  });
});

describe("consent ledger decider: entries as published", () => {
  it("each entry, link included, is checked against its contract once (the producer need not check it again)", () => {
    const first = ledgerDecider.decide(
      api({ inputId: "r-1", purposes: ["marketing", "utility"] }),
      ledgerDecider.initialState(CONTACT),
      context,
    );
    const state = first.reduce(
      (s, e) => ledgerDecider.evolve(s, e),
      ledgerDecider.initialState(CONTACT),
    );
    // An older opt-out after it: recorded as superseded, still a checked event on the chain.
    const older = ledgerDecider.decide(
      api({ inputId: "r-0", decision: "revoked", occurredAt: "2026-01-01T00:00:00.000Z" }),
      state,
      context,
    );
    const entries = [...first, ...older];
    expect(entries.map((e) => e.type === "ContactErased" || e.data.reason)).toEqual([
      "requested",
      "requested",
      "superseded",
    ]);
    for (const e of entries) expect(isValidatedEvent(e)).toBe(true);
    expect(verifyExport(entries.map((entry) => JSON.stringify({ entry })))).toMatchObject({
      ok: true,
      entries: 3,
    });
  });
});

describe("consent ledger decider: conflicting and out-of-order inputs", () => {
  it("an API opt-in older than a STOP is recorded as superseded and does not revive consent", () => {
    const past = history(keyword("stop", "2026-03-01T10:00:00.000Z"));
    const when = spec.given(...past).when(api({ occurredAt: "2026-03-01T09:00:00.000Z" }));
    when.then({ type: "ConsentGranted", data: { reason: "superseded", ledger: { sequence: 3 } } });
    when.thenState((next) => {
      expect(currentView(next, NOW).purposes).toMatchObject([
        { purpose: "marketing", status: "revoked" },
        { purpose: "utility", status: "revoked" },
      ]);
    });
  });

  it("an opt-in after the STOP revives that purpose only", () => {
    const past = history(keyword("stop", "2026-03-01T10:00:00.000Z"));
    spec
      .given(...past)
      .when(api({ occurredAt: "2026-03-01T11:00:00.000Z" }))
      .thenState((next) => {
        expect(currentView(next, NOW).purposes).toMatchObject([
          { purpose: "marketing", status: "granted", source: "api" },
          { purpose: "utility", status: "revoked" },
        ]);
      });
  });

  it("a STOP that arrives late, older than an opt-in, does not undo the later opt-in", () => {
    const past = history(api({ occurredAt: "2026-03-01T11:00:00.000Z" }));
    spec
      .given(...past)
      .when(keyword("stop", "2026-03-01T10:00:00.000Z"))
      .then(
        { type: "ConsentRevoked", data: { purpose: "marketing", reason: "superseded" } },
        { type: "ConsentRevoked", data: { purpose: "utility", reason: "requested" } },
      );
  });

  it("an opt-in and an opt-out at the same instant: the opt-out wins, in either order", () => {
    const at = "2026-03-01T10:00:00.000Z";
    const revokedFirst = history(keyword("stop", at));
    spec
      .given(...revokedFirst)
      .when(api({ occurredAt: at }))
      .then({ type: "ConsentGranted", data: { reason: "superseded" } });
    const grantedFirst = history(api({ occurredAt: at }));
    spec
      .given(...grantedFirst)
      .when(preferences("stop", at))
      .thenState((next) => {
        expect(currentView(next, NOW).purposes[0]).toMatchObject({ status: "revoked" });
      });
  });

  it("a time-limited opt-in reads as expired once its expiresAt is past", () => {
    const past = history(api({ expiresAt: "2026-03-01T11:00:00.000Z" }));
    const state = spec.given(...past).state;
    expect(currentView(state, new Date("2026-03-01T10:59:59.000Z")).purposes[0]).toMatchObject({
      status: "granted",
    });
    expect(currentView(state, NOW).purposes[0]).toMatchObject({
      status: "expired",
      expiresAt: "2026-03-01T11:00:00.000Z",
    });
  });

  it("the same API input id twice decides nothing, even with other content", () => {
    const past = history(api());
    spec
      .given(...past)
      .when(api({ decision: "revoked" }))
      .thenNothing();
  });

  it("an input already stored beside the head (the context finds its entry) decides nothing", () => {
    const storedId = eventIdOf(`consent:${CONTACT}:web-form-1:marketing`);
    const stored = deciderSpec(ledgerDecider, {
      key: CONTACT,
      context: { ...context, recorded: (eventId) => eventId === storedId },
      match: "subset",
    });
    stored.given().when(api()).thenNothing();
    stored
      .given()
      .when(api({ inputId: "web-form-2" }))
      .then({ type: "ConsentGranted", data: { inputId: "web-form-2" } });
  });

  it("the head keeps the chain's end and each purpose's deciding entry, not the entries", () => {
    const past = history(api(), keyword("stop", "2026-03-01T10:00:00.000Z"));
    const state = spec.given(...past).state;
    expect(state.sequence).toBe(3);
    expect(state.headHash).toBe(past.at(-1)?.data.ledger?.hash);
    expect(state.deciding.marketing?.type).toBe("ConsentRevoked");
    expect(state.deciding.utility?.type).toBe("ConsentRevoked");
  });
});

describe("consent ledger decider: erasure", () => {
  const erase: ConsentCommand = {
    type: "EraseContact",
    inputId: "erase-1",
    requestedBy: "privacy-desk",
    keyIds: ["k-test"],
  };

  it("records ContactErased on the chain; a repeat decides nothing", () => {
    const past = history(api(), keyword("stop", "2026-03-01T10:00:00.000Z"));
    const [erased] = spec
      .given(...past)
      .when(erase)
      .then({
        type: "ContactErased",
        data: { keyIds: ["k-test"], requestedBy: "privacy-desk", ledger: { sequence: 4 } },
      });
    expect(erased?.data.ledger?.previousHash).toBe(past.at(-1)?.data.ledger?.hash);
    spec
      .given(...past, must(erased))
      .when(erase)
      .thenNothing();
  });

  it("revokes every purpose not yet revoked, so the gates refuse sends to the erased contact", () => {
    const past = history(api({ purposes: ["marketing"] }));
    const when = spec.given(...past).when(erase);
    when.then(
      {
        type: "ConsentRevoked",
        data: {
          purpose: "marketing",
          scope: "marketing",
          reason: "erased",
          recordedBy: "privacy-desk",
        },
      },
      { type: "ConsentRevoked", data: { purpose: "utility", scope: "all", reason: "erased" } },
      { type: "ContactErased", data: { ledger: { sequence: 4 } } },
    );
    when.thenState((next) => {
      expect(currentView(next, NOW)).toMatchObject({
        erased: true,
        purposes: [{ status: "revoked" }, { status: "revoked" }],
      });
    });
  });

  it("after erasure an opt-in is refused, an opt-out is still recorded without evidence", () => {
    const past = history(api(), erase);
    spec
      .given(...past)
      .when(api({ inputId: "again", occurredAt: "2026-03-02T09:00:00.000Z" }), erasedContext)
      .thenThrows(ConsentRefusedError);
    const [revoked] = spec
      .given(...past)
      .when(keyword("stop", "2026-03-02T10:00:00.000Z"), erasedContext)
      .then({ type: "ConsentRevoked" }, { type: "ConsentRevoked" });
    expect(c(revoked).data.sealed).toBeUndefined();
    const state = spec.given(...past).state;
    expect(currentView(state, NOW).erased).toBe(true);
  });
});

describe("consent ledger chain", () => {
  const entries = history(
    api(),
    keyword("stop", "2026-03-01T10:00:00.000Z"),
    preferences("resume", "2026-03-01T11:00:00.000Z"),
    sendFailed(131_050, "2026-03-01T11:30:00.000Z"),
  );

  it("an export of the entries verifies", () => {
    expect(entries.map((e) => e.data.ledger?.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(verifyExport(lines(entries))).toEqual({
      ok: true,
      entries: 5,
      contacts: 1,
      problems: [],
    });
  });

  it("changing any entry, removing one or swapping two makes it fail", () => {
    const changed = entries.map((e, i) =>
      i === 1 ? { ...e, occurredAt: "2026-03-01T12:00:00.000Z" } : e,
    );
    expect(verifyExport(lines(changed)).problems).toEqual([
      { line: 2, detail: expect.stringContaining("does not match its hash") as string },
    ]);
    const removed = entries.filter((_, i) => i !== 2);
    expect(verifyExport(lines(removed)).ok).toBe(false);
    const swapped = [
      must(entries[0]),
      must(entries[2]),
      must(entries[1]),
      must(entries[3]),
      must(entries[4]),
    ];
    expect(verifyExport(lines(swapped)).ok).toBe(false);
    const data = must(entries[0]).data as EventData<"ConsentGranted">;
    const renamed = [
      {
        ...must(entries[0]),
        data: { ...data, businessName: "Other" },
      } as EventOf<"ConsentGranted">,
      ...entries.slice(1),
    ];
    expect(verifyExport(lines(renamed)).ok).toBe(false);
  });

  it("opened evidence must match the digest the chain carries", () => {
    const first = entries[0] as EventOf<"ConsentGranted">;
    const opened = openSeal(dataKey, must(first.data.sealed));
    const good = JSON.stringify({
      entry: first,
      opened: { salt: opened.salt, evidence: opened.data },
    });
    expect(verifyExport([good]).ok).toBe(true);
    const forged = JSON.stringify({
      entry: first,
      opened: { salt: opened.salt, evidence: opened.data.replace("203.0.113.9", "198.51.100.1") },
    });
    expect(verifyExport([forged]).problems[0]?.detail).toContain("evidence does not match");
  });

  it("hostile lines are reported, not thrown", () => {
    expect(verifyExport(["{", "[]", '{"entry":{}}']).problems.map((p) => p.line)).toEqual([
      1, 2, 3,
    ]);
  });
});
