import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  checkSendRequest,
  exampleData,
  sendRequestFingerprint,
  type SendRequestData,
} from "./index.js";

const valid = {
  idempotencyKey: "orders:42:shipped",
  recipient: { phone: "+1 650 555 1234" },
  sender: { kind: "alias", alias: "orders" },
  content: { type: "text", text: { body: "Your order 42 has shipped." } },
  category: "utility",
};

const problemsOf = (input: unknown) => {
  const checked = checkSendRequest(input);
  if (checked.ok) throw new Error("expected problems");
  return checked.problems;
};

describe("checkSendRequest", () => {
  it("accepts a valid request, deriving contactId from the recipient, and the contract's example", () => {
    const checked = checkSendRequest(valid);
    expect(checked).toEqual({ ok: true, data: { ...valid, contactId: "16505551234" } });
    expect(checkSendRequest(exampleData.SendRequested)).toEqual({
      ok: true,
      data: exampleData.SendRequested,
    });
  });

  it("lists every problem at once: unknown fields at any depth, the contact, the schema", () => {
    const problems = problemsOf({
      ...valid,
      contactId: "5215512345678",
      recipient: { phone: "+52 55 1234 5678" },
      content: { type: "text", text: { body: "", previewUrl: true, colour: "red" } },
      validUtil: "2026-01-01T00:00:00Z",
    });
    expect(problems.map((p) => p.path.join("."))).toEqual(
      expect.arrayContaining(["validUtil", "contactId", "content.text.body"]),
    );
    const unknownNested = problemsOf({
      ...valid,
      content: { type: "text", text: { body: "x", colour: "red" } },
    });
    expect(unknownNested).toEqual([
      {
        path: ["content", "text", "colour"],
        message: expect.stringContaining("unknown field") as unknown,
      },
    ]);
  });

  it("refuses what is not an object, with one problem for the whole request", () => {
    for (const input of [null, 42, "x", [valid]]) {
      expect(problemsOf(input)).toEqual([{ path: [], message: expect.any(String) as unknown }]);
    }
  });

  it("leaves the schema issues of skipped fields to the caller", () => {
    const { idempotencyKey: _key, ...rest } = valid;
    expect(problemsOf({ ...rest })).toEqual([
      expect.objectContaining({ path: ["idempotencyKey"] }),
    ]);
    expect(checkSendRequest({ ...rest }, { skip: ["idempotencyKey"] })).toEqual({
      ok: false,
      problems: [],
    });
  });

  it("never throws and answers either data that parses or at least one problem, for any input", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({
            ...Object.fromEntries(Object.entries(valid).map(([k, v]) => [k, fc.constant(v)])),
            contactId: fc.option(fc.string(), { nil: undefined }),
            recipient: fc.record({ phone: fc.string(), userId: fc.string() }, { requiredKeys: [] }),
            extra: fc.option(fc.anything(), { nil: undefined }),
          }),
        ),
        (input) => {
          const checked = checkSendRequest(input);
          if (checked.ok) expect(checkSendRequest(checked.data)).toEqual(checked);
          else expect(checked.problems.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("sendRequestFingerprint: what makes two requests the same", () => {
  const data = { ...valid, contactId: "16505551234", requester: "orders" } as SendRequestData;

  it("ignores key order, the key itself, the requester and metadata", () => {
    const reordered = Object.fromEntries(Object.entries(data).reverse()) as SendRequestData;
    expect(sendRequestFingerprint(reordered)).toBe(sendRequestFingerprint(data));
    expect(
      sendRequestFingerprint({
        ...data,
        idempotencyKey: "other",
        requester: "payments",
        metadata: { attempt: "2" },
      }),
    ).toBe(sendRequestFingerprint(data));
  });

  it("differs when anything about the message differs", () => {
    const base = sendRequestFingerprint(data);
    expect(
      sendRequestFingerprint({ ...data, content: { type: "text", text: { body: "other" } } }),
    ).not.toBe(base);
    expect(sendRequestFingerprint({ ...data, category: "marketing" })).not.toBe(base);
    expect(sendRequestFingerprint({ ...data, validUntil: "2026-03-01T10:00:00.000Z" })).not.toBe(
      base,
    );
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every depth and leaves out undefined members", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
    expect(canonicalJson(undefined)).toBe("null");
  });
});
