import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { verifyWebhookSignature, type InboundMessage } from "@parley/cloud-api";
import { createSimulator } from "./simulator.js";
import { errorCode, harness, SECRET, text, TOKEN, USER } from "./harness.unit-helpers.js";

function openWindow(h: ReturnType<typeof harness>, waId = USER): void {
  h.sim.userSends(waId, { type: "text", body: "hello" });
}

describe("pair rate limit (burst 45, refill 1 per 6 s)", () => {
  it("50 sends to one user within 2 s give 45 accepted and 5 x 131056", () => {
    const h = harness();
    openWindow(h);
    const codes: (number | undefined)[] = [];
    for (let i = 0; i < 50; i++) {
      h.clock.advance(40); // 50 sends over 2 s
      const r = h.send(text(USER, `m${i}`));
      codes.push(r.status === 200 ? 200 : errorCode(r));
    }
    expect(codes.filter((c) => c === 200)).toHaveLength(45);
    expect(codes.filter((c) => c === 131056)).toHaveLength(5);
    expect(codes.slice(0, 45).every((c) => c === 200)).toBe(true);
  });

  it("as a token bucket (pairRule bucket): refills one message per 6 s and leaves other recipients alone", () => {
    const h = harness({ pairRule: "bucket" });
    for (let i = 0; i < 45; i++) expect(h.send(text(USER)).status).toBe(200);
    expect(errorCode(h.send(text(USER)))).toBe(131056);
    expect(h.send(text("+16505550000")).status).toBe(200);
    h.clock.advance(6_000);
    expect(h.send(text(USER)).status).toBe(200);
    expect(errorCode(h.send(text(USER)))).toBe(131056);
  });
});

describe("throughput (80 msg/s, 1,000 when upgraded)", () => {
  it("120 sends/s for 5 s at 80 msg/s give about 40 rejections per second", () => {
    const h = harness({ pairBurst: 10_000 });
    const perSecond: number[] = [];
    for (let s = 0; s < 5; s++) {
      let rejected = 0;
      for (let i = 0; i < 120; i++) {
        h.clock.advance(1000 / 120);
        const r = h.send(text(`+1650555${String(1000 + i).padStart(4, "0")}`));
        if (errorCode(r) === 130429) rejected++;
      }
      perSecond.push(rejected);
    }
    for (const n of perSecond) {
      expect(n).toBeGreaterThanOrEqual(36);
      expect(n).toBeLessThanOrEqual(44);
    }
    const stats = h.sim.stats()[0];
    expect(stats?.rejectedByCode["130429"]).toBe(perSecond.reduce((a, b) => a + b, 0));
    expect(stats?.maxAcceptedInAnySecond).toBeLessThanOrEqual(81);
  });

  it("answers 131057 during the upgrade, then allows 1,000 msg/s and reports HIGH", async () => {
    const h = harness({ pairBurst: 10_000 });
    const pn = h.sim.defaultPhoneNumberId;
    expect(
      (h.call("GET", `/v23.0/${pn}?fields=throughput`).json["throughput"] as { level: string })
        .level,
    ).toBe("STANDARD");
    h.sim.upgradeThroughput(pn, 60_000);
    expect(errorCode(h.send(text(USER)))).toBe(131057);
    await h.settle(60_000);
    expect(
      (h.call("GET", `/v23.0/${pn}?fields=throughput`).json["throughput"] as { level: string })
        .level,
    ).toBe("HIGH");
    let ok = 0;
    for (let i = 0; i < 1000; i++)
      if (h.send(text(`+1650556${String(i).padStart(4, "0")}`)).status === 200) ok++;
    expect(ok).toBe(1000);
    expect(
      h.posts.some((p) => p.payload.entry[0]?.changes[0]?.field === "phone_number_quality_update"),
    ).toBe(true);
  });
});

