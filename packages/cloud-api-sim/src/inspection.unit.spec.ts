// What outbound (sender) tests read from the simulator: the most sends accepted in any sliding
// second per business number, per-recipient send times and pair-pacing violations, per-number
// throughput set at creation, per-number tokens, and answers held back while a send is in flight.
import { describe, expect, it } from "vitest";
import { errorCode, harness, text, USER } from "./harness.unit-helpers.js";

const PN_B = "106540352242923";
const PN_C = "106540352242924";

function recipient(i: number): string {
  return `+1650556${String(i).padStart(4, "0")}`;
}

describe("maxAcceptedInAnySecond", () => {
  it("is the exact maximum over every sliding 1,000 ms window, per number", () => {
    const h = harness({ throughputMps: 1_000, pairBurst: 1_000 });
    // 30 sends at t=0..290 ms, then 50 at t=900..949 ms, then 20 at t=1,500 ms.
    // The window [0.900 s, 1.900 s) holds 50 + 20 = 70; [0, 1 s) holds 30 + 50 = 80 (the max).
    let i = 0;
    for (let k = 0; k < 30; k++) {
      expect(h.send(text(recipient(i++))).status).toBe(200);
      h.clock.advance(10);
    }
    h.clock.advance(600); // t = 900
    for (let k = 0; k < 50; k++) {
      expect(h.send(text(recipient(i++))).status).toBe(200);
      h.clock.advance(1);
    }
    h.clock.advance(551); // t = 1,500
    for (let k = 0; k < 20; k++) expect(h.send(text(recipient(i++))).status).toBe(200);
    const s = h.sim.stats()[0];
    expect(s?.accepted).toBe(100);
    expect(s?.maxAcceptedInAnySecond).toBe(80);
    // A window is half-open: a send exactly 1,000 ms after another is in the next second.
    h.sim.resetStats();
    h.clock.advance(5_000);
    expect(h.send(text(recipient(i++))).status).toBe(200);
    h.clock.advance(1_000);
    expect(h.send(text(recipient(i++))).status).toBe(200);
    expect(h.sim.stats()[0]?.maxAcceptedInAnySecond).toBe(1);
  });
});

describe("pairPacing", () => {
  it("lists per recipient the accepted send times and the 131056 refusals", () => {
    // The token bucket lets one more through 6 s after a burst (Meta's borrowing would not).
    const h = harness({ pairRule: "bucket" });
    const t0 = h.clock.now();
    for (let k = 0; k < 47; k++) h.send(text(`+${USER}`));
    h.clock.advance(6_000);
    expect(h.send(text(`+${USER}`)).status).toBe(200);
    h.send(text("+16505550000"));
    const [pair] = h.sim.pairPacing({ to: USER });
    expect(pair?.acceptedAt).toHaveLength(46);
    expect(pair?.acceptedAt.slice(0, 45).every((t) => t === t0)).toBe(true);
    expect(pair?.acceptedAt[45]).toBe(t0 + 6_000);
    expect(pair?.rejectedAt).toEqual([t0, t0]);
    expect(pair?.overLimitAt).toEqual([]);
    expect(pair?.ok).toBe(false);
    const other = h.sim.pairPacing({ to: "16505550000" });
    expect(other).toHaveLength(1);
    expect(other[0]?.ok).toBe(true);
    expect(h.sim.pairPacing()).toHaveLength(2);
  });

  it("checks accepted sends against a stricter bucket when asked", () => {
    const h = harness({ pairRule: "bucket", pairBurst: 1_000 });
    const t0 = h.clock.now();
    for (let k = 0; k < 5; k++) h.send(text(`+${USER}`));
    h.clock.advance(6_000);
    h.send(text(`+${USER}`)); // refilled one token
    h.send(text(`+${USER}`)); // over a 3-burst bucket
    const [pair] = h.sim.pairPacing({ to: USER, rule: "bucket", burst: 3, refillMs: 6_000 });
    expect(pair?.rejectedAt).toEqual([]);
    expect(pair?.overLimitAt).toEqual([t0, t0, t0 + 6_000]);
    expect(pair?.ok).toBe(false);
  });
});

