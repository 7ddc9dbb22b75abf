// One test per finding of issue 20 (the simulator checked against a third-party client). Each
// fails on the simulator before the fix.
import { describe, expect, it } from "vitest";
import type { StatusUpdate } from "@parley/cloud-api";
import { createManualClock } from "./clock.js";
import { answerOf, errorCode, harness, SECRET, text, TOKEN, USER } from "./harness.unit-helpers.js";
import { createSimulator } from "./simulator.js";
import type { SimResponse } from "./types.js";

function openWindow(h: ReturnType<typeof harness>, waId = USER): void {
  h.sim.userSends(waId, { type: "text", body: "hello" });
}

function headersOf(res: SimResponse): Readonly<Record<string, string>> {
  if (res.kind !== "answer") throw new Error("no answer");
  return res.headers;
}

function details(r: { json: Record<string, unknown> }): string {
  return (r.json["error"] as { error_data: { details: string } }).error_data.details;
}

describe("1. pair-rate borrowing (Meta's rule, the default)", () => {
  it("after a burst of 45 refuses the user at 60, 120, 200 and 269 s and takes the next at 270 s", () => {
    const h = harness();
    openWindow(h);
    for (let i = 0; i < 45; i++) expect(h.send(text(USER, `m${i}`)).status).toBe(200);
    for (const at of [60_000, 120_000, 200_000, 269_000]) {
      h.clock.advance(at - (h.clock.now() - Date.UTC(2026, 0, 1)));
      expect(errorCode(h.send(text(USER)))).toBe(131056);
      // Other recipients are not affected.
      expect(h.send(text(`+1650555${String(at / 1000).padStart(4, "0")}`)).status).toBe(200);
    }
    h.clock.advance(1_000);
    expect(h.send(text(USER)).status).toBe(200);
  });

  it("a burst of 20 costs two minutes of silence; a burst lasts 6 s from its first message", () => {
    const h = harness();
    openWindow(h);
    for (let i = 0; i < 20; i++) {
      expect(h.send(text(USER)).status).toBe(200);
      h.clock.advance(100);
    }
    h.clock.advance(6_000 - 2_000);
    expect(errorCode(h.send(text(USER)))).toBe(131056);
    h.clock.advance(120_000 - 6_000 - 1);
    expect(errorCode(h.send(text(USER)))).toBe(131056);
    h.clock.advance(1);
    expect(h.send(text(USER)).status).toBe(200);
    // The pacing report checks against the same rule.
    expect(h.sim.pairPacing({ to: USER })[0]).toMatchObject({ overLimitAt: [] });
    expect(h.sim.pairPacing({ to: USER })[0]?.rejectedAt).toHaveLength(2);
  });

  it("keeps the token bucket as an option (pairRule bucket): one per 6 s right after a burst", () => {
    const h = harness({ pairRule: "bucket" });
    for (let i = 0; i < 45; i++) h.send(text(USER));
    h.clock.advance(6_000);
    expect(h.send(text(USER)).status).toBe(200);
    // The same sends judged by Meta's rule: the one at 6 s is over the limit.
    const [pair] = h.sim.pairPacing({ to: USER, rule: "borrow" });
    expect(pair?.overLimitAt).toHaveLength(1);
  });
});

describe("2. `to` and `recipient` together", () => {
  it("sends to `to` (the phone number path), as published summaries of Meta's BSUID change say", async () => {
    const h = harness();
    const user = h.sim.addUser({ waId: USER });
    openWindow(h);
    const r = h.send(text(USER, "both", { recipient: user.userId }));
    expect(r.status).toBe(200);
    expect(r.json["contacts"]).toEqual([{ input: USER, wa_id: USER }]);
    await h.settle(1_000);
    expect(h.statuses()[0]?.recipient_id).toBe(USER);
    expect(h.sim.received(USER).at(-1)?.recipientUserId).toBeUndefined();
  });
});

