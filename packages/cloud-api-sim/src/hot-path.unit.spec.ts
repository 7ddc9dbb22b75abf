// The request hot path's shortcuts must give the same results as the general code they bypass.
import { describe, expect, it } from "vitest";
import { createManualClock } from "./clock.js";
import { answerOf, TOKEN } from "./harness.unit-helpers.js";
import { splitTarget } from "./server.js";
import { createSimulator } from "./simulator.js";

describe("splitTarget", () => {
  it("splits like WHATWG URL parsing for plain and unusual request targets", () => {
    const targets = [
      "/",
      "/v23.0/106540352242922/messages",
      "/v23.0/106540352242922?fields=throughput,quality_rating",
      "/v23.0/102290129340398/message_templates?limit=2&after=QVFIUk&name=order%20update",
      "/whatsapp_business/attachments/?mid=1&ext=1&hash=abc-DEF_123&access_token=x+y",
      "/v23.0//106540352242922///messages",
      "//sim/v23.0/106540352242922/messages",
      "/v23.0/./106540352242922/../messages",
      "/v23.0/%2e%2e/messages",
      '/v23.0/a%20b?q=%C3%A9&x="y"',
      "/_sim/users/16505551234/received",
      "/v23.0/1?a=1#frag",
      "/v23.0/1?",
      "/v23.0/1?a=b?c",
    ];
    for (const t of targets) {
      const url = new URL(t, "http://sim");
      const got = splitTarget(t);
      expect(got.path, t).toBe(url.pathname);
      expect([...got.query], t).toEqual([...url.searchParams]);
    }
  });

  it("answers targets URL parsing rejects instead of throwing", () => {
    expect(splitTarget("//v23.0//106540352242922/messages").path).toBe(
      "//v23.0//106540352242922/messages",
    );
  });
});

describe("webhooks off", () => {
  it("gives the same ids, answers and status times for a seed as webhooks on", () => {
    const run = (enabled: boolean): unknown[] => {
      const sim = createSimulator({
        seed: "same",
        clock: createManualClock(Date.UTC(2026, 0, 1)),
        accessTokens: [{ token: TOKEN }],
        webhooks: { enabled },
        statuses: { duplicateProbability: 0.3, outOfOrderProbability: 0.3, readProbability: 0.5 },
        deliver: () => Promise.resolve(200),
      });
      sim.addTemplate({ name: "hello", language: "en_US", body: "Hi {{1}}" });
      sim.userSends("16505550001", { type: "text", body: "hi" });
      const out: unknown[] = [];
      for (let i = 0; i < 30; i++) {
        const to = `+1650555000${String(i % 3)}`;
        const body =
          i % 2 === 0
            ? { messaging_product: "whatsapp", to, type: "text", text: { body: `m${i}` } }
            : {
                messaging_product: "whatsapp",
                to,
                type: "template",
                template: {
                  name: "hello",
                  language: { code: "en_US" },
                  components: [{ type: "body", parameters: [{ type: "text", text: `p${i}` }] }],
                },
              };
        const res = sim.handle({
          method: "POST",
          path: `/v23.0/${sim.defaultPhoneNumberId}/messages`,
          query: new URLSearchParams(),
          headers: { authorization: `Bearer ${TOKEN}` },
          body: Buffer.from(JSON.stringify(body)),
        });
        const a = answerOf(res);
        out.push(a.status, a.json, res.kind === "answer" ? res.headers : undefined);
      }
      (sim.clock as ReturnType<typeof createManualClock>).advance(60_000);
      out.push(sim.messages().map((m) => [m.wamid, m.statuses, m.failure]));
      void sim.stop();
      return out;
    };
    expect(run(false)).toEqual(run(true));
  });
});