describe("business numbers configured at creation", () => {
  it("takes each number's own throughput and answers 130429 above it", () => {
    const h = harness({
      pairBurst: 10_000,
      businesses: [
        {
          wabaId: "102290129340398",
          phoneNumbers: [
            { id: "106540352242922", displayPhoneNumber: "15550783881" },
            { id: PN_B, displayPhoneNumber: "15550783882", throughputMps: 20 },
            { id: PN_C, displayPhoneNumber: "15550783883", throughputMps: 1_000 },
            { id: "106540352242999", displayPhoneNumber: "15550783884", throughputMps: 200 },
          ],
        },
      ],
    });
    const codes = (pn: string, n: number): number[] =>
      Array.from({ length: n }, (_, i) => {
        const r = h.send(text(recipient(i)), { phoneNumberId: pn });
        return r.status === 200 ? 200 : (errorCode(r) ?? 0);
      });
    expect(codes(PN_B, 25).filter((c) => c === 130429)).toHaveLength(5);
    expect(codes(PN_C, 1_000).every((c) => c === 200)).toBe(true);
    expect(errorCode(h.send(text(recipient(5_000)), { phoneNumberId: PN_C }))).toBe(130429);
    const level = (pn: string): string =>
      (h.call("GET", `/v23.0/${pn}?fields=throughput`).json["throughput"] as { level: string })
        .level;
    expect(level(PN_B)).toBe("STANDARD");
    expect(level(PN_C)).toBe("HIGH");
    // Set above the standard 80: an upgraded number (the client's own ceiling picks the rate).
    expect(level("106540352242999")).toBe("HIGH");
    const byId = new Map(h.sim.stats().map((s) => [s.phoneNumberId, s]));
    expect(byId.get(PN_B)?.throughputMps).toBe(20);
    expect(byId.get(PN_B)?.maxAcceptedInAnySecond).toBe(20);
    expect(byId.get(PN_C)?.maxAcceptedInAnySecond).toBe(1_000);
  });

  it("gives each number its own access token", () => {
    const h = harness({
      accessTokens: [
        { token: "tok-a", assets: ["106540352242922"] },
        { token: "tok-b", assets: [PN_B] },
      ],
      businesses: [
        {
          wabaId: "102290129340398",
          phoneNumbers: [
            { id: "106540352242922", displayPhoneNumber: "15550783881" },
            { id: PN_B, displayPhoneNumber: "15550783882" },
          ],
        },
      ],
    });
    expect(h.send(text(`+${USER}`), { token: "tok-a" }).status).toBe(200);
    expect(h.send(text(`+${USER}`), { phoneNumberId: PN_B, token: "tok-b" }).status).toBe(200);
    expect(errorCode(h.send(text(`+${USER}`), { phoneNumberId: PN_B, token: "tok-a" }))).toBe(200);
    expect(errorCode(h.send(text(`+${USER}`), { token: "tok-b" }))).toBe(200);
    expect(errorCode(h.send(text(`+${USER}`), { token: "nope" }))).toBe(190);
  });
});

describe("an answer held back while the send is in flight", () => {
  it("accepts the send at once and answers after the scripted delay", () => {
    const h = harness();
    h.sim.scriptFaults([{ kind: "delay", ms: 2_500 }], { endpoint: "messages" });
    const res = h.sim.handle({
      method: "POST",
      path: `/v23.0/${h.sim.defaultPhoneNumberId}/messages`,
      query: new URLSearchParams(),
      headers: { authorization: "Bearer test-token" },
      body: Buffer.from(JSON.stringify(text(`+${USER}`))),
    });
    expect(res.kind === "answer" && res.status === 200 && res.delayMs === 2_500).toBe(true);
    expect(h.sim.received(USER)).toHaveLength(1);
    // Only the next matching request is delayed.
    const next = h.sim.handle({
      method: "POST",
      path: `/v23.0/${h.sim.defaultPhoneNumberId}/messages`,
      query: new URLSearchParams(),
      headers: { authorization: "Bearer test-token" },
      body: Buffer.from(JSON.stringify(text(`+${USER}`))),
    });
    expect(next.kind === "answer" && next.delayMs === 0).toBe(true);
  });
});

describe("received messages", () => {
  it("give the request body as sent, also when serialised for /_sim", () => {
    const h = harness();
    h.send({ messaging_product: "whatsapp", to: `+${USER}`, text: { body: "no type given" } });
    const [m] = h.sim.received(USER);
    expect(m?.message).toMatchObject({ type: "text", text: { body: "no type given" } });
    const json = JSON.parse(JSON.stringify(m)) as { message: { text: { body: string } } };
    expect(json.message.text.body).toBe("no type given");
  });
});
