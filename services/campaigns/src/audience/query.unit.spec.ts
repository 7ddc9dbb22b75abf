import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { audienceQuery, memberFields, paramsOfMember } from "./query.js";

describe("a query audience's per-member parameters", () => {
  it("takes each mapped parameter from the member, the constant as the fallback, else leaves it out", () => {
    const q = audienceQuery.parse({
      params: { first_name: "friend", greeting: "hi" },
      paramsFrom: { first_name: "profileName", market: "country" },
    });
    expect(paramsOfMember(q, { contactId: "5511", profileName: " Ana ", country: "BR" })).toEqual({
      first_name: "Ana",
      greeting: "hi",
      market: "BR",
    });
    // No profile name (or a blank one): the fallback; no country and no fallback: left out (the
    // planner skips the member `missing_parameter`, naming it).
    expect(paramsOfMember(q, { contactId: "5511", profileName: "  " })).toEqual({
      first_name: "friend",
      greeting: "hi",
    });
    expect(paramsOfMember({ params: { a: "x" } }, { contactId: "1", profileName: "B" })).toEqual({
      a: "x",
    });
  });

  it("property: every mapped parameter is the member's trimmed value or the fallback, never another's", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z0-9_]{1,8}$/), fc.constantFrom(...memberFields), {
          maxKeys: 6,
        }),
        fc.dictionary(fc.stringMatching(/^[a-z0-9_]{1,8}$/), fc.string({ minLength: 1 }), {
          maxKeys: 6,
        }),
        fc.record(
          { profileName: fc.string({ maxLength: 2_000 }), country: fc.constantFrom("BR", "") },
          { requiredKeys: [] },
        ),
        (paramsFrom, params, member) => {
          const out = paramsOfMember({ params, paramsFrom }, { contactId: "1", ...member });
          for (const [name, value] of Object.entries(out)) {
            const field = paramsFrom[name];
            const own = field === undefined ? undefined : member[field]?.trim().slice(0, 1_024);
            if (own !== undefined && own !== "") expect(value).toBe(own);
            else expect(value).toBe(params[name]);
          }
          for (const name of Object.keys(params)) expect(out).toHaveProperty(name);
        },
      ),
    );
  });
});
