import { createEvent, type AnyEvent } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyExport } from "./audit/verify.js";
import {
  DLQ_REASON,
  headerOf,
  startConsentHarness,
  type ConsentHarness,
} from "./consent-harness.int-helpers.js";
import type { ContactView } from "./ledger/view.js";

// The consent service against the real broker, registry and MongoDB: inputs from Kafka and the
// API decided once, published on the consent topic, exported with evidence, verified, erased.

let h: ConsentHarness;
beforeAll(async () => {
  h = await startConsentHarness("consent-int");
}, 180_000);
afterAll(async () => {
  await h.stop();
});

let n = 0;
const nextId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
const meta = (at: string) => ({
  correlationId: nextId(),
  occurredAt: at,
  now: new Date(),
  eventId: nextId(),
});
const keyword = (
  contactId: string,
  word: "stop" | "start",
  at: string,
  wamid = `wamid.${contactId}.${word}.${at}`,
) =>
  createEvent(
    "ConsentKeywordReceived",
    { contactId, wamid, keyword: word, text: word.toUpperCase() },
    meta(at),
  );
const optIn = (over: Record<string, unknown> = {}) => ({
  decision: "granted",
  purposes: ["marketing"],
  occurredAt: "2026-03-01T09:00:00Z",
  channel: "web",
  sourceSystem: "acme-crm",
  businessName: "Acme Shop",
  wording: { text: "Yes, send me offers from Acme Shop on WhatsApp." },
  evidence: { formId: "signup-7", ip: "203.0.113.9", userAgent: "Mozilla/5.0" },
  ...over,
});
const entriesOf = (contactId: string) => h.published.filter((e) => e.data.contactId === contactId);
const view = async (contactId: string) =>
  (await (await h.call(`/v1/contacts/${contactId}/consent`)).json()) as ContactView;