describe("scripted asynchronous failures", () => {
  it("accepts a send and fails it by webhook with the scripted code, only for the recipient named", async () => {
    const h = harness();
    const other = "16505550000";
    h.sim.userSends(USER, { type: "text", body: "hi" });
    h.sim.userSends(other, { type: "text", body: "hi" });
    h.sim.scriptFaults([{ kind: "fail-async", code: 132015, afterMs: 500 }], {
      endpoint: "messages",
      to: USER,
    });
    expect(h.send(text(other, "unharmed")).status).toBe(200);
    const r = h.send(text(USER, "dropped later"));
    expect(r.status).toBe(200);
    await h.settle(1_000);
    const failed = h.statuses().filter((st) => st.status === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]?.recipient_id).toBe(USER);
    expect(failed[0]?.errors?.[0]?.code).toBe(132015);
    expect(h.sim.received(USER)[0]?.failure).toBe(132015);
    expect(h.sim.received(other)[0]?.failure).toBeUndefined();
  });
});

describe("customer service window", () => {
  it("accepts a free-form send outside the window, then fails it asynchronously with 131047", async () => {
    const h = harness();
    const r = h.send(text(USER, "late"));
    expect(r.status).toBe(200);
    await h.settle(1_000);
    const st = h.statuses();
    expect(st).toHaveLength(1);
    expect(st[0]?.status).toBe("failed");
    expect(st[0]?.errors?.[0]?.code).toBe(131047);
    expect(st[0]?.pricing).toBeUndefined();
  });

  it("opens for 24 h on an inbound message", async () => {
    const h = harness();
    openWindow(h);
    h.clock.advance(23 * 3_600_000);
    h.send(text(USER, "inside"));
    await h.settle(1_000);
    expect(h.statuses().map((s) => s.status)).toEqual(["sent", "delivered", "read"]);
    h.clock.advance(2 * 3_600_000);
    h.posts.length = 0;
    h.send(text(USER, "outside"));
    await h.settle(1_000);
    expect(h.statuses()[0]?.errors?.[0]?.code).toBe(131047);
  });
});

