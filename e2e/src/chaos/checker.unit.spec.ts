import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkHistory,
  formatReport,
  type ChaosHistory,
  type Delivery,
  type GraphSend,
  type OutcomeEvent,
  type TypedEvent,
} from "./checker.js";

const NUMBER = "106540352242991";
const CAP = 5;

/**
 * A history a correct Parley could leave: each request sent at most once under the cap and
 * answered once (some through an in-doubt call then reconciled, some rejected, some failed
 * asynchronously after acceptance), every acknowledged webhook item typed once (some after a
 * refused first attempt, some read twice with the same event id), read models equal to their
 * rebuild.
 */
const validHistory: fc.Arbitrary<ChaosHistory> = fc
  .record({
    requests: fc.array(
      fc.record({
        fate: fc.constantFrom("accepted", "rejected", "in-doubt", "async-failed", "deduplicated"),
        statuses: fc.subarray(["sent", "delivered", "read"]),
        redelivered: fc.boolean(),
      }),
      { maxLength: 40 },
    ),
    inbound: fc.array(fc.record({ firstRefused: fc.boolean(), readTwice: fc.boolean() }), {
      maxLength: 30,
    }),
    models: fc.array(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })), {
      maxLength: 5,
    }),
  })
  .map(({ requests, inbound, models }) => {
    const deliveries: Delivery[] = [];
    const typed: TypedEvent[] = [];
    const graphSends: GraphSend[] = [];
    const outcomes: OutcomeEvent[] = [];
    let delivery = 0;
    const ack = (items: Delivery["items"], refusedFirst: boolean) => {
      delivery++;
      if (refusedFirst) deliveries.push({ deliveryId: delivery, attempt: 1, outcome: 503, items });
      deliveries.push({ deliveryId: delivery, attempt: refusedFirst ? 2 : 1, outcome: 200, items });
    };
    requests.forEach((r, n) => {
      const requestId = `req-${String(n)}`;
      const outcome = (type: OutcomeEvent["type"], extra: Partial<OutcomeEvent> = {}) => {
        outcomes.push({ eventId: `${requestId}-${type}`, type, requestId, ...extra });
        if (r.redelivered)
          outcomes.push({ eventId: `${requestId}-${type}`, type, requestId, ...extra });
      };
      if (r.fate === "rejected") {
        outcome("SendRejected");
        return;
      }
      if (r.fate === "deduplicated") {
        outcome("SendDeduplicated");
        return;
      }
      const wamid = `wamid.${String(n)}`;
      // 5 sends a second at most: one every 200 ms.
      graphSends.push({
        wamid,
        phoneNumberId: NUMBER,
        waId: `1650${String(n)}`,
        acceptedAt: n * 200,
        requestId,
      });
      if (r.fate === "in-doubt") {
        outcome("SendInDoubt");
        outcome("SendReconciled");
      } else outcome("SendAccepted");
      if (r.fate === "async-failed") outcome("SendFailed", { phase: "async" });
      for (const status of r.statuses) {
        const item = { kind: "status", wamid, status } as const;
        ack([item], false);
        typed.push({ ...item, eventId: `${wamid}-${status}` });
      }
    });
    inbound.forEach((i, n) => {
      const item = { kind: "message", wamid: `wamid.in.${String(n)}` } as const;
      ack([item], i.firstRefused);
      typed.push({ ...item, eventId: `in-${String(n)}` });
      if (i.readTwice) typed.push({ ...item, eventId: `in-${String(n)}` });
    });
    return {
      deliveries,
      typed,
      requests: requests.map((_, n) => `req-${String(n)}`),
      graphSends,
      outcomes,
      caps: { [NUMBER]: CAP },
      pairPacing: graphSends.map((s) => ({ phoneNumberId: NUMBER, waId: s.waId, overLimitAt: [] })),
      readModels: [{ name: "messages", live: models, rebuilt: [...models].reverse() }],
      recoveries: [{ label: "MongoDB stopped 30 s", peakLag: 120, caughtUpMs: 4_000 }],
      logScan: { files: 6, bytes: 4_096, findings: [] },
    };
  });

/** Histories with at least one Graph send, one acknowledged webhook and one outcome. */
const busyHistory = validHistory.filter(
  (h) =>
    h.graphSends.length > 0 &&
    h.deliveries.some((d) => d.outcome === 200) &&
    h.outcomes.some((o) => o.type === "SendAccepted"),
);

