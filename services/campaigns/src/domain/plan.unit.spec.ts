import { checkSendRequest } from "@parley/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { uuidV5Of } from "../planning/ids.js";
import { campaignDefinition, type CampaignDefinition, type PlanNumber } from "./campaign.js";
import {
  bodyValuesOf,
  campaignOfKey,
  createPlanner,
  finishEstimate,
  idempotencyKeyOf,
  queuedSendOf,
  unknownContact,
  type AudienceRow,
  type ContactFacts,
  type PlanDecision,
  type SkipReason,
} from "./plan.js";

const requestIdOf = uuidV5Of;

const campaign = (over: Partial<CampaignDefinition> = {}): CampaignDefinition =>
  campaignDefinition.parse({
    id: "flash-sale",
    owner: "marketing",
    template: { name: "flash_sale", language: { code: "en" } },
    category: "marketing",
    bodyParameters: ["first_name"],
    numbers: ["100001", "100002"],
    schedule: { startAt: "2026-12-01T10:00:00.000Z" },
    frequencyCap: { max: 2, days: 7 },
    ...over,
  });
const numbers: PlanNumber[] = [
  { phoneNumberId: "100001", mps: 80 },
  { phoneNumberId: "100002", mps: 20 },
];
const granted: ContactFacts = { consent: "granted", recentCampaignSends: 0, windowOpen: false };

let index = 0;
const row = (
  phone: string,
  params: Record<string, string> = { first_name: "Ana" },
  timeZone?: string,
): AudienceRow => ({
  ok: true,
  index: index,
  line: ++index + 1,
  phone,
  params,
  ...(timeZone === undefined ? {} : { timeZone }),
});