describe("status webhooks", () => {
  it("are signed over Meta-style escaped JSON and echo biz_opaque_callback_data with PMP pricing", async () => {
    const h = harness();
    h.sim.addUser({ waId: USER, name: "Zoë 😀" });
    openWindow(h);
    const r = h.send(text(USER, "olá", { biz_opaque_callback_data: "req-42" }));
    const id = (r.json["messages"] as { id: string }[])[0]?.id;
    await h.settle(1_000);
    const inbound = h.posts[0];
    expect(inbound?.body).toContain("Zo\\u00eb \\ud83d\\ude00");
    expect(verifyWebhookSignature(inbound?.body ?? "", inbound?.signature, SECRET)).toBe(true);
    expect(
      verifyWebhookSignature(JSON.stringify(inbound?.payload), inbound?.signature, SECRET),
    ).toBe(false);
    const st = h.statuses();
    expect(st.map((s) => s.status)).toEqual(["sent", "delivered", "read"]);
    expect(
      st.every(
        (s) => s.id === id && s.biz_opaque_callback_data === "req-42" && s.recipient_id === USER,
      ),
    ).toBe(true);
    expect(st[0]?.pricing).toEqual({
      billable: false,
      pricing_model: "PMP",
      type: "free_customer_service",
      category: "service",
    });
    expect(st[1]?.pricing).toBeDefined();
    expect(st[2]?.pricing).toBeUndefined();
  });

  it("reactions get only a sent status", async () => {
    const h = harness();
    const { wamid } = h.sim.userSends(USER, { type: "text", body: "hi" });
    h.send({
      messaging_product: "whatsapp",
      to: USER,
      type: "reaction",
      reaction: { message_id: wamid, emoji: "👍" },
    });
    await h.settle(1_000);
    expect(h.statuses().map((s) => s.status)).toEqual(["sent"]);
  });

  it("can skip delivered, duplicate and reorder as configured", async () => {
    const h = harness();
    openWindow(h);
    h.sim.setStatusProfile({ skipDeliveredProbability: 1 });
    h.send(text(USER, "a"));
    await h.settle(1_000);
    expect(h.statuses().map((s) => s.status)).toEqual(["sent", "read"]);

    h.posts.length = 0;
    h.sim.setStatusProfile({ skipDeliveredProbability: 0, outOfOrderProbability: 1 });
    h.send(text(USER, "b"));
    await h.settle(1_000);
    expect(h.statuses().map((s) => s.status)).toEqual(["sent", "read", "delivered"]);

    h.posts.length = 0;
    h.sim.setStatusProfile({ outOfOrderProbability: 0, duplicateProbability: 1 });
    h.send(text(USER, "c"));
    await h.settle(10_000);
    expect(
      h
        .statuses()
        .map((s) => s.status)
        .sort(),
    ).toEqual(["delivered", "delivered", "read", "read", "sent", "sent"]);
  });

  it("batch several updates into one POST when configured", async () => {
    const h = harness({ webhooks: { maxBatchSize: 100, batchWindowMs: 500 } });
    openWindow(h);
    for (let i = 0; i < 5; i++) h.send(text(USER, `m${i}`));
    await h.settle(2_000);
    const sizes = h.posts.map((p) =>
      p.payload.entry
        .flatMap((e) => e.changes)
        .reduce((n, c) => n + ((c.value as { statuses?: unknown[] }).statuses?.length ?? 0), 0),
    );
    expect(h.posts.length).toBeLessThan(3);
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(5);
  });

  it("retry non-200 answers immediately, then on Meta's compressed schedule, with the same bytes", async () => {
    const h = harness({ webhooks: { retryTimeScale: 0.001 } });
    h.answers.push(500, 503, 500);
    h.sim.userSends(USER, { type: "text", body: "retry me" });
    await h.settle(500);
    expect(h.posts.length).toBe(4);
    expect(new Set(h.posts.map((p) => p.body)).size).toBe(1);
    const attempts = h.sim.webhookDeliveries().map((d) => [d.attempt, d.outcome]);
    expect(attempts).toEqual([
      [1, 500],
      [2, 503],
      [3, 500],
      [4, 200],
    ]);
    expect((h.posts[2]?.at ?? 0) - (h.posts[1]?.at ?? 0)).toBeGreaterThanOrEqual(30);
  });

  it("never posts anywhere but the configured URLs", async () => {
    const h = harness();
    h.sim.userSends(USER, { type: "text", body: "x" });
    await h.settle(100);
    expect(new Set(h.posts.map((p) => p.url))).toEqual(new Set(["http://127.0.0.1:9/webhook"]));
  });
});

