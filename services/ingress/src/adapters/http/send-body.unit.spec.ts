import { describe, expect, it } from "vitest";
import { jsonPointer } from "./problem.js";
import { requestFingerprint, sendRequestedEvent } from "../../sending/request.js";
import { mapSendRequest } from "./send-body.js";

const body = {
  contactId: "16505551234",
  recipient: { phone: "16505551234" },
  sender: { kind: "businessNumber", phoneNumberId: "106540352242922" },
  content: { type: "text", text: { body: "Your order 42 has shipped" } },
  category: "utility",
  metadata: { orderId: "42" },
};
const options = { idempotencyKey: "orders:42:shipped", requester: "orders" };

describe("mapSendRequest", () => {
  it("maps a body and the Idempotency-Key header to SendRequested data, requester from the key", () => {
    const mapped = mapSendRequest(body, options);
    expect(mapped).toEqual({
      ok: true,
      data: { ...body, idempotencyKey: "orders:42:shipped", requester: "orders" },
    });
  });

  it("derives contactId from an international recipient, and refuses one that names someone else (ADR 0008)", () => {
    const { contactId: _omitted, ...rest } = body;
    const derived = mapSendRequest(
      { ...rest, recipient: { phone: "+52 1 55 1234 5678" } },
      options,
    );
    expect(derived.ok && derived.data.contactId).toBe("525512345678");
    expect(
      mapSendRequest(
        { ...rest, contactId: "5215512345678", recipient: { phone: "+52 55 1234 5678" } },
        options,
      ),
    ).toEqual({
      ok: false,
      errors: [
        { pointer: "/contactId", detail: expect.stringContaining("525512345678") as string },
      ],
    });
  });

  it("accepts the key in the body too when it equals the header", () => {
    expect(mapSendRequest({ ...body, idempotencyKey: "orders:42:shipped" }, options).ok).toBe(true);
    expect(mapSendRequest({ ...body, idempotencyKey: "other" }, options)).toEqual({
      ok: false,
      errors: [
        { pointer: "/idempotencyKey", detail: expect.stringMatching(/must equal/) as string },
      ],
    });
  });

  it("lists every issue at once: header, unknown and server fields, and each schema problem", () => {
    const mapped = mapSendRequest(
      {
        contactId: "",
        recipient: { phone: "16505551234" },
        sender: { kind: "alias" },
        content: { type: "text", text: { body: "" } },
        category: "promotional",
        requester: "payments",
        validUtil: "2026-01-01T00:00:00Z",
      },
      { idempotencyKey: undefined, requester: "orders" },
    );
    expect(mapped.ok).toBe(false);
    if (mapped.ok) return;
    const where = mapped.errors.map((e) => e.pointer ?? `header:${e.header ?? ""}`);
    expect(where).toEqual(
      expect.arrayContaining([
        "header:Idempotency-Key",
        "/requester",
        "/validUtil",
        "/contactId",
        "/sender/alias",
        "/content/text/body",
        "/category",
      ]),
    );
    expect(mapped.errors.find((e) => e.pointer === "/requester")?.detail).toMatch(/API key/);
    for (const e of mapped.errors) expect(e.detail.length).toBeGreaterThan(0);
  });

  it("refuses unknown fields at any depth, not only at the top", () => {
    const mapped = mapSendRequest(
      { ...body, content: { type: "text", text: { body: "hi", preview_url: true } } },
      options,
    );
    expect(mapped).toEqual({
      ok: false,
      errors: [
        {
          pointer: "/content/text/preview_url",
          detail: "unknown field: the SendRequested contract has no such field",
        },
      ],
    });
  });

  it("keeps arbitrary metadata keys (a record, not unknown fields)", () => {
    const mapped = mapSendRequest({ ...body, metadata: { "a/b": "1", "~x": "2" } }, options);
    expect(mapped.ok).toBe(true);
  });

  it("refuses a body that is not an object, a blank or overlong key", () => {
    expect(mapSendRequest([1], options)).toMatchObject({ ok: false, errors: [{ pointer: "" }] });
    expect(mapSendRequest(body, { ...options, idempotencyKey: "  " })).toMatchObject({
      ok: false,
      errors: [{ header: "Idempotency-Key" }],
    });
    expect(mapSendRequest(body, { ...options, idempotencyKey: "k".repeat(257) })).toMatchObject({
      ok: false,
      errors: [{ header: "Idempotency-Key", detail: "at most 256 characters" }],
    });
  });
});

describe("jsonPointer", () => {
  it("escapes ~ and / as RFC 6901 says", () => {
    expect(jsonPointer(["metadata", "a/b~c", 0])).toBe("/metadata/a~1b~0c/0");
    expect(jsonPointer([])).toBe("");
  });
});

describe("requestFingerprint", () => {
  const data = (b: unknown) => {
    const mapped = mapSendRequest(b, options);
    if (!mapped.ok) throw new Error("invalid");
    return mapped.data;
  };

  it("is the same whatever the key order, and differs when any value differs", () => {
    const reordered = {
      category: "utility",
      content: { text: { body: "Your order 42 has shipped" }, type: "text" },
      metadata: { orderId: "42" },
      sender: { phoneNumberId: "106540352242922", kind: "businessNumber" },
      recipient: { phone: "16505551234" },
      contactId: "16505551234",
    };
    expect(requestFingerprint(data(reordered))).toBe(requestFingerprint(data(body)));
    expect(requestFingerprint(data({ ...body, category: "marketing" }))).not.toBe(
      requestFingerprint(data(body)),
    );
  });
});

describe("sendRequestedEvent", () => {
  it("carries the request id as correlation id and the business number in the envelope", () => {
    const mapped = mapSendRequest(body, options);
    if (!mapped.ok) throw new Error("invalid");
    const event = sendRequestedEvent(mapped.data, {
      requestId: "req-1",
      eventId: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
      now: new Date("2026-03-01T10:00:00Z"),
    });
    expect(event).toMatchObject({
      type: "SendRequested",
      eventId: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
      correlationId: "req-1",
      causationId: null,
      businessNumber: "106540352242922",
      recordedAt: "2026-03-01T10:00:00.000Z",
      data: { requester: "orders", idempotencyKey: "orders:42:shipped" },
    });
  });
});
