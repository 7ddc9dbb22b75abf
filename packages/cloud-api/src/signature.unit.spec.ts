import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  metaJsonStringify,
  signWebhookBody,
  verifySubscriptionChallenge,
  verifyWebhookSignature,
} from "./signature.js";

const secret = "app-secret";

describe("webhook signature", () => {
  const body = metaJsonStringify({ text: { body: "J'ai mangé des pâtes 😀 a@b.c/d" } });

  it("escapes like Meta: lowercase \\u, surrogate pairs, / and @", () => {
    expect(body).toBe(
      '{"text":{"body":"J\'ai mang\\u00e9 des p\\u00e2tes \\ud83d\\ude00 a\\u0040b.c\\/d"}}',
    );
    expect(JSON.parse(body)).toEqual({ text: { body: "J'ai mangé des pâtes 😀 a@b.c/d" } });
  });

  it("verifies the exact raw bytes", () => {
    const header = signWebhookBody(body, secret);
    expect(header).toBe(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
    expect(verifyWebhookSignature(Buffer.from(body), header, secret)).toBe(true);
    expect(
      verifyWebhookSignature(body, header.toUpperCase().replace("SHA256=", "sha256="), secret),
    ).toBe(true);
  });

  it("rejects re-serialised JSON, altered bytes, wrong secret and malformed headers", () => {
    const header = signWebhookBody(body, secret);
    expect(verifyWebhookSignature(JSON.stringify(JSON.parse(body)), header, secret)).toBe(false);
    expect(verifyWebhookSignature(body.replace("p", "P"), header, secret)).toBe(false);
    expect(verifyWebhookSignature(body, header, "other")).toBe(false);
    expect(verifyWebhookSignature(body, undefined, secret)).toBe(false);
    expect(verifyWebhookSignature(body, "sha1=abc", secret)).toBe(false);
    expect(verifyWebhookSignature(body, "sha256=zz", secret)).toBe(false);
    expect(verifyWebhookSignature(body, header, "")).toBe(false);
  });

  it("accepts any of several secrets during rotation", () => {
    const header = signWebhookBody(body, "new");
    expect(verifyWebhookSignature(body, [header], ["old", "new"])).toBe(true);
  });
});

describe("hub.challenge", () => {
  it("answers the challenge when the verify token matches", () => {
    const q = { "hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444" };
    expect(verifySubscriptionChallenge(q, "tok")).toEqual({ ok: true, challenge: "1158201444" });
  });
  it("refuses a wrong token, a wrong mode or a missing challenge", () => {
    expect(
      verifySubscriptionChallenge(
        { "hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1" },
        "tok",
      ).ok,
    ).toBe(false);
    expect(
      verifySubscriptionChallenge(
        { "hub.mode": "other", "hub.verify_token": "tok", "hub.challenge": "1" },
        "tok",
      ).ok,
    ).toBe(false);
    expect(
      verifySubscriptionChallenge({ "hub.mode": "subscribe", "hub.verify_token": "tok" }, "tok").ok,
    ).toBe(false);
  });
});