describe("3. a user's own wa_id as `to`, for every country", () => {
  it.each([
    ["Mexico", "+52 55 1234 5678", "5215512345678"],
    ["Brazil", "+55 11 98765-4321", "551187654321"],
    ["Argentina", "+54 11 1234 5678", "5491112345678"],
    ["United States", "+1 650 555 1234", "16505551234"],
  ])("%s: replying to `from` without + reaches the user", async (_country, number, waId) => {
    const h = harness();
    const { message } = h.sim.userSends(number, { type: "text", body: "hi" });
    expect(message.from).toBe(waId);
    const r = h.send(text(message.from ?? ""));
    expect(r.status).toBe(200);
    expect(r.json["contacts"]).toEqual([{ input: waId, wa_id: waId }]);
    await h.settle(1_000);
    expect(h.sim.received(waId)[0]?.failure).toBeUndefined();
  });
});

describe("4. a pacing drop pauses the template", () => {
  it("fails every held message with 132015, posts PAUSED and the quality drop, refuses new sends, reinstates after 3 h", async () => {
    const h = harness();
    h.sim.addTemplate({
      name: "promo",
      language: "en_US",
      body: "Sale",
      category: "MARKETING",
      pacing: { outcome: "drop", afterMs: 5_000 },
    });
    const promo = {
      messaging_product: "whatsapp",
      type: "template",
      template: { name: "promo", language: { code: "en_US" } },
    };
    const first = h.send({ ...promo, to: USER });
    expect((first.json["messages"] as Record<string, unknown>[])[0]?.["message_status"]).toBe(
      "held_for_quality_assessment",
    );
    h.clock.advance(1_000);
    expect(h.send({ ...promo, to: "+16505550001" }).status).toBe(200);
    await h.settle(5_000);
    const fields = h.posts.flatMap((p) =>
      p.payload.entry.flatMap((e) =>
        e.changes.map((c) => ({ field: c.field, value: c.value as Record<string, unknown> })),
      ),
    );
    expect(fields.find((f) => f.field === "message_template_status_update")?.value).toMatchObject({
      event: "PAUSED",
      message_template_name: "promo",
      other_info: { title: "FIRST_PAUSE" },
    });
    expect(fields.find((f) => f.field === "message_template_quality_update")?.value).toMatchObject({
      previous_quality_score: "GREEN",
      new_quality_score: "RED",
    });
    const failed = h.statuses().filter((s) => s.status === "failed");
    expect(failed.map((s) => s.errors?.[0]?.code)).toEqual([132015, 132015]);
    const tpl = h.call("GET", `/v23.0/${h.sim.defaultWabaId}/message_templates?name=promo`);
    expect(
      (tpl.json["data"] as { status: string; quality_score: { score: string } }[])[0],
    ).toMatchObject({
      status: "PAUSED",
      quality_score: { score: "RED" },
    });
    expect(errorCode(h.send({ ...promo, to: USER }))).toBe(132015);
    h.clock.advance(3 * 3_600_000);
    expect(h.send({ ...promo, to: "+16505550002" }).status).toBe(200);
  });
});

