import { describe, expect, it } from "vitest";
import {
  contactIdForRequest,
  contactIdOf,
  InvalidContactIdError,
  parseContactId,
  sameContact,
} from "./index.js";

describe("contactIdOf: one key per person", () => {
  it.each([
    // Brazil: an old account without the ninth digit, the number with it, and E.164 input.
    ["551187654321", "5511987654321"],
    ["5511987654321", "5511987654321"],
    ["+55 11 98765-4321", "5511987654321"],
    // Brazil landline: no ninth digit to add.
    ["551134567890", "551134567890"],
    // Mexico: Meta's 521 wa_id and the CRM's 52 number.
    ["5215512345678", "525512345678"],
    ["+52 55 1234 5678", "525512345678"],
    // Argentina: 54 + 10 digits and Meta's 549 wa_id.
    ["541123456789", "5491123456789"],
    ["+54 9 11 2345-6789", "5491123456789"],
    // Everyone else: the digits as they are.
    ["16505551234", "16505551234"],
    ["+1 (650) 555-1234", "16505551234"],
    ["0044 20 7946 0958", "442079460958"],
    // BSUIDs are kept as they are.
    ["US.13491208655302741918", "US.13491208655302741918"],
    ["US.ENT.11815799212886844830", "US.ENT.11815799212886844830"],
  ])("%s -> %s", (input, expected) => {
    expect(contactIdOf(input)).toBe(expected);
  });

  it("is idempotent: a canonical id maps to itself", () => {
    for (const id of ["5511987654321", "525512345678", "5491123456789", "16505551234"]) {
      expect(contactIdOf(contactIdOf(id))).toBe(contactIdOf(id));
    }
  });

  it("says the two forms Meta uses for one person are the same contact", () => {
    expect(sameContact("5215512345678", "+52 55 1234 5678")).toBe(true);
    expect(sameContact("551187654321", "5511987654321")).toBe(true);
    expect(sameContact("541123456789", "5491123456789")).toBe(true);
    expect(sameContact("16505551234", "16505551235")).toBe(false);
    expect(sameContact("not a number", "not a number")).toBe(false);
  });

  it.each([
    ["", "empty"],
    ["12345", "has 5 digits"],
    ["1234567890123456", "has 16 digits"],
    ["5511\uFFFD87654321", "not a wa_id"],
    ["16505551234; drop", "not a wa_id"],
    ["us.123456789", "not a wa_id"],
    ["+", "has 0 digits"],
    ["1".repeat(65), "longer than 64"],
  ])("refuses %j with a reason", (input, reason) => {
    const result = parseContactId(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
    expect(() => contactIdOf(input)).toThrow(InvalidContactIdError);
  });

  it("keeps the number out of the error message", () => {
    const error = (() => {
      try {
        contactIdOf("5511abc87654321");
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error?.message).not.toContain("5511");
  });
});

describe("contactIdForRequest", () => {
  it("derives the canonical id from an international number or a BSUID", () => {
    expect(contactIdForRequest(undefined, { phone: "+52 1 55 1234 5678" })).toEqual({
      ok: true,
      contactId: "525512345678",
    });
    expect(contactIdForRequest(undefined, { userId: "US.13491208655302741918" })).toEqual({
      ok: true,
      contactId: "US.13491208655302741918",
    });
  });

  it("accepts a given id that names the recipient, and refuses one that does not", () => {
    expect(contactIdForRequest("525512345678", { phone: "+5215512345678" }).ok).toBe(true);
    const wrong = contactIdForRequest("5215512345678", { phone: "+52 55 1234 5678" });
    expect(wrong.ok).toBe(false);
    if (!wrong.ok) expect(wrong.message).toContain("525512345678");
  });

  it("needs the id for a number without its country code, and says how to give it", () => {
    const local = contactIdForRequest(undefined, { phone: "(650) 555-1234" });
    expect(local.ok).toBe(false);
    if (!local.ok) expect(local.message).toContain("international form");
    expect(contactIdForRequest("16505551234", { phone: "(650) 555-1234" })).toEqual({
      ok: true,
      contactId: "16505551234",
    });
  });

  it("refuses a recipient that names no contact", () => {
    const bad = contactIdForRequest(undefined, { userId: "not-a-bsuid" });
    expect(bad.ok).toBe(false);
  });
});
