// Conformance of the limits in reference §3.3 and §3.5 and of BSUID sends (§1.1, §1.10, §4.5):
// the per-user marketing limit (131049), the messaging limit (unique users outside the service
// window per moving 24 h), the template creation limit and sends addressed by `recipient`.
import { describe, expect, it } from "vitest";
import { errorCode, harness, USER } from "./harness.unit-helpers.js";

const DAY = 86_400_000;

function template(
  to: string | { recipient: string },
  name: string,
  params: string[] = [],
): Record<string, unknown> {
  return {
    messaging_product: "whatsapp",
    ...(typeof to === "string" ? { to } : to),
    type: "template",
    template: {
      name,
      language: { code: "en_US" },
      components:
        params.length > 0
          ? [{ type: "body", parameters: params.map((text) => ({ type: "text", text })) }]
          : [],
    },
  };
}

function withTemplates(h: ReturnType<typeof harness>): void {
  h.sim.addTemplate({ name: "promo", language: "en_US", category: "MARKETING", body: "Sale!" });
  h.sim.addTemplate({ name: "notice", language: "en_US", category: "UTILITY", body: "Hi {{1}}" });
  h.sim.addTemplate({
    name: "otp",
    language: "en_US",
    category: "AUTHENTICATION",
    body: "Code {{1}}",
  });
}

function failureOf(h: ReturnType<typeof harness>, wamid: string): number | undefined {
  return h.sim.messages().find((m) => m.wamid === wamid)?.failure;
}

function wamidOf(r: { json: Record<string, unknown> }): string {
  return (r.json["messages"] as { id: string }[])[0]?.id ?? "";
}

describe("per-user marketing limit (131049)", () => {
  it("fails marketing templates over the cap by webhook, outside the service window only", async () => {
    const h = harness({ marketing: { perUserPer24h: 2 } });
    withTemplates(h);
    const user = "+447700900123";
    const sends = [0, 1, 2].map(() => wamidOf(h.send(template(user, "promo"))));
    const utility = wamidOf(h.send(template(user, "notice", ["Ada"])));
    await h.settle(1_000);
    expect(sends.map((id) => failureOf(h, id))).toEqual([undefined, undefined, 131049]);
    expect(failureOf(h, utility)).toBeUndefined();
    const failed = h.statuses().find((s) => s.id === sends[2]);
    expect(failed?.status).toBe("failed");
    expect(failed?.errors?.[0]?.code).toBe(131049);

    // Inside an open service window marketing neither counts nor is refused.
    h.sim.userSends(user, { type: "text", body: "hi" });
    const inWindow = wamidOf(h.send(template(user, "promo")));
    await h.settle(1_000);
    expect(failureOf(h, inWindow)).toBeUndefined();

    // 24 h after the first two, the user can get marketing again (the window has closed too).
    h.clock.advance(DAY);
    const later = wamidOf(h.send(template(user, "promo")));
    await h.settle(1_000);
    expect(failureOf(h, later)).toBeUndefined();
  });

  it("does not deliver marketing to US numbers when that pause is on", async () => {
    const h = harness({ marketing: { pauseUsRecipients: true } });
    withTemplates(h);
    const us = wamidOf(h.send(template(`+${USER}`, "promo")));
    const uk = wamidOf(h.send(template("+447700900123", "promo")));
    const usUtility = wamidOf(h.send(template(`+${USER}`, "notice", ["Ada"])));
    await h.settle(1_000);
    expect(failureOf(h, us)).toBe(131049);
    expect(failureOf(h, uk)).toBeUndefined();
    expect(failureOf(h, usUtility)).toBeUndefined();
  });
});

