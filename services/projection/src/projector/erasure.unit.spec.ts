import { finalOutcome } from "@parley/client";
import { exampleEvent, type AnyEvent } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { createMemoryReadModels, type MemoryReadModels } from "./memory.js";
import { createProjector } from "./projector.js";
import { countryOf } from "./world.unit-helpers.js";

const CONTACT = "16505551234";
/** The person in the contracts' examples: none of it may stay in a document after erasure. */
const PERSONAL = [
  CONTACT,
  "Sheena",
  "US.13491208655302741918",
  "Where is my order",
  "STOP",
  "START",
];

const personEvents: AnyEvent[] = [
  exampleEvent("SendRequested"),
  exampleEvent("DispatchMessage"),
  exampleEvent("SendAccepted"),
  exampleEvent("StatusUpdated"),
  exampleEvent("InboundMessageReceived"),
  exampleEvent("ConversationWindowOpened"),
  exampleEvent("MediaStored"),
];
const consentEvents: AnyEvent[] = [exampleEvent("ConsentGranted"), exampleEvent("ConsentRevoked")];
const erasure = exampleEvent("ContactErased");

function states(models: MemoryReadModels) {
  const of = <S>(store: { keys(): string[]; peek(k: string): { state: S } | undefined }) =>
    Object.fromEntries(
      store
        .keys()
        .sort()
        .map((k) => [k, store.peek(k)?.state]),
    );
  const { stores } = models;
  return {
    requests: of(stores.requests),
    messages: of(stores.messages),
    contacts: of(stores.contacts),
    conversations: of(stores.conversations),
  };
}

async function project(batches: readonly (readonly AnyEvent[])[]) {
  const models = createMemoryReadModels();
  const projector = createProjector({
    stores: models.stores,
    marks: models.marks,
    finalOf: finalOutcome,
    countryOf,
    erasure: models.erasure,
  });
  for (const batch of batches) await projector.apply(batch.map((event) => ({ event })));
  return models;
}

/** Each document's fields (the contact's and the conversation's keys name the contact: ADR 0012). */
function leaks(models: MemoryReadModels): string[] {
  const all = states(models);
  const found: string[] = [];
  for (const [model, docs] of Object.entries(all)) {
    for (const [key, state] of Object.entries(docs)) {
      const fields = { ...(state as Record<string, unknown>) };
      if (model === "contacts") delete fields["contactId"];
      if (model === "conversations") delete fields["key"];
      const json = JSON.stringify(fields);
      for (const p of PERSONAL) if (json.includes(p)) found.push(`${model}/${key}: ${p}`);
    }
  }
  return found;
}

describe("erasure through the projector (memory)", () => {
  it("before erasure the documents hold the person (the check can fail)", async () => {
    const models = await project([personEvents, consentEvents]);
    expect(leaks(models).length).toBeGreaterThan(0);
  });

  it("after ContactErased no document holds the person's data, and each still exists", async () => {
    const models = await project([personEvents, consentEvents, [erasure]]);
    expect(leaks(models)).toEqual([]);
    const all = states(models);
    expect(Object.keys(all.messages)).toHaveLength(2);
    expect(Object.keys(all.requests)).toHaveLength(1);
    expect(Object.values(all.contacts)[0]).toMatchObject({ erased: true });
  });

  it("a replay that reads the erasure before the person's other topics ends the same", async () => {
    const live = await project([personEvents, consentEvents, [erasure]]);
    const erasedFirst = await project([consentEvents, [erasure], personEvents]);
    const oneByOne = await project([...consentEvents, erasure, ...personEvents].map((e) => [e]));
    expect(states(erasedFirst)).toEqual(states(live));
    expect(states(oneByOne)).toEqual(states(live));
    expect(leaks(erasedFirst)).toEqual([]);
  });

  it("an erasure in the same batch as the person's events still reaches them", async () => {
    const live = await project([personEvents, consentEvents, [erasure]]);
    const together = await project([[...personEvents, ...consentEvents, erasure]]);
    expect(states(together)).toEqual(states(live));
  });
});