describe("the planner", () => {
  it("gives each row one decision with a precise reason", () => {
    index = 0;
    const planner = createPlanner({ campaign: campaign(), numbers, limitBudget: 2, requestIdOf });
    const facts: Record<string, ContactFacts> = {
      "34612345678": granted,
      "34612345679": { ...granted, consent: "revoked" },
      "34612345680": unknownContact,
      "34612345681": { ...granted, recentCampaignSends: 2 },
      "5511987654321": granted,
      "919812345678": granted,
    };
    const rows: AudienceRow[] = [
      row("+34 612 345 678"),
      row("0034612345678"),
      row("+34612345679"),
      row("+34612345680"),
      row("+34612345681"),
      row("+12015550123"),
      row("not a number"),
      { ok: false, index: index++, line: 99, problem: "row 99: 3 fields, the header has 2" },
      row("+5511987654321", {}),
      row("+919812345678"),
      row("+4915112345678"),
    ];
    const decisions = rows.map((r) => createPlannerDecide(planner, r, facts));
    expect(decisions.map((d) => (d.kind === "planned" ? "planned" : d.reason))).toEqual([
      "planned",
      "duplicate",
      "opted_out",
      "no_consent",
      "frequency_cap",
      "us_marketing_blocked",
      "invalid_number",
      "invalid_row",
      "missing_parameter",
      "planned",
      "no_consent",
    ]);
    const first = decisions[0];
    expect(first?.kind).toBe("planned");
    if (first?.kind !== "planned") return;
    expect(first.request.idempotencyKey).toBe("campaign:flash-sale:34612345678");
    expect(first.requestId).toBe(requestIdOf(first.request.idempotencyKey));
    expect(checkSendRequest(first.request).ok).toBe(true);
    expect(first.request.content).toEqual({
      type: "template",
      template: {
        name: "flash_sale",
        language: { code: "en" },
        components: [
          {
            type: "body",
            parameters: [{ type: "text", text: "Ana", parameterName: "first_name" }],
          },
        ],
      },
    });
    expect(planner.counters()).toMatchObject({ next: 11, planned: 2, limitUsed: 2 });
  });

  it("skips past the messaging limit but not a contact with an open window", () => {
    index = 0;
    const planner = createPlanner({ campaign: campaign(), numbers, limitBudget: 1, requestIdOf });
    const a = planner.decide(row("+34612345601"), granted);
    const b = planner.decide(row("+34612345602"), granted);
    const c = planner.decide(row("+34612345603"), { ...granted, windowOpen: true });
    expect([a.kind, b.kind === "skipped" ? b.reason : b.kind, c.kind]).toEqual([
      "planned",
      "outside_messaging_limit",
      "planned",
    ]);
  });

  it("marks a recipient inside a free-entry-point window (forecast free); consent and the rest still apply", () => {
    index = 0;
    const planner = createPlanner({ campaign: campaign(), numbers, limitBudget: 10, requestIdOf });
    const fep = { ...granted, windowOpen: true, freeEntryPoint: true };
    const a = planner.decide(row("+34612345611"), fep);
    const b = planner.decide(row("+34612345612"), granted);
    const c = planner.decide(row("+34612345613"), { ...fep, consent: "revoked" });
    expect(a).toMatchObject({ kind: "planned", freeEntryPoint: true, limited: false });
    expect(b.kind === "planned" && b.freeEntryPoint).toBe(undefined);
    expect(c).toMatchObject({ kind: "skipped", reason: "opted_out" });
  });

  it("lets a utility campaign reach a contact with no recorded consent, and a US number", () => {
    index = 0;
    const planner = createPlanner({
      campaign: campaign({ category: "utility" }),
      numbers,
      limitBudget: 10,
      requestIdOf,
    });
    expect(planner.decide(row("+12015550123"), unknownContact).kind).toBe("planned");
  });

  it("moves a send out of the recipient's quiet hours, in their time zone", () => {
    index = 0;
    const planner = createPlanner({
      campaign: campaign({
        schedule: {
          startAt: "2026-12-01T22:30:00.000Z",
          quietHours: { from: "21:00", to: "08:00" },
          defaultTimeZone: "UTC",
        },
      }),
      numbers,
      limitBudget: 10,
      requestIdOf,
    });
    const utc = planner.decide(row("+34612345601"), granted);
    const tokyo = planner.decide(row("+34612345602", { first_name: "Yu" }, "Asia/Tokyo"), granted);
    // 22:30 UTC is quiet in UTC (until 08:00 UTC) and 07:30 in Tokyo (quiet until 08:00 JST).
    expect(utc.kind === "planned" && utc.releaseAt).toBe("2026-12-02T08:00:00.000Z");
    expect(tokyo.kind === "planned" && tokyo.releaseAt).toBe("2026-12-01T23:00:00.000Z");
  });

  it("refuses a row out of order (a resumed plan must continue at its cursor)", () => {
    const planner = createPlanner({ campaign: campaign(), numbers, limitBudget: 10, requestIdOf });
    expect(() =>
      planner.decide({ ok: true, index: 3, line: 4, phone: "+34612345601", params: {} }, granted),
    ).toThrow(/out of order/);
  });
});

function createPlannerDecide(
  planner: ReturnType<typeof createPlanner>,
  r: AudienceRow,
  facts: Record<string, ContactFacts>,
): PlanDecision {
  const digits = r.ok ? r.phone.replace(/\D/g, "").replace(/^00/, "") : "";
  return planner.decide(r, facts[digits] ?? unknownContact);
}

// ---- property: hostile audiences ----

const validPhones = [
  "34612345601",
  "34612345602",
  "34612345603",
  "5511987654321",
  "5511987654322",
  "919812345678",
  "4915112345678",
  "12015550123",
  "16505551234",
];
/** Ways to write the same number: a row in another format is still the same contact. */
const spellings = (digits: string) =>
  fc.constantFrom(digits, `+${digits}`, `00${digits}`, `+${digits.slice(0, 2)} ${digits.slice(2)}`);
