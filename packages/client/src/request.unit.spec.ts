import { describe, expect, it } from "vitest";
import { exampleData } from "@parley/contracts";
import {
  InvalidSendRequestError,
  MissingIdempotencyKeyError,
  type SendRequestIssue,
} from "./errors.js";
import {
  formatPath,
  sendRequestedEvent,
  validateSendRequest,
  type SendRequestData,
} from "./request.js";

const valid: SendRequestData = {
  contactId: "16505551234",
  idempotencyKey: "orders:42:shipped",
  recipient: { phone: "16505551234" },
  sender: { kind: "alias", alias: "orders" },
  content: { type: "text", text: { body: "Your order 42 has shipped." } },
  category: "utility",
};

const rejectionOf = (request: unknown): InvalidSendRequestError => {
  try {
    validateSendRequest(request);
  } catch (error) {
    if (error instanceof InvalidSendRequestError) return error;
    throw error;
  }
  throw new Error("expected the request to be refused");
};
const at = (issues: readonly SendRequestIssue[]) => issues.map((i) => i.at);

describe("validateSendRequest", () => {
  it("accepts a valid request and the contract's own example, leaving the request id to the caller", () => {
    expect(validateSendRequest(valid)).toEqual({ requestId: undefined, data: valid });
    expect(validateSendRequest(exampleData.SendRequested).data).toEqual(exampleData.SendRequested);
    expect(validateSendRequest({ ...valid, requestId: "req-1" }).requestId).toBe("req-1");
  });

  it.each([
    ["missing", undefined, /idempotencyKey: required: pass a key that names this send/],
    ["null", null, /idempotencyKey: required/],
    ["empty", "", /idempotencyKey: must not be empty or blank/],
    ["blank", "   ", /idempotencyKey: must not be empty or blank/],
  ])(
    "refuses a %s idempotency key with MissingIdempotencyKeyError",
    (_, idempotencyKey, message) => {
      const error = rejectionOf({ ...valid, idempotencyKey });
      expect(error).toBeInstanceOf(MissingIdempotencyKeyError);
      expect(error.name).toBe("MissingIdempotencyKeyError");
      expect(error.retriable).toBe(false);
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(/nothing was published/);
      // One precise issue for the key, not zod's generic one as well.
      expect(at(error.issues)).toEqual(["idempotencyKey"]);
    },
  );

  it("refuses a key that is not a string as an invalid request", () => {
    const error = rejectionOf({ ...valid, idempotencyKey: 42 });
    expect(error).not.toBeInstanceOf(MissingIdempotencyKeyError);
    expect(at(error.issues)).toEqual(["idempotencyKey"]);
  });

  it("lists every issue with its path, the missing key among them", () => {
    const { idempotencyKey: _, ...withoutKey } = valid;
    const error = rejectionOf({
      ...withoutKey,
      requestId: "",
      sender: { kind: "businessNumber", phoneNumberId: "not-digits" },
      content: {
        type: "template",
        template: {
          name: "Order Update",
          language: { code: "en_US" },
          components: [{ type: "body", parameters: [{ type: "currency" }] }],
        },
      },
      category: "promotional",
      validUntil: "tomorrow",
      validUnti: "2026-03-02T10:15:00.000Z",
    });
    expect(error).toBeInstanceOf(MissingIdempotencyKeyError);
    expect(at(error.issues)).toEqual([
      "idempotencyKey",
      "requestId",
      "validUnti",
      "sender.phoneNumberId",
      "content.template.name",
      "content.template.components[0].parameters[0].currency",
      "category",
      "validUntil",
    ]);
    expect(error.issues.find((i) => i.at === "validUnti")?.message).toMatch(/unknown field/);
    expect(error.issues.find((i) => i.at === "requestId")?.message).toMatch(/omit it/);
    for (const i of error.issues) expect(error.message).toContain(`  - ${i.at}: ${i.message}`);
    expect(error.message).toMatch(new RegExp(`\\(${error.issues.length} issues;`));
  });

  it("refuses invalid content of a request that has its key, as InvalidSendRequestError", () => {
    const error = rejectionOf({ ...valid, content: { type: "text", text: { body: "" } } });
    expect(error).not.toBeInstanceOf(MissingIdempotencyKeyError);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({
      at: "content.text.body",
      path: ["content", "text", "body"],
    });
    expect(error.message).toMatch(/1 issue;/);
  });

  it("refuses content of an unknown type and missing required fields", () => {
    const { recipient: _, ...withoutRecipient } = valid;
    const error = rejectionOf({ ...withoutRecipient, content: { type: "carousel" } });
    expect(at(error.issues)).toEqual(expect.arrayContaining(["recipient", "content.type"]));
  });

  it.each([null, "send it", 42, ["an", "array"]])("refuses %j as a request", (request) => {
    const error = rejectionOf(request);
    expect(error.issues).toEqual([
      expect.objectContaining({
        at: "(request)",
        message: expect.stringMatching(/expected an object/) as unknown,
      }),
    ]);
  });
});

describe("validateSendRequest: one person, one contact (ADR 0008)", () => {
  it("derives contactId from an international recipient when it is left out", () => {
    const { contactId: _omitted, ...rest } = valid;
    const mexican = { ...rest, recipient: { phone: "+52 1 55 1234 5678" } };
    expect(validateSendRequest(mexican).data.contactId).toBe("525512345678");
  });

  it("refuses a contactId that names someone other than the recipient", () => {
    const error = rejectionOf({
      ...valid,
      contactId: "5215512345678",
      recipient: { phone: "+52 55 1234 5678" },
    });
    expect(error.issues).toEqual([
      expect.objectContaining({
        at: "contactId",
        message: expect.stringContaining("525512345678") as unknown,
      }),
    ]);
  });

  it("asks for contactId when the number has no country code", () => {
    const { contactId: _omitted, ...rest } = valid;
    const error = rejectionOf({ ...rest, recipient: { phone: "(650) 555-1234" } });
    expect(at(error.issues)).toEqual(["contactId"]);
  });
});

describe("sendRequestedEvent", () => {
  const now = new Date("2026-03-01T10:15:00.000Z");
  it("uses the request id as correlation id and names a business-number sender in the envelope", () => {
    const event = sendRequestedEvent(
      { ...valid, sender: { kind: "businessNumber", phoneNumberId: "106540352242922" } },
      { requestId: "req-7", now, newId: () => "5f0c7c4e-8d5e-4c38-9a39-2a3b1a6c7d10" },
    );
    expect(event).toMatchObject({
      type: "SendRequested",
      eventId: "5f0c7c4e-8d5e-4c38-9a39-2a3b1a6c7d10",
      correlationId: "req-7",
      causationId: null,
      businessNumber: "106540352242922",
      occurredAt: now.toISOString(),
      recordedAt: now.toISOString(),
    });
    const byAlias = sendRequestedEvent(valid, {
      requestId: "req-8",
      now,
      newId: () => crypto.randomUUID(),
    });
    expect(byAlias.businessNumber).toBeUndefined();
  });
});

describe("formatPath", () => {
  it("writes array indexes in brackets", () => {
    expect(formatPath([])).toBe("(request)");
    expect(formatPath(["content", "template", "components", 0, "parameters", 1])).toBe(
      "content.template.components[0].parameters[1]",
    );
  });
});