describe("templates", () => {
  function withTemplates() {
    const h = harness();
    h.sim.addTemplate({
      name: "order_update",
      language: "en_US",
      body: "Hi {{1}}, order {{2}} shipped",
    });
    h.sim.addTemplate({
      name: "named",
      language: "en_US",
      parameterFormat: "NAMED",
      body: "Hi {{first_name}}",
      category: "MARKETING",
    });
    h.sim.addTemplate({ name: "paused", language: "en_US", body: "x", status: "PAUSED" });
    h.sim.addTemplate({ name: "disabled", language: "en_US", body: "x", status: "DISABLED" });
    h.sim.addTemplate({ name: "pending", language: "en_US", body: "x", status: "PENDING" });
    return h;
  }
  const tpl = (name: string, params: unknown[], language = "en_US") => ({
    messaging_product: "whatsapp",
    to: USER,
    type: "template",
    template: {
      name,
      language: { code: language },
      components: [{ type: "body", parameters: params }],
    },
  });
  const t = (s: string, parameter_name?: string) => ({
    type: "text",
    text: s,
    ...(parameter_name ? { parameter_name } : {}),
  });

  it("accepts an approved template outside the window, without message_status (not paced) and with regular pricing", async () => {
    const h = withTemplates();
    const r = h.send(tpl("named", [t("Jess", "first_name")]));
    expect(r.status).toBe(200);
    // message_status comes only with templates under pacing (reference §1.10; issue 20 item 7).
    expect((r.json["messages"] as Record<string, unknown>[])[0]).not.toHaveProperty(
      "message_status",
    );
    await h.settle(1_000);
    expect(h.statuses()[0]?.pricing).toMatchObject({
      type: "regular",
      category: "marketing",
      pricing_model: "PMP",
    });
  });

  it.each([
    ["unknown name", 132001, tpl("nope", []), 404],
    ["unknown language", 132001, tpl("order_update", [t("a"), t("b")], "pt_BR"), 404],
    ["not approved", 132001, tpl("pending", []), 404],
    ["parameter count", 132000, tpl("order_update", [t("a")]), 400],
    ["named mismatch", 132012, tpl("named", [t("Jess", "last_name")]), 400],
    ["positional given names", 132012, tpl("order_update", [t("a", "x"), t("b", "y")]), 400],
    [
      "too long once filled",
      132005,
      tpl("order_update", [t("a".repeat(1000)), t("b".repeat(100))]),
      400,
    ],
    ["paused", 132015, tpl("paused", []), 400],
    ["disabled", 132016, tpl("disabled", []), 400],
  ])("%s -> %i", (_name, code, body, http) => {
    const h = withTemplates();
    const r = h.send(body);
    expect(errorCode(r)).toBe(code);
    expect(r.status).toBe(http);
    expect((r.json["error"] as { message: string }).message).toMatch(
      new RegExp(`^\\(#${code}\\) `),
    );
  });

  it("held messages are dropped with 132015 when pacing says so", async () => {
    const h = harness();
    h.sim.addTemplate({
      name: "promo",
      language: "en",
      body: "Sale",
      category: "MARKETING",
      pacing: { outcome: "drop", afterMs: 5_000 },
    });
    const r = h.send(tpl("promo", [], "en"));
    expect((r.json["messages"] as { message_status: string }[])[0]?.message_status).toBe(
      "held_for_quality_assessment",
    );
    await h.settle(6_000);
    expect(h.statuses()[0]?.errors?.[0]?.code).toBe(132015);
  });
});

describe("recipients and wa_id rewriting", () => {
  it.each([
    ["+55 11 98765-4321", "551187654321"],
    ["+52 55 1234 5678", "5215512345678"],
    ["+54 11 1234 5678", "5491112345678"],
    ["+1 (650) 555-1234", "16505551234"],
  ])("%s -> wa_id %s, with input echoed", (input, waId) => {
    const h = harness();
    const r = h.send(text(input));
    expect(r.json["contacts"]).toEqual([{ input, wa_id: waId }]);
  });

  it("prepends the business number's country when + is missing", () => {
    const h = harness();
    expect((h.send(text("(650) 555-1234")).json["contacts"] as { wa_id: string }[])[0]?.wa_id).toBe(
      "16505551234",
    );
  });

  it("test numbers only reach their allow-list (549... fails while 54... works)", () => {
    const h = harness({
      businesses: [
        {
          wabaId: "1",
          phoneNumbers: [
            { id: "2", displayPhoneNumber: "15550001111", allowList: ["541112345678"] },
          ],
        },
      ],
    });
    expect(h.send(text("+541112345678"), { phoneNumberId: "2" }).status).toBe(200);
    expect(errorCode(h.send(text("+5491112345678"), { phoneNumberId: "2" }))).toBe(131030);
  });

  it("non-WhatsApp numbers fail asynchronously with 131026; garbage fails synchronously", async () => {
    const h = harness({ nonWhatsAppNumbers: ["16505550999"] });
    expect(h.send(text("+16505550999")).status).toBe(200);
    await h.settle(1_000);
    expect(h.statuses()[0]?.errors?.[0]?.code).toBe(131026);
    expect(errorCode(h.send(text("not a number")))).toBe(100);
    expect(
      errorCode(h.send({ messaging_product: "whatsapp", type: "text", text: { body: "x" } })),
    ).toBe(131008);
    expect(errorCode(h.send(text(USER, "x".repeat(4097))))).toBe(131009);
  });
});