const hostilePhone = fc.oneof(
  fc.constant(""),
  fc.constant("+0000"),
  fc.constant("+99912345678"),
  fc.string({ maxLength: 20 }).filter((s) => /[^\d+\s\-().]/.test(s)),
  // 16 digits or more, none of them an international (00) or trunk (0) prefix to strip: a
  // leading 00 leaves 15, a possible E.164 number (seen: 00358000000000000).
  fc.stringMatching(/^[1-9]\d{15,39}$/),
  fc.constant("x".repeat(200)),
);
const factsArb: fc.Arbitrary<ContactFacts> = fc.record({
  consent: fc.constantFrom("granted", "revoked", "unknown"),
  recentCampaignSends: fc.nat({ max: 3 }),
  windowOpen: fc.boolean(),
});
type Spec =
  | { kind: "valid"; digits: string; phone: string; hasParam: boolean }
  | { kind: "hostile"; phone: string }
  | { kind: "broken"; problem: string };
const specArb: fc.Arbitrary<Spec> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(...validPhones).chain((d) =>
      fc.record({
        kind: fc.constant("valid" as const),
        digits: fc.constant(d),
        phone: spellings(d),
        hasParam: fc.boolean(),
      }),
    ),
  },
  { weight: 2, arbitrary: hostilePhone.map((phone) => ({ kind: "hostile" as const, phone })) },
  {
    weight: 1,
    arbitrary: fc
      .string({ minLength: 1, maxLength: 30 })
      .map((problem) => ({ kind: "broken" as const, problem })),
  },
);

/** The reason the rules give for a first occurrence, or planned; an independent statement of them. */
function expected(
  spec: Extract<Spec, { kind: "valid" }>,
  facts: ContactFacts,
  c: CampaignDefinition,
): SkipReason | "planned-if-budget" {
  if (!spec.hasParam) return "missing_parameter";
  if (c.category === "marketing" && spec.digits.startsWith("1")) return "us_marketing_blocked";
  if (facts.consent === "revoked") return "opted_out";
  if (c.category === "marketing" && facts.consent !== "granted") return "no_consent";
  if (facts.recentCampaignSends >= (c.frequencyCap?.max ?? Infinity)) return "frequency_cap";
  return "planned-if-budget";
}

