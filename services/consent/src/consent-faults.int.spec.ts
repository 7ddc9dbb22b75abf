import { createEvent } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConsentHarness, type ConsentHarness } from "./consent-harness.int-helpers.js";
import type { LedgerEntry } from "./ledger/evolve.js";

// The consent consumer's promises broken on purpose: the broker refusing the ledger's publishes
// for a while (an outage after the entries were saved), and a restart in the middle of a stream.
// Every input still ends as exactly its entries, each published with one event id.

class BrokerDownError extends ParleyError {
  override readonly name = "BrokerDownError";
  constructor() {
    super("the broker is down (injected)", { retry: "outage" });
  }
}

let h: ConsentHarness;
let failPublishes = 0;
beforeAll(async () => {
  h = await startConsentHarness("consent-faults", {
    beforePublish: () => {
      if (failPublishes > 0) {
        failPublishes--;
        throw new BrokerDownError();
      }
    },
  });
}, 180_000);
afterAll(async () => {
  await h.stop();
});

const stop = (contactId: string, i: number) =>
  createEvent(
    "ConsentKeywordReceived",
    {
      contactId,
      wamid: `wamid.fault.${contactId}.${String(i)}`,
      keyword: i % 2 === 0 ? "stop" : "start",
      text: "x",
    },
    { correlationId: `c-${String(i)}`, now: new Date() },
  );

/** Published entries per input id, and their distinct event ids. */
function tally(entries: readonly LedgerEntry[], prefix: string) {
  const ids = new Map<string, Set<string>>();
  for (const e of entries) {
    if (e.type === "ContactErased" || !(e.data.inputId ?? "").startsWith(prefix)) continue;
    const key = `${e.data.inputId ?? ""}:${e.data.purpose ?? ""}`;
    const set = ids.get(key) ?? new Set<string>();
    set.add(e.eventId);
    ids.set(key, set);
  }
  return ids;
}

describe("consent consumer under faults", () => {
  it("publishes refused for a while (entries saved, not sent): retried, each entry published with one id", async () => {
    failPublishes = 5;
    const inputs = Array.from({ length: 20 }, (_, i) => stop(`1555333000${String(i % 4)}`, i));
    await h.publish(inputs);
    await waitFor(() => tally(h.published, "keyword:wamid.fault.").size >= 40, {
      timeoutMs: 120_000,
      description: "every input's entries published",
    });
    expect(failPublishes).toBe(0);
    const ids = tally(h.published, "keyword:wamid.fault.");
    expect(ids.size).toBe(40);
    for (const [key, set] of ids) expect(set.size, key).toBe(1);
    // Chains stay whole per contact: sequences 1..n with no gap or repeat.
    for (let c = 0; c < 4; c++) {
      const history = (await (
        await h.call(`/v1/contacts/1555333000${String(c)}/consent/history`)
      ).json()) as {
        entries: { entry: LedgerEntry }[];
      };
      expect(history.entries.map((e) => e.entry.data.ledger?.sequence)).toEqual(
        history.entries.map((_, i) => i + 1),
      );
    }
  }, 180_000);

  it("a restart in the middle of a stream decides every input exactly once", async () => {
    const inputs = Array.from({ length: 60 }, (_, i) => stop(`1555444000${String(i % 6)}`, i));
    await h.publish(inputs.slice(0, 30));
    await waitFor(() => tally(h.published, "keyword:wamid.fault.15554440").size >= 10, {
      timeoutMs: 60_000,
      description: "some decided before the restart",
    });
    await Promise.all([h.restartConsumer(), h.publish(inputs.slice(30))]);
    await waitFor(() => tally(h.published, "keyword:wamid.fault.15554440").size >= 120, {
      timeoutMs: 120_000,
      description: "every input decided",
    });
    const ids = tally(h.published, "keyword:wamid.fault.15554440");
    expect(ids.size).toBe(120);
    // A record redelivered after the restart may republish its entries, but with the same ids.
    for (const [key, set] of ids) expect(set.size, key).toBe(1);
  }, 180_000);
});