describe("auth and object ids", () => {
  it("190 for an unknown or expired token, 200 without access to the asset, 100/33 for unknown ids", () => {
    const h = harness({
      accessTokens: [
        { token: TOKEN },
        { token: "old", expiresAt: Date.UTC(2025, 0, 1) },
        { token: "other-waba", assets: ["999"] },
      ],
    });
    const bad = h.send(text(USER), { token: "nope" });
    expect([bad.status, errorCode(bad)]).toEqual([401, 190]);
    const old = h.send(text(USER), { token: "old" });
    expect([
      errorCode(old),
      (old.json["error"] as { error_subcode: number }).error_subcode,
    ]).toEqual([190, 463]);
    expect(errorCode(h.send(text(USER), { token: "other-waba" }))).toBe(200);
    const unknown = h.send(text(USER), { phoneNumberId: "123" });
    expect([
      unknown.status,
      errorCode(unknown),
      (unknown.json["error"] as { error_subcode: number }).error_subcode,
    ]).toEqual([400, 100, 33]);
  });

  it("accepts a token granted at run time and refuses one revoked", () => {
    const h = harness();
    expect(errorCode(h.send(text(USER), { token: "late" }))).toBe(190);
    h.sim.grantAccessToken({ token: "late", assets: [h.sim.defaultPhoneNumberId] });
    expect(errorCode(h.send(text(USER), { token: "late" }))).toBeUndefined();
    h.sim.revokeAccessToken("late");
    expect(errorCode(h.send(text(USER), { token: "late" }))).toBe(190);
    expect(() => {
      h.sim.grantAccessToken({ token: "" });
    }).toThrow(RangeError);
  });
});

describe("inbound users", () => {
  it("send every type, and STOP, as webhooks with contacts and inbound wamids", async () => {
    const h = harness();
    const { wamid: first } = h.sim.userSends(USER, { type: "text", body: "hi" });
    h.sim.userSends(USER, {
      type: "image",
      mimeType: "image/jpeg",
      data: Buffer.from("jpeg"),
      caption: "pic",
    });
    h.sim.userSends(USER, { type: "audio", mimeType: "audio/ogg; codecs=opus", voice: true });
    h.sim.userSends(USER, { type: "document", mimeType: "application/pdf", filename: "a.pdf" });
    h.sim.userSends(USER, { type: "location", latitude: 1, longitude: 2, name: "HQ" });
    h.sim.userSends(USER, { type: "contacts", contacts: [{ name: { formatted_name: "Jane" } }] });
    h.sim.userSends(USER, { type: "button", text: "Yes", payload: "YES_42" });
    h.sim.userSends(USER, { type: "button_reply", id: "b1", title: "Yes" }, { replyTo: "wamid.X" });
    h.sim.userSends(USER, { type: "list_reply", id: "r1", title: "Row" });
    h.sim.userSends(USER, { type: "reaction", messageId: "wamid.X", emoji: "😀" });
    h.sim.userSends(USER, { type: "stop" });
    h.sim.userSends(USER, { type: "unsupported" });
    await h.settle(100);
    const msgs = h.posts.flatMap(
      (p) => (p.payload.entry[0]?.changes[0]?.value as { messages: InboundMessage[] }).messages,
    );
    expect(msgs.map((m) => m.type)).toEqual([
      "text",
      "image",
      "audio",
      "document",
      "location",
      "contacts",
      "button",
      "interactive",
      "interactive",
      "reaction",
      "text",
      "unsupported",
    ]);
    expect(msgs[0]?.id).toBe(first);
    expect(Buffer.from(first.slice(6), "base64").includes(Buffer.from(USER))).toBe(true);
    expect(msgs[1]?.image?.sha256).toBe(createHash("sha256").update("jpeg").digest("base64"));
    expect(msgs[7]?.context).toEqual({ from: "15550783881", id: "wamid.X" });
    expect(msgs[10]?.text?.body).toBe("STOP");
    expect(msgs[11]?.errors?.[0]?.code).toBe(131051);
  });

  it("mark-as-read answers success for inbound ids and 131009 otherwise", () => {
    const h = harness();
    const { wamid } = h.sim.userSends(USER, { type: "text", body: "hi" });
    const ok = h.send({
      messaging_product: "whatsapp",
      status: "read",
      message_id: wamid,
      typing_indicator: { type: "text" },
    });
    expect(ok.json).toEqual({ success: true });
    expect(h.sim.markedRead()).toEqual([{ wamid, at: h.clock.now(), typing: true }]);
    expect(
      errorCode(
        h.send({ messaging_product: "whatsapp", status: "read", message_id: "wamid.nope" }),
      ),
    ).toBe(131009);
  });
});