describe("consent service", () => {
  it("a STOP reply from Kafka revokes both purposes once, even when delivered twice", async () => {
    const c = "15550000001";
    const stop = keyword(c, "stop", "2026-03-01T10:00:00.000Z");
    await h.publish([stop, stop] as AnyEvent[]);
    await waitFor(() => entriesOf(c).length >= 2, {
      timeoutMs: 60_000,
      description: "entries published",
    });
    expect(entriesOf(c).map((e) => [e.type, "purpose" in e.data ? e.data.purpose : ""])).toEqual([
      ["ConsentRevoked", "marketing"],
      ["ConsentRevoked", "utility"],
    ]);
    expect((await view(c)).purposes.map((p) => p.status)).toEqual(["revoked", "revoked"]);
    // A later input proves the repeat was consumed and decided nothing.
    await h.publish([keyword(c, "start", "2026-03-01T11:00:00.000Z")]);
    await waitFor(() => entriesOf(c).length >= 4, {
      timeoutMs: 60_000,
      description: "START published",
    });
    expect(entriesOf(c).map((e) => e.data.ledger?.sequence)).toEqual([1, 2, 3, 4]);
  });

  it("Meta's 131050 on a send revokes marketing; an unreadable record is dead-lettered with a reason", async () => {
    const c = "15550000002";
    await h.publishRaw(h.catalog.topic("send-outcomes").name, c, Buffer.from("not an event"));
    await h.publish([
      createEvent(
        "SendFailed",
        {
          requestId: "req-9",
          idempotencyKey: "promo:9",
          contactId: c,
          error: { errorClass: "opted_out_marketing", code: 131_050, retriable: false },
          phase: "sync",
          attempts: 1,
        },
        meta("2026-03-01T10:00:00.000Z"),
      ),
    ]);
    await waitFor(() => entriesOf(c).length >= 1, {
      timeoutMs: 60_000,
      description: "131050 decided",
    });
    expect(entriesOf(c)[0]).toMatchObject({
      type: "ConsentRevoked",
      data: { purpose: "marketing", source: "send_failure" },
    });
    await waitFor(() => h.deadLetters.some((d) => d.key?.toString() === c), {
      timeoutMs: 60_000,
      description: "dead letter",
    });
    const dead = h.deadLetters.find((d) => d.key?.toString() === c);
    expect(headerOf(dead?.headers ?? {}, DLQ_REASON)?.length ?? 0).toBeGreaterThan(0);
  });

  it("an API opt-in, a later STOP, an export with evidence that verifies, and fails once altered", async () => {
    const c = "15550000003";
    const created = await h.call(`/v1/contacts/+1 555 000 0003/consent`, {
      method: "POST",
      body: JSON.stringify(optIn({ inputId: "form-1" })),
    });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { state: ContactView }).state.purposes[0]).toMatchObject({
      status: "granted",
      source: "api",
    });
    // The same input again: nothing new.
    expect(
      (
        await h.call(`/v1/contacts/${c}/consent`, {
          method: "POST",
          body: JSON.stringify(optIn({ inputId: "form-1" })),
        })
      ).status,
    ).toBe(201);
    await h.publish([keyword(c, "stop", "2026-03-01T10:00:00.000Z")]);
    await waitFor(() => entriesOf(c).length >= 3, {
      timeoutMs: 60_000,
      description: "STOP decided",
    });
    expect((await view(c)).purposes[0]).toMatchObject({ status: "revoked", source: "keyword" });

    const exported = await (await h.call(`/v1/export?contactId=${c}&format=jsonl`)).text();
    const lines = exported.trim().split("\n");
    expect(lines).toHaveLength(3);
    const parsed = lines.map(
      (l) => JSON.parse(l) as { entry: { type: string }; opened?: { evidence: string } },
    );
    expect(parsed.map((l) => l.entry.type)).toEqual([
      "ConsentGranted",
      "ConsentRevoked",
      "ConsentRevoked",
    ]);
    expect(JSON.parse(parsed[0]?.opened?.evidence ?? "{}")).toEqual({
      formId: "signup-7",
      ip: "203.0.113.9",
      userAgent: "Mozilla/5.0",
    });
    expect(JSON.parse(parsed[1]?.opened?.evidence ?? "{}")).toMatchObject({ text: "STOP" });
    expect(verifyExport(lines).ok).toBe(true);
    expect(
      verifyExport([lines[0]?.replace("Acme Shop", "Acme Shoe") ?? "", ...lines.slice(1)]).ok,
    ).toBe(false);
    expect(verifyExport([lines[0] ?? "", lines[2] ?? ""]).ok).toBe(false);

    const csv = await (await h.call(`/v1/export?contactId=${c}&format=csv`)).text();
    expect(csv.split("\r\n").filter((l) => l !== "")).toHaveLength(4);
    expect(csv).toContain("203.0.113.9");
  });

  it("history hides evidence from a key without the evidence scope; keys and scopes are enforced", async () => {
    const c = "15550000003";
    const history = (await (
      await h.call(`/v1/contacts/${c}/consent/history`, { key: "read-key" })
    ).json()) as { entries: { opened?: unknown }[] };
    expect(history.entries.length).toBe(3);
    expect(history.entries.every((e) => e.opened === undefined)).toBe(true);
    expect((await h.call(`/v1/contacts/${c}/consent`, { key: null })).status).toBe(401);
    expect((await h.call(`/v1/contacts/${c}/consent`, { key: "nobody" })).status).toBe(401);
    expect((await h.call(`/v1/export`, { key: "read-key" })).status).toBe(403);
    expect(
      (await h.call(`/v1/contacts/${c}/erasure`, { method: "POST", key: "write-key", body: "{}" }))
        .status,
    ).toBe(403);
    const bad = await h.call(`/v1/contacts/abc/consent`, {
      method: "POST",
      body: JSON.stringify(optIn({ decision: "maybe" })),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
  });

  it("erasure destroys the key: evidence unreadable, the ledger verifies, an opt-in is refused", async () => {
    const c = "15550000004";
    expect(
      (await h.call(`/v1/contacts/${c}/consent`, { method: "POST", body: JSON.stringify(optIn()) }))
        .status,
    ).toBe(201);
    await h.ledger.recordSend({
      requestId: "req-4",
      contactId: c,
      outcome: "accepted",
      consentEventId: "e-4",
      at: "2026-03-01T10:00:00.000Z",
    });
    expect(
      ((await (await h.call(`/v1/contacts/${c}/sends`)).json()) as { sends: unknown[] }).sends,
    ).toHaveLength(1);
    const erased = await h.call(`/v1/contacts/${c}/erasure`, {
      method: "POST",
      body: JSON.stringify({ requestId: "dsr-1" }),
    });
    expect(erased.status).toBe(200);
    expect(((await erased.json()) as ContactView).erased).toBe(true);
    await waitFor(() => entriesOf(c).some((e) => e.type === "ContactErased"), {
      timeoutMs: 60_000,
      description: "ContactErased",
    });
    const exported = (await (await h.call(`/v1/export?contactId=${c}`)).text()).trim().split("\n");
    expect(exported.map((l) => (JSON.parse(l) as { entry: { type: string } }).entry.type)).toEqual([
      "ConsentGranted",
      "ConsentRevoked",
      "ConsentRevoked",
      "ContactErased",
    ]);
    expect(exported.join("\n")).not.toContain("203.0.113.9");
    expect(exported.every((l) => !("opened" in (JSON.parse(l) as object)))).toBe(true);
    expect(verifyExport(exported).ok).toBe(true);
    const key = await h.mongo.db.collection("consent_keys").findOne({ _id: c as never });
    expect(key?.["wrapped"]).toBeUndefined();
    expect(key?.["destroyedAt"]).toBeInstanceOf(Date);
    expect(
      ((await (await h.call(`/v1/contacts/${c}/sends`)).json()) as { sends: unknown[] }).sends,
    ).toEqual([]);
    const again = await h.call(`/v1/contacts/${c}/consent`, {
      method: "POST",
      body: JSON.stringify(optIn({ inputId: "after" })),
    });
    expect(again.status).toBe(409);
  });

  it("imports CSV rows, refusing the bad ones with their reasons", async () => {
    const csv = [
      "contactId,decision,purposes,occurredAt,channel,businessName,wordingText,evidence.formId",
      "15550000010,granted,marketing,2026-03-01T09:00:00Z,checkout,Acme,Offers OK,f-1",
      "15550000011,granted,marketing;utility,2026-03-01T09:00:00Z,in_person,Acme,Offers OK,f-2",
      "not-a-number,granted,marketing,2026-03-01T09:00:00Z,web,Acme,Offers OK,f-3",
      "15550000012,granted,marketing,2026-03-01T09:00:00Z,web,,Offers OK,f-4",
      '15550000013,"unbalanced,granted',
      "15550000014,revoked,utility,2026-03-01T09:00:00Z,import,,,",
    ].join("\n");
    const res = await h.call("/v1/imports?format=csv", {
      method: "POST",
      body: csv,
      key: "write-key",
      headers: { "content-type": "text/csv" },
    });
    expect(res.status).toBe(200);
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({ done: { rows: 6, recorded: 3, refused: 3 } });
    const refused = lines.filter((l) => l["status"] === "refused");
    expect(refused.map((l) => l["row"])).toEqual([3, 4, 5]);
    expect(String(refused[1]?.["reason"])).toContain("businessName");
    expect((await view("15550000011")).purposes.map((p) => p.status)).toEqual([
      "granted",
      "granted",
    ]);
  });

  it("answers what was sent to a contact under which consent entry", async () => {
    const c = "15550000020";
    await h.publish([
      createEvent(
        "SendAccepted",
        {
          requestId: "req-20",
          idempotencyKey: "promo:20",
          contactId: c,
          wamid: "wamid.out.20",
          usedTemplateFallback: false,
          attempts: 1,
          consentEventId: "00000000-0000-4000-8000-00000000c0de",
        },
        meta("2026-03-01T10:00:00.000Z"),
      ),
      createEvent(
        "SendRejected",
        {
          requestId: "req-21",
          idempotencyKey: "promo:21",
          contactId: c,
          reason: "opted_out",
          detail: "x",
          consentEventId: "00000000-0000-4000-8000-00000000dead",
        },
        meta("2026-03-01T11:00:00.000Z"),
      ),
    ]);
    await waitFor(
      async () =>
        ((await (await h.call(`/v1/contacts/${c}/sends`)).json()) as { sends: unknown[] }).sends
          .length === 2,
      { timeoutMs: 60_000, description: "both sends recorded" },
    );
    const { sends } = (await (await h.call(`/v1/contacts/${c}/sends`)).json()) as {
      sends: unknown[];
    };
    expect(sends).toEqual([
      {
        requestId: "req-21",
        contactId: c,
        outcome: "rejected",
        consentEventId: "00000000-0000-4000-8000-00000000dead",
        at: "2026-03-01T11:00:00.000Z",
        reason: "opted_out",
      },
      {
        requestId: "req-20",
        contactId: c,
        outcome: "accepted",
        consentEventId: "00000000-0000-4000-8000-00000000c0de",
        at: "2026-03-01T10:00:00.000Z",
        wamid: "wamid.out.20",
      },
    ]);
  });
});