describe("messaging limit (unique users outside the service window per moving 24 h)", () => {
  it("lets the portfolio reach `messagingLimit` users, then fails templates to new ones", async () => {
    const h = harness({
      messagingLimit: 250,
      throughputMps: 1_000,
      businesses: [
        {
          wabaId: "102290129340398",
          phoneNumbers: [
            { id: "106540352242922", displayPhoneNumber: "15550783881" },
            { id: "106540352242923", displayPhoneNumber: "15550783882" },
          ],
        },
      ],
    });
    withTemplates(h);
    const user = (i: number): string => `+4477009${String(i).padStart(5, "0")}`;
    const ids: string[] = [];
    // 250 users from two numbers of the same portfolio share the limit.
    for (let i = 0; i < 250; i++)
      ids.push(
        wamidOf(
          h.send(template(user(i), "notice", ["x"]), {
            phoneNumberId: i % 2 === 0 ? "106540352242922" : "106540352242923",
          }),
        ),
      );
    const overLimit = wamidOf(h.send(template(user(250), "notice", ["x"])));
    const again = wamidOf(h.send(template(user(0), "notice", ["x"]))); // already reached
    h.sim.userSends(user(251).slice(1), { type: "text", body: "hello" });
    const reply = wamidOf(h.send(template(user(251), "notice", ["x"]))); // inside the window
    await h.settle(1_000);
    expect(ids.every((id) => failureOf(h, id) === undefined)).toBe(true);
    expect(failureOf(h, overLimit)).toBe(131049);
    expect(failureOf(h, again)).toBeUndefined();
    expect(failureOf(h, reply)).toBeUndefined();
    expect(
      h.call("GET", "/v23.0/106540352242922?fields=whatsapp_business_manager_messaging_limit").json[
        "whatsapp_business_manager_messaging_limit"
      ],
    ).toBe("TIER_250");

    // A moving window: a day after the first sends, new users can be reached again.
    h.clock.advance(DAY);
    const nextDay = wamidOf(h.send(template(user(300), "notice", ["x"])));
    await h.settle(1_000);
    expect(failureOf(h, nextDay)).toBeUndefined();
  });

  it("counts a user from their latest business-initiated send (a moving 24 h)", async () => {
    const h = harness({ messagingLimit: 1, pairBurst: 100_000, throughputMps: 10_000 });
    withTemplates(h);
    const a = "+447700900001";
    const b = "+447700900002";
    expect(failureOf(h, wamidOf(h.send(template(a, "notice", ["x"]))))).toBeUndefined();
    h.clock.advance(12 * 3_600_000);
    // Many sends to the same user (the log is compacted on the way) keep only them counted.
    for (let i = 0; i < 1_200; i++) h.send(template(a, "notice", ["x"]));
    h.clock.advance(13 * 3_600_000); // 25 h after the first send, 13 h after the latest
    const refused = wamidOf(h.send(template(b, "notice", ["x"])));
    h.clock.advance(12 * 3_600_000); // 25 h after a's latest send
    const allowed = wamidOf(h.send(template(b, "notice", ["x"])));
    await h.settle(1_000);
    expect(failureOf(h, refused)).toBe(131049);
    expect(failureOf(h, allowed)).toBeUndefined();
  });

  it("is unlimited by default", () => {
    const h = harness();
    expect(
      h.call("GET", "/v23.0/106540352242922?fields=whatsapp_business_manager_messaging_limit").json[
        "whatsapp_business_manager_messaging_limit"
      ],
    ).toBe("TIER_UNLIMITED");
  });
});

describe("template creation limit (100 per WABA per hour)", () => {
  it("answers 80007 to the 101st creation within an hour", () => {
    const h = harness({ managementCallsPerHour: 10_000 });
    const create = (i: number): { status: number; json: Record<string, unknown> } =>
      h.call("POST", "/v23.0/102290129340398/message_templates", {
        body: {
          name: `t_${String(i)}`,
          category: "UTILITY",
          language: "en_US",
          components: [{ type: "BODY", text: "Hello" }],
        },
      });
    for (let i = 0; i < 100; i++) {
      expect(create(i).status).toBe(200);
      h.clock.advance(30_000); // 100 creations over 50 minutes
    }
    const refused = create(100);
    expect(errorCode(refused)).toBe(80007);
    h.clock.advance(10 * 60_000 + 1); // the first creation is now more than an hour old
    expect(create(101).status).toBe(200);
    expect(errorCode(create(102))).toBe(80007);
  });
});

describe("sends addressed by BSUID (`recipient`)", () => {
  it("answers with user_id and reports statuses by recipient_user_id", async () => {
    const h = harness();
    withTemplates(h);
    const user = h.sim.addUser({ waId: USER });
    expect(user.userId).toMatch(/^US\.\d{20}$/);
    const r = h.send(template({ recipient: user.userId }, "notice", ["Ada"]));
    expect(r.status).toBe(200);
    expect(r.json["contacts"]).toEqual([{ input: user.userId, user_id: user.userId }]);
    await h.settle(1_000);
    const statuses = h.statuses().filter((s) => s.id === wamidOf(r));
    expect(statuses.map((s) => s.status)).toEqual(["sent", "delivered", "read"]);
    expect(statuses.every((s) => s.recipient_user_id === user.userId)).toBe(true);
    expect(statuses.every((s) => s.recipient_id === undefined)).toBe(true);
    expect(h.sim.received(USER)[0]?.recipientUserId).toBe(user.userId);
  });

  it("refuses unknown BSUIDs with 100 and authentication templates with 131062", () => {
    const h = harness();
    withTemplates(h);
    const user = h.sim.addUser({ waId: USER, userId: "US.13491208655302741918" });
    expect(user.userId).toBe("US.13491208655302741918");
    expect(errorCode(h.send(template({ recipient: "US.1" }, "notice", ["Ada"])))).toBe(100);
    expect(errorCode(h.send(template({ recipient: user.userId }, "otp", ["123456"])))).toBe(131062);
    expect(h.send(template(`+${USER}`, "otp", ["123456"])).status).toBe(200);
  });

  it("names inbound senders by BSUID too", () => {
    const h = harness();
    const { message } = h.sim.userSends(USER, { type: "text", body: "hi" });
    expect(message.from_user_id).toMatch(/^US\.\d{20}$/);
  });
});