describe("faults", () => {
  it("scripted errors, timeouts and raw 5xx apply in order to the next requests", () => {
    const h = harness();
    openWindow(h);
    h.sim.scriptFaults([
      { kind: "error", code: 131016 },
      { kind: "timeout" },
      { kind: "raw", status: 502, body: "<html>" },
      { kind: "timeout-after-accept" },
    ]);
    expect(errorCode(h.send(text(USER)))).toBe(131016);
    expect(h.send(text(USER)).status).toBe(0);
    const raw = h.sim.handle({
      method: "POST",
      path: `/v23.0/${h.sim.defaultPhoneNumberId}/messages`,
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${TOKEN}` },
      body: Buffer.from(JSON.stringify(text(USER))),
    });
    expect(raw.kind === "answer" && raw.status).toBe(502);
    expect(h.send(text(USER)).status).toBe(0);
    expect(h.sim.messages()).toHaveLength(1); // the in-doubt send was accepted
    expect(h.send(text(USER)).status).toBe(200);
  });

  it("random 5xx and dropped webhooks follow the configured rates", async () => {
    const h = harness({ faults: { serverErrorRate: 1, webhookDropRate: 1 } });
    const codes = new Set([0, 1, 2, 3, 4, 5].map(() => errorCode(h.send(text(USER)))));
    for (const c of codes) expect([131000, 131016, 2]).toContain(c);
    h.sim.setFaults({ serverErrorRate: 0 });
    h.sim.userSends(USER, { type: "text", body: "lost" });
    await h.settle(100);
    expect(h.posts).toHaveLength(0);
    expect(h.sim.webhookDeliveries()[0]?.outcome).toBe("dropped");
  });

  it("latency distributions stay within bounds", () => {
    const h = harness({ faults: { latency: { kind: "exponential", meanMs: 50, maxMs: 200 } } });
    for (let i = 0; i < 20; i++) {
      const r = h.sim.handle({
        method: "GET",
        path: `/v23.0/${h.sim.defaultPhoneNumberId}`,
        query: new URLSearchParams(),
        headers: { authorization: `Bearer ${TOKEN}` },
        body: Buffer.alloc(0),
      });
      if (r.kind !== "answer") throw new Error("unexpected hang");
      expect(r.delayMs).toBeGreaterThanOrEqual(0);
      expect(r.delayMs).toBeLessThanOrEqual(200);
    }
  });
});

describe("determinism", () => {
  it("the same seed gives the same ids; another seed does not", () => {
    const ids = (seed: string) => {
      const sim = createSimulator({
        seed,
        deliver: () => Promise.resolve(200),
        webhooks: { enabled: false },
      });
      const out = [1, 2, 3].map(() => sim.userSends(USER, { type: "text", body: "x" }).wamid);
      void sim.stop();
      return out;
    };
    expect(ids("a")).toEqual(ids("a"));
    expect(ids("a")).not.toEqual(ids("b"));
  });
});