describe("the planner over hostile audiences (property)", () => {
  it("decides every row once, each valid contact at most once, with the reason its facts give, and resumes anywhere to the same plan", () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { maxLength: 60 }),
        fc.dictionary(fc.constantFrom(...validPhones), factsArb),
        fc.constantFrom<CampaignDefinition["category"]>("marketing", "utility"),
        fc.nat({ max: 10 }),
        fc.nat({ max: 60 }),
        (specs, factsBy, category, budget, cut) => {
          const c = campaign({ category });
          const rows: AudienceRow[] = specs.map((s, i) =>
            s.kind === "broken"
              ? { ok: false, index: i, line: i + 2, problem: s.problem }
              : {
                  ok: true,
                  index: i,
                  line: i + 2,
                  phone: s.phone,
                  params: s.kind === "valid" && s.hasParam ? { first_name: "Ana" } : {},
                },
          );
          const factsOf = (i: number): ContactFacts => {
            const s = specs[i];
            return s?.kind === "valid" ? (factsBy[s.digits] ?? unknownContact) : unknownContact;
          };
          const settings = { campaign: c, numbers, limitBudget: budget, requestIdOf };
          const whole = createPlanner(settings);
          const once = rows.map((r, i) => whole.decide(r, factsOf(i)));

          // Every row one decision, in order.
          expect(once.map((d) => d.index)).toEqual(rows.map((_, i) => i));
          const seen = new Set<string>();
          let limited = 0;
          specs.forEach((s, i) => {
            const d = once[i];
            if (d === undefined) throw new Error("missing decision");
            if (s.kind === "broken") {
              expect(d).toMatchObject({
                kind: "skipped",
                reason: "invalid_row",
                detail: s.problem,
              });
              return;
            }
            if (s.kind === "hostile") {
              expect(d).toMatchObject({ kind: "skipped", reason: "invalid_number" });
              return;
            }
            if (seen.has(s.digits)) {
              expect(d).toMatchObject({
                kind: "skipped",
                reason: "duplicate",
                contactId: s.digits,
              });
              return;
            }
            seen.add(s.digits);
            const rule = expected(s, factsOf(i), c);
            if (rule !== "planned-if-budget") {
              expect(d).toMatchObject({ kind: "skipped", reason: rule, contactId: s.digits });
              return;
            }
            const uses = !factsOf(i).windowOpen;
            if (uses && limited >= budget) {
              expect(d).toMatchObject({ kind: "skipped", reason: "outside_messaging_limit" });
              return;
            }
            if (uses) limited++;
            expect(d).toMatchObject({
              kind: "planned",
              contactId: s.digits,
              requestId: requestIdOf(idempotencyKeyOf(c.id, s.digits)),
            });
          });
          const plannedIds = once.flatMap((d) => (d.kind === "planned" ? [d.contactId] : []));
          expect(new Set(plannedIds).size).toBe(plannedIds.length);
          const counters = whole.counters();
          expect(
            counters.planned + Object.values(counters.skipped).reduce((a, b) => a + b, 0),
          ).toBe(rows.length);
          // Spread by cap: number i holds its share of the planned, within one.
          counters.perNumber.forEach((n, i) => {
            const share = (plannedIds.length * (numbers[i]?.mps ?? 0)) / 100;
            expect(Math.abs(n - share)).toBeLessThanOrEqual(1);
          });

          // Crash after `cut` rows: a new planner from the checkpoint gives the same decisions.
          const k = Math.min(cut, rows.length);
          const before = createPlanner(settings);
          for (let i = 0; i < k; i++) before.decide(rows[i] as AudienceRow, factsOf(i));
          const resumed = createPlanner(settings, before.counters());
          for (let i = 0; i < k; i++) resumed.remember(rows[i] as AudienceRow);
          const rest = rows.slice(k).map((r, j) => resumed.decide(r, factsOf(k + j)));
          expect(rest).toEqual(once.slice(k));
          expect(resumed.counters()).toEqual(counters);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("queuedSendOf (the compact queue document)", () => {
  it("property: what the queue keeps rebuilds exactly the send the planner decided", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{0,9}$/), { maxLength: 4 }),
        fc.array(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.boolean(),
        fc.constantFrom("marketing", "utility"),
        fc.option(fc.constant("2026-12-02T00:00:00.000Z"), { nil: undefined }),
        (bodyParameters, values, n, windowOpen, category, endAt) => {
          const c = campaign({
            bodyParameters,
            category,
            schedule: { ...campaign().schedule, ...(endAt ? { endAt } : {}) },
          });
          const planner = createPlanner({ campaign: c, numbers, limitBudget: 10, requestIdOf });
          const params = Object.fromEntries(bodyParameters.map((p, i) => [p, values[i] ?? "x"]));
          const d = planner.decide(
            { ok: true, index: 0, line: 2, phone: `+34612${String(n).padStart(6, "0")}`, params },
            { ...granted, windowOpen, freeEntryPoint: windowOpen },
          );
          if (d.kind !== "planned") throw new Error(`not planned: ${d.reason}`);
          const kept = { ...d, params: bodyValuesOf(d) };
          expect(queuedSendOf(c, kept)).toEqual(d);
        },
      ),
    );
  });
});

describe("finishEstimate", () => {
  it("is the start plus the longest number's queue at its cap", () => {
    expect(
      finishEstimate(
        { next: 0, planned: 1000, skipped: {}, perNumber: [800, 200], limitUsed: 0 },
        numbers,
        "2026-12-01T10:00:00.000Z",
      ),
    ).toBe("2026-12-01T10:00:10.000Z");
  });
});

describe("campaignOfKey", () => {
  it("property: the campaign of every key idempotencyKeyOf makes; nothing for any other key", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,63}$/),
        fc.stringMatching(/^\d{8,15}$/),
        fc.string({ maxLength: 80 }),
        (campaignId, contactId, other) => {
          expect(campaignOfKey(idempotencyKeyOf(campaignId, contactId))).toBe(campaignId);
          if (!other.startsWith("campaign:")) expect(campaignOfKey(other)).toBeUndefined();
          // No valid campaign id (capitals are not allowed), no campaign.
          expect(campaignOfKey(`campaign:X${campaignId}:${contactId}`)).toBeUndefined();
        },
      ),
    );
  });
});
