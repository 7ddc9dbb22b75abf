import { describe, expect, it } from "vitest";
import { REDACTED, isSecretKey, maskPhone, redactSecrets, scrub } from "./redact.js";

describe("maskPhone", () => {
  it.each([
    ["+5511987654321", "+55*******4321"],
    ["5511987654321", "55*******4321"],
    ["15551234567", "15*****4567"],
    ["12345678", "12**5678"],
    ["+491701234567890", "+49*********7890"],
  ])("masks %s as %s", (input, expected) => {
    expect(maskPhone(input)).toBe(expected);
  });

  it("masks every number inside free text and keeps the rest", () => {
    expect(maskPhone("from +5511987654321 to 4915112345678, id=5511987654321.")).toBe(
      "from +55*******4321 to 49*******5678, id=55*******4321.",
    );
    expect(maskPhone("whatsapp:+5511987654321")).toBe("whatsapp:+55*******4321");
    expect(maskPhone("wa_5511987654321.jpg")).toBe("wa_55*******4321.jpg");
  });

  it("leaves short numbers, long runs, hex ids and UUIDs alone", () => {
    const untouched = [
      "order 1234567 costs 42",
      "1234567890123456789",
      "4bf92f3577b34da6a3ce929d0e0e4736",
      "12345678abcdef00",
      "12345678-1234-4234-8234-123456789012",
      "2025-01-15T12:30:00.000Z",
    ];
    for (const text of untouched) expect(maskPhone(text)).toBe(text);
  });

  it("is idempotent", () => {
    const once = maskPhone("call +5511987654321");
    expect(maskPhone(once)).toBe(once);
  });
});

describe("isSecretKey", () => {
  it.each([
    "accessToken",
    "access_token",
    "WA_APP_SECRET",
    "OPS_TOKEN",
    "appSecret",
    "password",
    "DB_PASSWORD",
    "Authorization",
    "proxy-authorization",
    "x-hub-signature-256",
    "set-cookie",
    "apiKey",
    "MEDIA_ENCRYPTION_KEY",
    "clientSecret",
    "credentials",
  ])("%s is a secret", (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each(["status", "wamid", "phone_number_id", "keyId", "requestId", "message"])(
    "%s is not",
    (key) => {
      expect(isSecretKey(key)).toBe(false);
    },
  );
});

describe("redactSecrets", () => {
  it("censors secrets at any depth and keeps everything else, phone numbers included", () => {
    const input = {
      to: "+5511987654321",
      config: { WA_ACCESS_TOKEN: "EAAGm0PX4ZCpsBAKZCZA", nested: { appSecret: "s3cr3t-value" } },
      headers: { Authorization: "Bearer abc.def.ghi", "content-type": "application/json" },
      secrets: ["one-secret", "two-secret"],
      credentials: { username: "parley", password: 12345678 },
    };
    expect(redactSecrets(input)).toEqual({
      to: "+5511987654321",
      config: { WA_ACCESS_TOKEN: REDACTED, nested: { appSecret: REDACTED } },
      headers: { Authorization: REDACTED, "content-type": "application/json" },
      secrets: [REDACTED, REDACTED],
      credentials: { username: REDACTED, password: REDACTED },
    });
  });

  it("keeps rate-limiter token counts, which are numbers", () => {
    expect(redactSecrets({ tokenBucket: { capacity: 80, tokens: 12 } })).toEqual({
      tokenBucket: { capacity: 80, tokens: 12 },
    });
  });

  it("censors secrets recognisable inside strings", () => {
    const text = [
      "GET https://graph.facebook.com/v21.0/me?access_token=EAAB1234&fields=id",
      "Authorization: Bearer EAAGm0PX4ZCpsBAKZCZAzzzz",
      'body {"access_token":"abc123","ok":true}',
      "mongodb://parley:hunter2@127.0.0.1:27017/db",
      "hub.verify_token=letmein&hub.challenge=42",
      "signature sha256=0123456789abcdef0123456789abcdef",
      "token EAAGm0PX4ZCpsBAKZCZAzzzzzzzzzzzzz leaked",
    ].join("\n");
    const out = redactSecrets(text) as string;
    for (const secret of [
      "EAAB1234",
      "EAAGm0PX4ZCpsBAKZCZA",
      "abc123",
      "hunter2",
      "letmein",
      "0123456789abcdef",
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain("fields=id");
    expect(out).toContain("hub.challenge=42");
    expect(out).toContain('"ok":true');
  });

  it("censors the value after a secret name in flat header lists", () => {
    expect(
      redactSecrets(["Host", "x", "Authorization", "Basic dXNlcg==", "Accept", "*/*"]),
    ).toEqual(["Host", "x", "Authorization", REDACTED, "Accept", "*/*"]);
  });
});

describe("scrub", () => {
  it("turns errors into plain objects, cause chain included, with secrets and phones scrubbed", () => {
    const cause = Object.assign(new Error("send to +5511987654321 failed"), {
      code: 131026,
      config: { headers: { Authorization: "Bearer live-token-value" } },
    });
    const out = scrub(new Error("dispatch failed", { cause })) as Record<string, unknown>;
    const text = JSON.stringify(out);
    expect(out["type"]).toBe("Error");
    expect(out["message"]).toBe("dispatch failed");
    expect(text).toContain("+55*******4321");
    expect(text).toContain("131026");
    expect(text).not.toContain("5511987654321");
    expect(text).not.toContain("live-token-value");
  });

  it("masks phone numbers in keys, values and phone-named numbers", () => {
    expect(scrub({ "5511987654321": { wa_id: 5511987654321, count: 5511987654321 } })).toEqual({
      "55*******4321": { wa_id: "55*******4321", count: 5511987654321 },
    });
  });

  it("survives cycles, binary data, maps and dates", () => {
    const cyclic: Record<string, unknown> = { name: "a" };
    cyclic["self"] = cyclic;
    const out = scrub({
      cyclic,
      body: Buffer.from("+5511987654321"),
      contacts: new Map([["+5511987654321", { token: "t0k3n-value" }]]),
      at: new Date(0),
      fn: () => 1,
    });
    expect(out).toEqual({
      cyclic: { name: "a", self: "[Circular]" },
      body: "[Binary 14 bytes]",
      contacts: { "+55*******4321": { token: REDACTED } },
      at: "1970-01-01T00:00:00.000Z",
    });
  });
});
