import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  RateCardError,
  countryOfContact,
  estimateCost,
  loadRateCard,
  parseRateCard,
  rateOf,
  type RateCard,
} from "./index.js";

const card: RateCard = {
  currency: "EUR",
  source: "test card",
  markets: [
    { market: "Brazil", countries: ["BR"], rates: { marketing: 0.0625, utility: 0.008 } },
    {
      market: "North America",
      countries: ["US", "CA"],
      rates: { marketing: 0.025, authentication_international: 0.03 },
    },
  ],
  otherwise: { market: "rest", rates: { marketing: 0.04, utility: 0.01 } },
};

describe("rateOf", () => {
  it("prices by the country's market, else the card's otherwise, else nothing", () => {
    expect(rateOf(card, "BR", "marketing")).toBe(0.0625);
    expect(rateOf(card, "CA", "marketing")).toBe(0.025);
    expect(rateOf(card, "DE", "utility")).toBe(0.01);
    expect(rateOf(card, undefined, "utility")).toBe(0.01);
    expect(rateOf(card, "US", "utility")).toBeUndefined();
    expect(rateOf({ ...card, otherwise: undefined }, "DE", "utility")).toBeUndefined();
  });

  it("reads Meta's two spellings of authentication-international as one category", () => {
    expect(rateOf(card, "US", "authentication-international")).toBe(0.03);
    expect(rateOf(card, "US", "authentication_international")).toBe(0.03);
  });
});

describe("estimateCost", () => {
  it("bills only regular messages and counts the ones without a rate as unpriced", () => {
    expect(
      estimateCost(card, "BR", [
        ["marketing/regular", 3],
        ["utility/free_customer_service", 5],
        ["service/regular", 2],
      ]),
    ).toEqual({ currency: "EUR", amount: 0.1875, unpriced: 2 });
  });
});

describe("countryOfContact", () => {
  it("answers a number's country, a BSUID's region, undefined otherwise", () => {
    expect(countryOfContact("5511987654321")).toBe("BR");
    expect(countryOfContact("14155550123")).toBe("US");
    expect(countryOfContact("DE.abc123")).toBe("DE");
    expect(countryOfContact("not-a-number")).toBeUndefined();
  });
});

/** Hostile cards: wrong types, bad codes, negative rates, a country in two markets, junk. */
const hostileCard = fc.oneof(
  fc.anything(),
  fc.record({
    currency: fc.oneof(fc.constant("usd"), fc.constant("EURO"), fc.integer()),
    source: fc.string(),
    markets: fc.constant([]),
  }),
  fc.record({
    currency: fc.constant("USD"),
    source: fc.constant("x"),
    markets: fc.constant([{ market: "m", countries: ["br"], rates: { marketing: 1 } }]),
  }),
  fc.record({
    currency: fc.constant("USD"),
    source: fc.constant("x"),
    markets: fc.constant([{ market: "m", countries: ["BR"], rates: { marketing: -1 } }]),
  }),
  fc.record({
    currency: fc.constant("USD"),
    source: fc.constant("x"),
    markets: fc.constant([
      { market: "a", countries: ["BR"], rates: { marketing: 1 } },
      { market: "b", countries: ["AR", "BR"], rates: { marketing: 1 } },
    ]),
  }),
  fc.record({
    currency: fc.constant("USD"),
    source: fc.constant("x"),
    markets: fc.constant([]),
    extra: fc.anything(),
  }),
);

/** Valid cards: distinct countries per market, non-negative rates. */
const validCard = fc
  .uniqueArray(fc.constantFrom("BR", "US", "CA", "DE", "IN", "MX", "ID", "NG"), {
    minLength: 1,
  })
  .chain((countries) =>
    fc.record({
      currency: fc.constantFrom("USD", "EUR", "INR"),
      source: fc.string({ minLength: 1, maxLength: 40 }),
      markets: fc.constant(
        countries.map((c, i) => ({ market: `m${i}`, countries: [c], rates: { marketing: i } })),
      ),
      otherwise: fc.option(
        fc.record({
          market: fc.constant("rest"),
          rates: fc.dictionary(
            fc.constantFrom("marketing", "utility"),
            fc.double({ min: 0, max: 1, noNaN: true }),
          ),
        }),
        { nil: undefined },
      ),
    }),
  )
  .map((c) => JSON.parse(JSON.stringify(c)) as unknown);

describe("parseRateCard (property)", () => {
  it("keeps every valid card exactly and refuses every hostile one with its problems", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          validCard.map((v) => ({ v, ok: true })),
          hostileCard.map((v) => ({ v, ok: false })),
        ),
        ({ v, ok }) => {
          const parsed = parseRateCard(v);
          if (ok) {
            expect(parsed).toEqual({ ok: true, card: v });
          } else {
            expect(parsed.ok).toBe(false);
            if (!parsed.ok) expect(parsed.problems.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("loadRateCard", () => {
  it("loads the shipped example", async () => {
    const example = join(import.meta.dirname, "..", "rate-card.example.json");
    const loaded = await loadRateCard(example);
    expect(loaded).toEqual(JSON.parse(await readFile(example, "utf8")));
  });

  it("refuses a broken file naming the variable and every problem", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pricing-"));
    const notJson = join(dir, "a.json");
    await writeFile(notJson, "{ nope");
    await expect(loadRateCard(notJson)).rejects.toThrow(
      /PARLEY_RATE_CARD_FILE .*cannot be read as JSON/,
    );
    const twice = join(dir, "b.json");
    await writeFile(
      twice,
      JSON.stringify({
        currency: "USD",
        source: "x",
        markets: [
          { market: "a", countries: ["BR"], rates: {} },
          { market: "b", countries: ["BR"], rates: {} },
        ],
      }),
    );
    const error = await loadRateCard(twice).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateCardError);
    expect((error as RateCardError).retry).toBe("never");
    expect((error as Error).message).toMatch(/BR is in two markets: a and b/);
  });
});
