import type { RateCard } from "@parley/pricing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { campaignDefinition, type CampaignDefinition } from "./campaign.js";
import { createForecast, freeEntryPointUntilOf, isBillable } from "./forecast.js";

const card: RateCard = {
  currency: "USD",
  source: "test",
  markets: [
    { market: "Brazil", countries: ["BR"], rates: { marketing: 0.0625, utility: 0.0068 } },
    { market: "India", countries: ["IN"], rates: { marketing: 0.0107 } },
  ],
  otherwise: { market: "Rest", rates: { marketing: 0.05, utility: 0.01 } },
};
const campaign = (category: CampaignDefinition["category"], startAt = "2026-12-07T09:00:00Z") =>
  campaignDefinition.parse({
    id: "c1",
    owner: "marketing",
    template: { name: "sale", language: { code: "en" } },
    category,
    numbers: ["100001"],
    schedule: { startAt },
  });
const BR = "5511987654321";
const IN = "919876543210";
const DE = "4915112345678";

describe("isBillable (Meta's per-message pricing, reference/cloud-api.md section 7)", () => {
  it("bills marketing and authentication always, utility outside a window or from 2026-10-01", () => {
    const before = new Date("2026-09-30T23:59:59Z");
    const after = new Date("2026-10-01T00:00:00Z");
    expect(isBillable("marketing", true, before)).toBe(true);
    expect(isBillable("authentication", true, before)).toBe(true);
    expect(isBillable("utility", true, before)).toBe(false);
    expect(isBillable("utility", false, before)).toBe(true);
    expect(isBillable("utility", true, after)).toBe(true);
  });
});

describe("createForecast", () => {
  it("prices a mixed-country marketing audience by market, in the card's currency", () => {
    const f = createForecast(card, campaign("marketing"));
    for (const contactId of [BR, BR, IN, DE]) f.add({ contactId, windowOpen: false });
    f.add({ contactId: BR, windowOpen: true }); // marketing: a window does not make it free
    const r = f.result();
    expect(r).toMatchObject({ currency: "USD", recipients: 5, billable: 5, free: 0, unpriced: 0 });
    expect(r.lines).toEqual([
      {
        market: "Brazil",
        category: "marketing",
        billable: 3,
        free: 0,
        unpriced: 0,
        amount: 0.1875,
      },
      { market: "India", category: "marketing", billable: 1, free: 0, unpriced: 0, amount: 0.0107 },
      { market: "Rest", category: "marketing", billable: 1, free: 0, unpriced: 0, amount: 0.05 },
    ]);
    expect(r.amount).toBe(0.2482);
  });

  it("a utility campaign before 2026-10-01: window open is free, a market without a rate is unpriced", () => {
    const f = createForecast(card, campaign("utility", "2026-09-01T09:00:00Z"));
    f.add({ contactId: BR, windowOpen: true });
    f.add({ contactId: BR, windowOpen: false });
    f.add({ contactId: IN, windowOpen: false });
    const r = f.result();
    expect(r).toMatchObject({ billable: 2, free: 1, unpriced: 1, amount: 0.0068 });
  });

  it("adding one by one or by counts gives the same forecast, in any order (property)", () => {
    const recipient = fc.record({
      contactId: fc.constantFrom(BR, IN, DE, "not-a-number"),
      windowOpen: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.constantFrom("marketing" as const, "utility" as const, "authentication" as const),
        fc.array(recipient, { maxLength: 60 }),
        (category, rs) => {
          const c = campaign(category, "2026-09-15T00:00:00Z");
          const one = createForecast(card, c);
          for (const r of rs) one.add(r);
          const reversed = createForecast(card, c);
          for (const r of [...rs].reverse()) reversed.add(r);
          expect(reversed.result()).toEqual(one.result());
          const r = one.result();
          expect(r.recipients).toBe(rs.length);
          expect(r.billable + r.free).toBe(rs.length);
          expect(r.lines.reduce((s, l) => s + l.amount, 0)).toBeCloseTo(r.amount, 6);
        },
      ),
    );
  });
});

describe("free entry points (a window opened from a Click-to-WhatsApp ad or Page CTA)", () => {
  it("forecasts every category free inside one, also from 2026-10-01; by counts the same as one by one", () => {
    for (const at of ["2026-09-01T00:00:00Z", "2026-12-07T09:00:00Z"]) {
      for (const category of ["marketing", "utility", "authentication"] as const) {
        expect(isBillable(category, false, new Date(at), true)).toBe(false);
        expect(isBillable(category, true, new Date(at), true)).toBe(false);
      }
    }
    const one = createForecast(card, campaign("marketing"));
    one.add({ contactId: BR, windowOpen: true, freeEntryPoint: true });
    one.add({ contactId: BR, windowOpen: false });
    one.add({ contactId: IN, windowOpen: true, freeEntryPoint: true });
    const byCount = createForecast(card, campaign("marketing"));
    byCount.addCount("BR", true, 1, true);
    byCount.addCount("BR", false, 1);
    byCount.addCount("IN", true, 1, true);
    expect(one.result()).toEqual(byCount.result());
    expect(one.result()).toMatchObject({ recipients: 3, billable: 1, free: 2, amount: 0.0625 });
  });

  it("the window's free entry point ends 72 h after it opened (48 h after its 24 h service window)", () => {
    expect(freeEntryPointUntilOf("2026-12-02T10:00:00.000Z")).toBe("2026-12-04T10:00:00.000Z");
  });
});
