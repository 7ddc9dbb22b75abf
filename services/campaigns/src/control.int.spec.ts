import { createEvent, exampleData, type EventOf } from "@parley/contracts";
import { createCommandHandler } from "@parley/decider";
import { createEventConsumer } from "@parley/kafka";
import { waitFor } from "@parley/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createAudienceFiles } from "./adapters/file/audience-files.js";
import { createSendPublisher } from "./adapters/kafka/publish-sends.js";
import { createSignalsConsumer, SIGNALS_CONSUMER } from "./adapters/kafka/signals-consumer.js";
import { createCampaignReader, createCampaignStateStore } from "./adapters/store/campaign-store.js";
import {
  createMongoFactsReader,
  createMongoPlanStore,
  createMongoSendQueue,
} from "./adapters/store/plan-store.js";
import { createCampaigns } from "./control/campaigns.js";
import { campaignDefinition } from "./domain/campaign.js";
import { campaignDecider } from "./domain/lifecycle.js";
import { uuidV5Of } from "./planning/ids.js";
import { startCampaignsInt } from "./int-harness.spec-helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("campaign control against real Kafka and MongoDB", () => {
  it("a template paused by Meta mid-campaign pauses it: nothing more is released until it is resumed", async () => {
    const { catalog, kafka, serde, mongo, producer, dir } = await startCampaignsInt(
      "campaigns-ctl",
      (catalog) => [
        catalog.topic("send-requests"),
        catalog.topic("business-events"),
        catalog.topic("send-outcomes"),
        catalog.deadLetterTopic(SIGNALS_CONSUMER),
        catalog.deadLetterTopic("campaigns-ctl-reader"),
      ],
      cleanups,
    );

    const plans = createMongoPlanStore({ db: mongo.db });
    const campaigns = createCampaigns({
      handler: createCommandHandler({
        decider: campaignDecider,
        store: createCampaignStateStore({ db: mongo.db }),
        publish: () => Promise.resolve(),
        context: (commands, now) => commands.map(() => ({ now })),
        cacheSize: 0,
      }),
      reader: createCampaignReader({ db: mongo.db }),
      plans,
      queue: createMongoSendQueue({ db: mongo.db }),
      facts: createMongoFactsReader({ db: mongo.db }),
      publish: createSendPublisher({ producer, catalog, eventIdOf: uuidV5Of }),
      audiences: createAudienceFiles({ dir }),
      numbersOf: (d) => d.numbers.map((phoneNumberId) => ({ phoneNumberId, mps: 10 })),
      tier: "unlimited",
      reached: () => Promise.resolve(0),
      requestIdOf: uuidV5Of,
      clock: () => new Date(),
      chunkSize: 100,
      tickMs: 1000,
      releaseLeadMs: 0,
    });
    const signals = createSignalsConsumer({ kafka, serde, catalog, campaigns });
    await signals.start();
    cleanups.push(() => signals.stop());
    const published: EventOf<"SendRequested">[] = [];
    const reader = createEventConsumer({
      kafka,
      serde,
      catalog,
      consumer: "campaigns-ctl-reader",
      topics: [catalog.topic("send-requests")],
      tuning: { fromBeginning: true },
      handle: (record) => {
        published.push(record.value);
        return Promise.resolve();
      },
    });
    await reader.start();
    cleanups.push(() => reader.stop());

    const definition = campaignDefinition.parse({
      id: "ctl",
      owner: "billing",
      template: { name: "statement_ready", language: { code: "en" } },
      category: "utility",
      numbers: ["600001"],
      schedule: { startAt: "2026-01-01T00:00:00.000Z" },
    });
    await campaigns.create(definition);
    const rows = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ phone: `+34612${String(i).padStart(6, "0")}` }),
    );
    await campaigns.attachAudience(
      "ctl",
      "jsonl",
      (async function* () {
        yield await Promise.resolve(Buffer.from(rows.join("\n")));
      })(),
      1_000_000,
    );
    expect((await campaigns.start("ctl"))?.status).toBe("running");
    // Plan, then release two ticks (10 a tick at 10 msg/s).
    await campaigns.tick();
    await campaigns.settle();
    await campaigns.tick();
    await campaigns.tick();
    const before = (await campaigns.progress("ctl"))?.queued ?? 0;
    expect(before).toBeLessThan(100);

    // Meta pauses the template.
    await producer.publish(catalog.topic("business-events"), [
      {
        key: "600001",
        event: createEvent(
          "TemplateStatusUpdated",
          {
            ...exampleData.TemplateStatusUpdated,
            templateName: "statement_ready",
            event: "PAUSED",
          },
          { correlationId: "d-ctl-1", now: new Date(), businessNumber: "600001" },
        ),
      },
    ]);
    await waitFor(async () => (await campaigns.progress("ctl"))?.campaign.status === "paused", {
      timeoutMs: 60_000,
      description: "the campaign paused by the template webhook",
    });
    const paused = await campaigns.progress("ctl");
    expect(paused?.campaign.pausedBy?.reason).toBe("template_paused");
    for (let i = 0; i < 3; i++) await campaigns.tick();
    expect((await campaigns.progress("ctl"))?.queued).toBe(paused?.queued);

    // Approved again and resumed: the rest goes out, nobody twice, nobody missing.
    await campaigns.resume("ctl");
    for (let i = 0; i < 20 && ((await campaigns.progress("ctl"))?.queued ?? 0) > 0; i++)
      await campaigns.tick();
    await campaigns.tick();
    expect((await campaigns.progress("ctl"))?.campaign.status).toBe("completed");
    await waitFor(() => new Set(published.map((e) => e.correlationId)).size === 100, {
      timeoutMs: 60_000,
      description: "every SendRequested read back",
    });
    expect(published).toHaveLength(100);

    // An async 132015 (a status webhook after Meta took the send: no template in the SendFailed)
    // pauses the campaign its key names and, named after that campaign's template, every running
    // campaign using it, the template in the reason; a campaign of another template runs on.
    const flash = (id: string, template: string) =>
      campaignDefinition.parse({
        id,
        owner: "growth",
        template: { name: template, language: { code: "en" } },
        category: "utility",
        numbers: ["600001"],
        schedule: { startAt: "2026-01-01T00:00:00.000Z" },
      });
    for (const [id, template] of [
      ["async-a", "flash_sale"],
      ["async-b", "flash_sale"],
      ["async-c", "statement_ready"],
    ] as const) {
      await campaigns.create(flash(id, template));
      await campaigns.attachAudience(
        id,
        "jsonl",
        (async function* () {
          yield await Promise.resolve(Buffer.from('{"phone":"+34699000001"}'));
        })(),
        1_000,
      );
      expect((await campaigns.start(id))?.status).toBe("running");
    }
    await producer.publish(catalog.topic("send-outcomes"), [
      {
        key: "34699000001",
        event: createEvent(
          "SendFailed",
          {
            ...exampleData.SendFailed,
            contactId: "34699000001",
            idempotencyKey: "campaign:async-a:34699000001",
            error: { errorClass: "policy", code: 132015, retriable: false },
            phase: "async",
          },
          { correlationId: "r-async-a", now: new Date() },
        ),
      },
    ]);
    await waitFor(
      async () =>
        (await campaigns.progress("async-a"))?.campaign.status === "paused" &&
        (await campaigns.progress("async-b"))?.campaign.status === "paused",
      { timeoutMs: 60_000, description: "both flash_sale campaigns paused by the async failure" },
    );
    for (const id of ["async-a", "async-b"]) {
      expect((await campaigns.progress(id))?.campaign.pausedBy).toMatchObject({
        reason: "template_failures",
        detail: "Meta paused template flash_sale (a send failed with 132015)",
      });
    }
    expect((await campaigns.progress("async-c"))?.campaign.status).toBe("running");
  }, 240_000);
});