/** An item as the checker names it in its examples. */
const itemName = (i: TypedEvent | Delivery["items"][number]): string =>
  i.kind === "message" ? `message ${i.wamid}` : `status ${i.wamid} ${i.status}`;

const failing = (h: ChaosHistory): string[] =>
  checkHistory(h)
    .rows.filter((r) => !r.ok)
    .map((r) => r.check);

describe("the chaos checker", () => {
  it("passes every history a correct Parley could leave", () => {
    fc.assert(
      fc.property(validHistory, (h) => {
        const report = checkHistory(h);
        expect(report.rows.filter((r) => !r.ok)).toEqual([]);
        expect(report.ok).toBe(true);
      }),
    );
  });

  // Each broken build leaves its trace in the history; the checker fails on it, and only on it.
  const breakages: readonly {
    name: string;
    /** The rows that must fail (an unreconciled send also has no terminal outcome). */
    checks: readonly string[];
    /**
     * The broken history, and what the failed rows must name, in their order: exactly the
     * offending ids (a request, a webhook item, a number...), nothing else.
     */
    breakIt: (
      h: ChaosHistory,
      pick: number,
    ) => { history: ChaosHistory; offending: readonly (string | RegExp)[] };
  }[] = [
    {
      // e.g. the sender committing its offset before recording its attempt: a crash in between
      // calls Graph again for the same request.
      name: "a duplicate Graph send",
      checks: ["Graph sends per request"],
      breakIt: (h, pick) => {
        const s = h.graphSends[pick % h.graphSends.length] as GraphSend;
        return {
          history: {
            ...h,
            graphSends: [...h.graphSends, { ...s, wamid: `${s.wamid}.again`, acceptedAt: -5_000 }],
          },
          offending: [`request ${String(s.requestId)}: 2 Graph sends`],
        };
      },
    },
    {
      name: "a lost webhook (acknowledged, never typed)",
      checks: ["webhooks acknowledged vs typed events"],
      breakIt: (h, pick) => {
        const acked = h.deliveries.filter((d) => d.outcome === 200);
        const lost = acked[pick % acked.length]?.items[0];
        const key = JSON.stringify(lost);
        return {
          history: {
            ...h,
            typed: h.typed.filter(
              (e) =>
                JSON.stringify(
                  e.kind === "message"
                    ? { kind: e.kind, wamid: e.wamid }
                    : { kind: e.kind, wamid: e.wamid, status: e.status },
                ) !== key,
            ),
          },
          offending: [lost === undefined ? "none" : itemName(lost)],
        };
      },
    },
    {
      name: "a webhook typed twice (a retry not deduplicated)",
      checks: ["typed events per webhook item"],
      breakIt: (h, pick) => {
        const e = h.typed[pick % h.typed.length] as TypedEvent;
        return {
          history: { ...h, typed: [...h.typed, { ...e, eventId: `${e.eventId}-second` }] },
          offending: [itemName(e)],
        };
      },
    },
    {
      name: "a one-second window over the cap",
      checks: ["per-number one-second windows over the cap"],
      breakIt: (h, pick) => {
        const s = h.graphSends[pick % h.graphSends.length] as GraphSend;
        const burst = Array.from({ length: CAP }, (_, i) => ({
          ...s,
          wamid: `burst.${String(i)}`,
          requestId: `burst-${String(i)}`,
          acceptedAt: s.acceptedAt + 1 + i,
        }));
        return {
          history: {
            ...h,
            graphSends: [...h.graphSends, ...burst],
            requests: [...h.requests, ...burst.map((b) => b.requestId)],
            outcomes: [
              ...h.outcomes,
              ...burst.map((b) => ({
                eventId: `${b.requestId}-acc`,
                type: "SendAccepted" as const,
                requestId: b.requestId,
              })),
            ],
          },
          offending: [new RegExp(`^number ${NUMBER}: \\d+ windows over ${String(CAP)}/s`)],
        };
      },
    },
    {
      name: "a request without an outcome",
      checks: ["requests without exactly one terminal outcome"],
      breakIt: (h) => ({
        history: { ...h, requests: [...h.requests, "req-forgotten"] },
        offending: ["request req-forgotten: no terminal outcome"],
      }),
    },
    {
      name: "a request with two terminal outcomes",
      checks: ["requests without exactly one terminal outcome"],
      breakIt: (h) => {
        const o = h.outcomes.filter((x) => x.type === "SendAccepted")[0] as OutcomeEvent;
        return {
          history: {
            ...h,
            outcomes: [
              ...h.outcomes,
              {
                eventId: `${o.eventId}-other`,
                type: "SendFailed",
                phase: "sync",
                requestId: o.requestId,
              },
            ],
          },
          offending: [`request ${o.requestId}: 2 terminal outcomes`],
        };
      },
    },
    {
      name: "an in-doubt send never reconciled",
      checks: ["requests without exactly one terminal outcome", "in-doubt sends, each reconciled"],
      breakIt: (h) => ({
        history: {
          ...h,
          requests: [...h.requests, "req-doubt"],
          outcomes: [
            ...h.outcomes,
            { eventId: "doubt", type: "SendInDoubt", requestId: "req-doubt" },
          ],
        },
        offending: [
          "request req-doubt: no terminal outcome",
          "request req-doubt: in doubt, never reconciled",
        ],
      }),
    },
    {
      name: "a pair-pacing violation",
      checks: ["pair-pacing violations"],
      breakIt: (h) => ({
        history: {
          ...h,
          pairPacing: [
            ...h.pairPacing,
            { phoneNumberId: NUMBER, waId: "16505550000", overLimitAt: [1, 2] },
          ],
        },
        offending: [`${NUMBER} -> 16505550000: 2 over`],
      }),
    },
    {
      name: "a read model that differs from its rebuild",
      checks: ["read models vs a rebuild"],
      breakIt: (h, pick) => ({
        history: {
          ...h,
          readModels: [
            ...h.readModels,
            {
              name: "statuses",
              live: [{ wamid: "w", status: "read" }],
              rebuilt: [{ wamid: "w", status: pick % 2 === 0 ? "delivered" : "sent" }],
            },
          ],
        },
        offending: [/^statuses: 2 documents differ \(live 1, rebuilt 1\), e\.g\. .*"wamid":"w"/],
      }),
    },
    {
      name: "a consumer that never caught up after MongoDB came back",
      checks: ["caught up after: MongoDB stopped 30 s"],
      breakIt: (h) => ({
        history: {
          ...h,
          recoveries: [{ label: "MongoDB stopped 30 s", peakLag: 500, caughtUpMs: undefined }],
        },
        offending: ["MongoDB stopped 30 s: never caught up"],
      }),
    },
    {
      name: "a secret in a log",
      checks: ["secrets and unmasked phone numbers in logs"],
      breakIt: (h) => ({
        history: {
          ...h,
          logScan: { files: 6, bytes: 4_096, findings: ["sender-1.log: the secret chaos-…"] },
        },
        offending: ["sender-1.log: the secret chaos-…"],
      }),
    },
  ];

  for (const b of breakages)
    it(`fails on ${b.name}, in its rows only, naming the offending ids`, () => {
      fc.assert(
        fc.property(busyHistory, fc.nat(), (h, pick) => {
          const { history, offending } = b.breakIt(h, pick);
          expect(failing(history)).toEqual(b.checks);
          // The failed rows' examples are exactly the offending items (what a run's log prints).
          const examples = checkHistory(history)
            .rows.filter((r) => !r.ok)
            .flatMap((r) => r.examples);
          expect(examples).toEqual(
            offending.map((o): unknown => (typeof o === "string" ? o : expect.stringMatching(o))),
          );
        }),
        { numRuns: 25 },
      );
    });

  it("prints a table with the failed rows' examples", () => {
    const broken: ChaosHistory = {
      deliveries: [
        { deliveryId: 1, attempt: 1, outcome: 200, items: [{ kind: "message", wamid: "w1" }] },
      ],
      typed: [],
      requests: ["r1"],
      graphSends: [
        { wamid: "a", phoneNumberId: NUMBER, waId: "1", acceptedAt: 0, requestId: "r1" },
        { wamid: "b", phoneNumberId: NUMBER, waId: "1", acceptedAt: 10, requestId: "r1" },
      ],
      outcomes: [{ eventId: "e1", type: "SendAccepted", requestId: "r1" }],
      caps: { [NUMBER]: CAP },
      pairPacing: [],
      readModels: [],
      recoveries: [],
    };
    const report = checkHistory(broken);
    expect(report.ok).toBe(false);
    const text = formatReport(report);
    expect(text).toMatch(
      /\| webhooks acknowledged vs typed events +\| 1 acked items, 0 typed, 1 missing +\| 0 missing +\| FAIL +\|/,
    );
    expect(text).toContain("  - message w1");
    expect(text).toContain("  - request r1: 2 Graph sends");
    expect(text).toMatch(/\| requests without exactly one terminal outcome .*\| pass +\|/);
  });
});
