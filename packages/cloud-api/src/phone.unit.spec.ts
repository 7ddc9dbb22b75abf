import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidPhoneNumberError } from "./errors.js";
import { maskPhoneNumber, normalizePhoneNumber, possiblePhoneCountry } from "./phone.js";

describe("normalizePhoneNumber", () => {
  it.each([
    ["+1 (650) 555-1234", undefined, "+16505551234"],
    ["16505551234", undefined, "+16505551234"],
    ["0044 7911 123456", undefined, "+447911123456"],
    ["07911 123456", "GB", "+447911123456"],
    ["(11) 98765-4321", "BR", "+5511987654321"],
    ["+55 11 98765-4321", "IN", "+5511987654321"],
  ] as const)("%s (default %s) -> %s", (input, country, e164) => {
    const n = normalizePhoneNumber(input, country ? { defaultCountry: country } : {});
    expect(n.e164).toBe(e164);
    expect(n.digits).toBe(e164.slice(1));
  });

  it("prepends the business country when + is missing (as Meta does)", () => {
    expect(normalizePhoneNumber("98765 43210", { defaultCountry: "IN" }).e164).toBe(
      "+919876543210",
    );
  });

  it("accepts Meta's +1 555 test numbers as possible but not valid", () => {
    expect(normalizePhoneNumber("+1 555 078 3881")).toMatchObject({
      e164: "+15550783881",
      valid: false,
      country: "US",
    });
  });

  it("answers a repeated input from memory, per default country, with a frozen result", () => {
    const first = normalizePhoneNumber("98765 43210", { defaultCountry: "IN" });
    expect(normalizePhoneNumber("98765 43210", { defaultCountry: "IN" })).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // The same digits read in another country are another number, not the remembered one.
    const us = normalizePhoneNumber("650 555 1234", { defaultCountry: "US" });
    expect(us.e164).toBe("+16505551234");
    expect(normalizePhoneNumber("650 555 1234", { defaultCountry: "CA" })).not.toBe(us);
    // Invalid input is not remembered: it throws every time.
    expect(() => normalizePhoneNumber("+1 123")).toThrow(InvalidPhoneNumberError);
    expect(() => normalizePhoneNumber("+1 123")).toThrow(InvalidPhoneNumberError);
  });

  it("rejects garbage with a masked message", () => {
    expect(() => normalizePhoneNumber("call me")).toThrow(InvalidPhoneNumberError);
    try {
      normalizePhoneNumber("+1 123");
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidPhoneNumberError);
      expect((e as Error).message).not.toContain("123");
    }
  });
});

describe("maskPhoneNumber", () => {
  it("hides the middle digits", () => {
    expect(maskPhoneNumber("+16505551234")).toBe("+165******34");
    expect(maskPhoneNumber("16505551234")).not.toContain("555");
  });
});

describe("possiblePhoneCountry", () => {
  it("answers what normalizePhoneNumber answers for +digits: the same country, or no possible number", () => {
    // Calling codes of one country, of several (+1, +7, +44, +61), unassigned ones, then any digits.
    const prefix = fc.constantFrom("34", "55", "52", "91", "44", "1", "7", "61", "999", "80", "");
    const digits = fc.tuple(prefix, fc.stringMatching(/^\d{0,16}$/)).map(([p, d]) => `${p}${d}`);
    fc.assert(
      fc.property(fc.oneof(digits, fc.string({ maxLength: 20 })), (input) => {
        const fast = possiblePhoneCountry(input);
        let slow: { possible: true; country: string | undefined } | { possible: false };
        try {
          slow = /^\d+$/.test(input)
            ? { possible: true, country: normalizePhoneNumber(`+${input}`).country }
            : { possible: false };
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidPhoneNumberError);
          slow = { possible: false };
        }
        expect(fast).toEqual(slow);
      }),
      { numRuns: 2_000 },
    );
  });

  it("names the country of Spanish, Brazilian, US and UK numbers and refuses impossible ones", () => {
    expect(possiblePhoneCountry("34612345678")).toEqual({ possible: true, country: "ES" });
    expect(possiblePhoneCountry("5511987654321")).toEqual({ possible: true, country: "BR" });
    expect(possiblePhoneCountry("12025550123")).toEqual({ possible: true, country: "US" });
    expect(possiblePhoneCountry("447700900123")).toEqual({ possible: true, country: "GB" });
    expect(possiblePhoneCountry("999000000001")).toEqual({ possible: false });
    expect(possiblePhoneCountry("+34612345678")).toEqual({ possible: false });
    expect(possiblePhoneCountry("")).toEqual({ possible: false });
  });
});
