import { createEvent, type AnyEvent } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPathStack, type PathStack } from "./path-stack.js";

// One person, one contact (ADR 0008), end to end: Meta writes a Brazilian, Mexican or Argentine
// number in its own form (no ninth digit, 521..., 549...), a domain team's CRM in another. The
// router keys both by the canonical contact id, so a user's STOP stops a send addressed in the
// other form and a user's message opens the window for one; a request whose contact and
// recipient are two people never reaches Graph.
const WABA = "102290129340351";
const NUMBER = "106540352242951";
const GRAPH_TOKEN = "e2e-identity-graph-token";

/** Meta's wa_id of each person, and the number as a CRM holds it. */
const people = [
  { country: "Brazil", metaWaId: "551187654321", crm: "+55 11 98765-4321", id: "5511987654321" },
  { country: "Mexico", metaWaId: "5215512345678", crm: "+52 55 1234 5678", id: "525512345678" },
  { country: "Argentina", metaWaId: "5491123456789", crm: "+54 11 2345-6789", id: "5491123456789" },
] as const;

let parley: PathStack;

const outcomesOf = (requestId: string): AnyEvent[] =>
  parley.seen.filter((e) => e.correlationId === requestId && e.type.startsWith("Send"));

async function outcomeOf(requestId: string): Promise<AnyEvent> {
  await waitFor(() => outcomesOf(requestId).length > 0, {
    timeoutMs: 60_000,
    description: `the outcome of ${requestId}`,
  });
  const [first] = outcomesOf(requestId);
  if (first === undefined) throw new Error("unreachable");
  return first;
}

function text(body: string, crm: string, key: string) {
  return {
    idempotencyKey: key,
    recipient: { phone: crm },
    sender: { kind: "businessNumber" as const, phoneNumberId: NUMBER },
    content: { type: "text" as const, text: { body } },
    category: "utility" as const,
  };
}

beforeAll(async () => {
  parley = await startPathStack({
    name: "identity",
    opsToken: "e2e-identity-ops-token",
    appSecret: "e2e-identity-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [
        { phoneNumberId: NUMBER, wabaId: WABA, aliases: ["orders"], accessToken: GRAPH_TOKEN },
      ],
    }),
    simulator: {
      seed: "e2e-identity",
      businesses: [
        { wabaId: WABA, phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100951" }] },
      ],
      brazilLegacyAccounts: true,
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000], retryTimeScale: 1 },
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
    },
    read: ["send-outcomes", "conversation-windows", "consent"],
  });
  await parley.start("ingress");
  await parley.start("router");
  await parley.start("sender");
  for (const p of people) parley.sim.addUser({ waId: p.metaWaId });
}, 420_000);

afterAll(async () => {
  await parley.stop();
}, 120_000);

describe.each(people)("one contact per person: $country", (person) => {
  it("a message in Meta's form opens the window for a send addressed in the CRM's form", async () => {
    parley.sim.userSends(
      person.metaWaId,
      { type: "text", body: "hello" },
      { phoneNumberId: NUMBER },
    );
    await waitFor(
      () =>
        parley.seen.some(
          (e) =>
            e.type === "ConversationWindowOpened" &&
            (e.data as { contactId: string }).contactId === person.id,
        ),
      { timeoutMs: 60_000, description: `the window of ${person.country}'s contact opened` },
    );
    const { requestId } = await parley.client.requestSend(
      text("Your order has shipped", person.crm, `identity-window-${person.id}`),
    );
    const outcome = await outcomeOf(requestId);
    expect(outcome.type, JSON.stringify(outcome.data)).toBe("SendAccepted");
    expect((outcome.data as { contactId: string }).contactId).toBe(person.id);
    await waitFor(() => parley.sim.received(person.metaWaId).length === 1, {
      timeoutMs: 30_000,
      description: "the text reached the user's WhatsApp",
    });
  });

  it("a STOP in Meta's form stops a send addressed in the CRM's form, before Graph", async () => {
    parley.sim.userSends(
      person.metaWaId,
      { type: "text", body: "STOP" },
      { phoneNumberId: NUMBER },
    );
    await waitFor(
      () =>
        parley.seen.some(
          (e) =>
            e.type === "ConsentRevoked" &&
            (e.data as { contactId: string }).contactId === person.id,
        ),
      { timeoutMs: 60_000, description: `the opt-out of ${person.country}'s contact` },
    );
    const before = parley.sim.received(person.metaWaId).length;
    const { requestId } = await parley.client.requestSend(
      text("One more thing", person.crm, `identity-stop-${person.id}`),
    );
    const outcome = await outcomeOf(requestId);
    expect(outcome.type).toBe("SendRejected");
    expect((outcome.data as { reason: string }).reason).toBe("opted_out");
    expect(parley.sim.received(person.metaWaId)).toHaveLength(before);
  });
});

describe("a request whose contact and recipient are two people", () => {
  it("is refused with contact_mismatch and never reaches Graph", async () => {
    const someone = people[1];
    parley.sim.addUser({ waId: "16505550951" });
    const before = parley.sim.received("16505550951").length;
    // A domain team writing to Kafka directly: the client would refuse this before publishing.
    const request = createEvent(
      "SendRequested",
      {
        contactId: someone.id,
        idempotencyKey: "identity-mismatch-1",
        recipient: { phone: "+16505550951" },
        sender: { kind: "businessNumber", phoneNumberId: NUMBER },
        content: { type: "text", text: { body: "For someone else" } },
        category: "utility",
        requester: "orders",
      },
      { correlationId: "identity-mismatch-1", now: new Date() },
    );
    await parley.publish([request]);
    const outcome = await outcomeOf("identity-mismatch-1");
    expect(outcome.type).toBe("SendRejected");
    expect((outcome.data as { reason: string }).reason).toBe("contact_mismatch");
    expect(parley.sim.received("16505550951")).toHaveLength(before);
  });
});