describe("5. wrongly typed fields answer 400 with code 100 naming the field", () => {
  const base = { messaging_product: "whatsapp", to: USER };
  const tplBody = (template: unknown) => ({ ...base, type: "template", template });
  it.each([
    ["template.components", tplBody({ name: "x", language: { code: "en" }, components: {} })],
    ["text.body", { ...base, type: "text", text: { body: 5 } }],
    ["context", { ...base, type: "text", text: { body: "x" }, context: null }],
    [
      "context.message_id",
      { ...base, type: "text", text: { body: "x" }, context: { message_id: 1 } },
    ],
    ["text", { ...base, type: "text", text: "hello" }],
    ["text.preview_url", { ...base, type: "text", text: { body: "x", preview_url: "yes" } }],
    ["to", { messaging_product: "whatsapp", to: 16505551234, type: "text", text: { body: "x" } }],
    [
      "biz_opaque_callback_data",
      { ...base, type: "text", text: { body: "x" }, biz_opaque_callback_data: {} },
    ],
    ["image", { ...base, type: "image", image: [] }],
    ["image.id", { ...base, type: "image", image: { id: 42 } }],
    ["location.latitude", { ...base, type: "location", location: { latitude: "1", longitude: 2 } }],
    ["contacts", { ...base, type: "contacts", contacts: {} }],
    ["contacts[0].name", { ...base, type: "contacts", contacts: [{ name: "Jane" }] }],
    [
      "reaction.emoji",
      { ...base, type: "reaction", reaction: { message_id: "wamid.x", emoji: 1 } },
    ],
    [
      "interactive.body",
      { ...base, type: "interactive", interactive: { type: "button", body: "x", action: {} } },
    ],
    [
      "interactive.action.buttons",
      {
        ...base,
        type: "interactive",
        interactive: { type: "button", body: { text: "x" }, action: { buttons: {} } },
      },
    ],
    ["template.language", tplBody({ name: "x", language: "en" })],
    ["template.name", tplBody({ name: ["x"], language: { code: "en" } })],
    [
      "template.components[0].parameters",
      tplBody({
        name: "x",
        language: { code: "en" },
        components: [{ type: "body", parameters: "Jess" }],
      }),
    ],
    [
      "template.components[0].parameters[0].currency.amount_1000",
      tplBody({
        name: "x",
        language: { code: "en" },
        components: [
          {
            type: "body",
            parameters: [
              {
                type: "currency",
                currency: { fallback_value: "$1", code: "USD", amount_1000: "1000" },
              },
            ],
          },
        ],
      }),
    ],
  ])("%s", (field, body) => {
    const h = harness();
    openWindow(h);
    const r = h.send(body);
    expect(r.status).toBe(400);
    expect(errorCode(r)).toBe(100);
    expect(r.json["error"]).toMatchObject({ type: "OAuthException" });
    expect((r.json["error"] as { fbtrace_id: string }).fbtrace_id.length).toBeGreaterThan(0);
    expect(details(r)).toContain(field);
  });

  it.each([
    ["template.language", tplBody({ name: "x" })],
    [
      "interactive.action",
      { ...base, type: "interactive", interactive: { type: "button", body: { text: "x" } } },
    ],
    ["contacts[0].name", { ...base, type: "contacts", contacts: [{ phones: [] }] }],
    [
      "template.components[0].parameters[0].currency",
      tplBody({
        name: "x",
        language: { code: "en" },
        components: [{ type: "body", parameters: [{ type: "currency" }] }],
      }),
    ],
  ])("a missing %s is 131008 naming it", (field, body) => {
    const h = harness();
    openWindow(h);
    const r = h.send(body);
    expect(r.status).toBe(400);
    expect(errorCode(r)).toBe(131008);
    expect(details(r)).toContain(field);
  });

  it("mark-as-read with a wrongly typed message_id or typing indicator", () => {
    const h = harness();
    for (const body of [
      { messaging_product: "whatsapp", status: "read", message_id: 7 },
      {
        messaging_product: "whatsapp",
        status: "read",
        message_id: "wamid.x",
        typing_indicator: "text",
      },
    ]) {
      const r = h.send(body);
      expect(r.status).toBe(400);
      expect(errorCode(r)).toBe(100);
    }
  });
});

describe("6. media content against the declared MIME type", () => {
  const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
  function webp(size: number, animated: boolean): Buffer {
    const b = Buffer.alloc(size);
    b.write("RIFF", 0, "latin1");
    b.writeUInt32LE(size - 8, 4);
    b.write("WEBPVP8X", 8, "latin1");
    b.writeUInt32LE(10, 16);
    b[20] = animated ? 0x02 : 0;
    return b;
  }
  function upload(h: ReturnType<typeof harness>, data: Buffer, type: string) {
    const boundary = "----sim";
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="messaging_product"\r\n\r\nwhatsapp\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: ${type}\r\n\r\n`,
      ),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    return answerOf(
      h.sim.handle({
        method: "POST",
        path: `/v23.0/${h.sim.defaultPhoneNumberId}/media`,
        query: new URLSearchParams(),
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "content-type": `multipart/form-data; boundary=${boundary}`,
        },
        body,
      }),
    );
  }

  it("refuses a PNG declared as image/jpeg with 131053, accepts it as image/png", () => {
    const h = harness();
    const lie = upload(h, PNG, "image/jpeg");
    expect(errorCode(lie)).toBe(131053);
    expect(details(lie)).toContain("image/png");
    expect(upload(h, PNG, "image/png").status).toBe(200);
    expect(errorCode(upload(h, Buffer.from("%PDF-1.7"), "text/plain"))).toBe(131053);
  });

  it("gives a static WebP sticker the 100 KB limit and an animated one 500 KB", () => {
    const h = harness();
    expect(upload(h, webp(90 * 1024, false), "image/webp").status).toBe(200);
    expect(errorCode(upload(h, webp(200 * 1024, false), "image/webp"))).toBe(131053);
    expect(upload(h, webp(400 * 1024, true), "image/webp").status).toBe(200);
    expect(errorCode(upload(h, webp(501 * 1024, true), "image/webp"))).toBe(131053);
  });
});

describe("7. smaller differences", () => {
  it("status webhooks carry contacts[] (wa_id and BSUID), except failed ones", async () => {
    const h = harness();
    const user = h.sim.addUser({ waId: USER });
    openWindow(h);
    h.send(text(USER));
    h.send(text("+16505559999")); // outside any window: fails with 131047
    await h.settle(1_000);
    const withContacts = h.posts.flatMap((p) =>
      p.payload.entry.flatMap((e) =>
        e.changes.flatMap((c) => {
          const v = c.value as { statuses?: StatusUpdate[]; contacts?: unknown[] };
          return (v.statuses ?? []).map((s) => ({ status: s.status, contacts: v.contacts }));
        }),
      ),
    );
    expect(withContacts.filter((s) => s.status !== "failed").map((s) => s.contacts)).toEqual(
      Array.from({ length: 3 }, () => [{ wa_id: USER, user_id: user.userId }]),
    );
    expect(withContacts.find((s) => s.status === "failed")?.contacts).toBeUndefined();
  });

  it("message_status only on templates under pacing", () => {
    const h = harness();
    h.sim.addTemplate({ name: "plain", language: "en", body: "x" });
    h.sim.addTemplate({
      name: "paced",
      language: "en",
      body: "x",
      pacing: { outcome: "release", afterMs: 10 },
    });
    const send = (name: string) =>
      (
        h.send({
          messaging_product: "whatsapp",
          to: USER,
          type: "template",
          template: { name, language: { code: "en" } },
        }).json["messages"] as Record<string, unknown>[]
      )[0];
    expect(send("plain")).not.toHaveProperty("message_status");
    expect(send("paced")?.["message_status"]).toBe("held_for_quality_assessment");
  });

  it("answers of the messages edge carry x-business-use-case-usage; the version header echoes the request's, errors included", () => {
    const h = harness();
    openWindow(h);
    const call = (version: string, token: string) =>
      h.sim.handle({
        method: "POST",
        path: `/${version}/${h.sim.defaultPhoneNumberId}/messages`,
        query: new URLSearchParams(),
        headers: { authorization: `Bearer ${token}` },
        body: Buffer.from(JSON.stringify(text(USER))),
      });
    const ok = headersOf(call("v24.0", TOKEN));
    expect(JSON.parse(ok["x-business-use-case-usage"] ?? "{}")).toHaveProperty(h.sim.defaultWabaId);
    expect(ok["facebook-api-version"]).toBe("v24.0");
    const denied = call("v24.0", "nope");
    expect(headersOf(denied)["facebook-api-version"]).toBe("v24.0");
    expect(answerOf(denied).status).toBe(401);
  });

  it("an unknown object is a GraphMethodException worded for the request's method", () => {
    const h = harness();
    const post = h.call("POST", "/v23.0/999999999999999/messages");
    expect(post.json["error"]).toMatchObject({
      code: 100,
      error_subcode: 33,
      type: "GraphMethodException",
    });
    expect((post.json["error"] as { message: string }).message).toMatch(
      /^Unsupported post request/,
    );
    const get = h.call("GET", "/v23.0/999999999999999");
    expect((get.json["error"] as { message: string }).message).toMatch(/^Unsupported get request/);
  });

  it("refuses unknown interactive types and recipient_type broadcast (131009)", () => {
    const h = harness();
    openWindow(h);
    const poll = h.send({
      messaging_product: "whatsapp",
      to: USER,
      type: "interactive",
      interactive: { type: "poll", body: { text: "?" }, action: {} },
    });
    expect(errorCode(poll)).toBe(131009);
    expect(details(poll)).toContain("interactive.type");
    const broadcast = h.send(text(USER, "x", { recipient_type: "broadcast" }));
    expect(errorCode(broadcast)).toBe(131009);
    expect(details(broadcast)).toContain("recipient_type");
  });
});

describe("8. verification handshake, flow replies, a manual clock", () => {
  function withSubscriber(answer: (url: URL) => { status: number; body: string } | "down") {
    const gets: URL[] = [];
    const sim = createSimulator({
      clock: createManualClock(),
      appSecret: SECRET,
      deliver: () => Promise.resolve(200),
      webhookGet: (url) => {
        const u = new URL(url);
        gets.push(u);
        const a = answer(u);
        return a === "down" ? Promise.reject(new Error("ECONNREFUSED")) : Promise.resolve(a);
      },
    });
    return { sim, gets };
  }

  it("registers a callback URL only after the subscriber echoes hub.challenge for the right verify token", async () => {
    const { sim, gets } = withSubscriber((u) =>
      u.searchParams.get("hub.verify_token") === "vt"
        ? { status: 200, body: u.searchParams.get("hub.challenge") ?? "" }
        : { status: 403, body: "" },
    );
    const bad = await sim.registerWebhook("http://127.0.0.1:9/hook", "other");
    expect(bad).toMatchObject({ verified: false, status: 403 });
    const good = await sim.registerWebhook("http://127.0.0.1:9/hook", "vt");
    expect(good.verified).toBe(true);
    expect(gets[1]?.searchParams.get("hub.mode")).toBe("subscribe");
    expect(gets[1]?.searchParams.get("hub.challenge")).toBe(good.challenge);
    sim.userSends(USER, { type: "text", body: "hi" });
    (sim.clock as ReturnType<typeof createManualClock>).advance(10);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sim.webhookDeliveries().map((d) => d.url)).toEqual(["http://127.0.0.1:9/hook"]);
    await sim.stop();
  });

  it("does not keep a URL whose subscriber is down or answers something else", async () => {
    const { sim } = withSubscriber((u) =>
      u.pathname === "/down" ? "down" : { status: 200, body: "ok" },
    );
    expect((await sim.registerWebhook("http://127.0.0.1:9/down", "vt")).status).toBe(
      "network-error",
    );
    expect((await sim.registerWebhook("http://127.0.0.1:9/wrong", "vt")).verified).toBe(false);
    expect(sim.webhookVerifications()).toHaveLength(2);
    await sim.stop();
  });

  it("a simulated user's flow reply is an nfm_reply quoting the flow message, with its flow token", () => {
    const h = harness();
    openWindow(h);
    const flow = h.send({
      messaging_product: "whatsapp",
      to: USER,
      type: "interactive",
      interactive: {
        type: "flow",
        body: { text: "Book" },
        action: {
          name: "flow",
          parameters: {
            flow_message_version: "3",
            flow_id: "1",
            flow_cta: "Book",
            flow_token: "tok-7",
          },
        },
      },
    });
    const flowId = (flow.json["messages"] as { id: string }[])[0]?.id;
    const { message } = h.sim.userSends(USER, { type: "flow_reply", response: { seats: 2 } });
    expect(message.context?.id).toBe(flowId);
    expect(message.interactive).toMatchObject({
      type: "nfm_reply",
      nfm_reply: { name: "flow", body: "Sent" },
    });
    const reply = (message.interactive as unknown as { nfm_reply: { response_json: string } })
      .nfm_reply;
    expect(JSON.parse(reply.response_json)).toEqual({ seats: 2, flow_token: "tok-7" });
  });
});
