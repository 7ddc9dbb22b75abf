// GET /debug_token as Meta answers it (reference §9): data.is_valid, expires_at (0 = never),
// scopes, app_id, type; the inspected token's trouble in `data.error`, the caller's as an error.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { harness, SECRET, TOKEN } from "./harness.unit-helpers.js";
import { DEFAULT_APP_ID } from "./options.js";

const APP_TOKEN = `${DEFAULT_APP_ID}|${SECRET}`;
const HOUR = 3_600_000;

function debug(h: ReturnType<typeof harness>, input: string | undefined, caller = APP_TOKEN) {
  const q = input === undefined ? "" : `?input_token=${encodeURIComponent(input)}`;
  return h.call("GET", `/v23.0/debug_token${q}`, { token: caller });
}

const dataOf = (json: Record<string, unknown>): Record<string, unknown> =>
  json["data"] as Record<string, unknown>;

describe("simulator debug_token", () => {
  it("describes a token that never expires: valid, expires_at 0, its scopes and assets", () => {
    const h = harness({ accessTokens: [{ token: TOKEN, assets: ["106540352242922"] }] });
    const { status, json } = debug(h, TOKEN);
    expect(status).toBe(200);
    expect(dataOf(json)).toMatchObject({
      app_id: DEFAULT_APP_ID,
      type: "SYSTEM_USER",
      is_valid: true,
      expires_at: 0,
      scopes: ["whatsapp_business_management", "whatsapp_business_messaging"],
      granular_scopes: [
        { scope: "whatsapp_business_management", target_ids: ["106540352242922"] },
        { scope: "whatsapp_business_messaging", target_ids: ["106540352242922"] },
      ],
    });
    expect(dataOf(json)["error"]).toBeUndefined();
  });

  it("reports an expiry in seconds, then is_valid false with 190/463 once it passed", () => {
    const h = harness({ accessTokens: [{ token: TOKEN }] });
    const expiresAt = h.clock.now() + 2 * HOUR;
    h.sim.grantAccessToken({ token: "expiring-token", expiresAt, scopes: ["x"], type: "USER" });
    const before = dataOf(debug(h, "expiring-token").json);
    expect(before).toMatchObject({
      is_valid: true,
      expires_at: Math.floor(expiresAt / 1_000),
      scopes: ["x"],
      type: "USER",
    });
    h.clock.advance(2 * HOUR);
    const after = dataOf(debug(h, "expiring-token").json);
    expect(after).toMatchObject({
      is_valid: false,
      expires_at: Math.floor(expiresAt / 1_000),
      error: { code: 190, subcode: 463 },
    });
    // The expired token is refused on every other endpoint too.
    expect(h.send({}, { token: "expiring-token" }).status).toBe(401);
  });

  it("answers an unknown token with is_valid false and error 190, not an HTTP error", () => {
    const h = harness({ accessTokens: [{ token: TOKEN }] });
    const { status, json } = debug(h, "never-issued");
    expect(status).toBe(200);
    expect(dataOf(json)).toEqual({
      error: { code: 190, message: "Invalid OAuth access token." },
      is_valid: false,
      scopes: [],
    });
  });

  it("lets a valid token inspect itself, refuses a caller without one, needs input_token", () => {
    const h = harness({ accessTokens: [{ token: TOKEN }] });
    expect(dataOf(debug(h, TOKEN, TOKEN).json)["is_valid"]).toBe(true);
    const refused = debug(h, TOKEN, "not-a-token");
    expect(refused.status).toBe(401);
    expect((refused.json["error"] as { code: number }).code).toBe(190);
    const missing = debug(h, undefined);
    expect(missing.status).toBe(400);
    expect((missing.json["error"] as { code: number }).code).toBe(100);
  });

  it("takes the app token as the caller (Meta's documented access_token) and refuses a wrong one with 190", () => {
    const h = harness({ accessTokens: [{ token: TOKEN }] });
    // The app token may ask about any token, an unknown one included (the answer says why).
    expect(dataOf(debug(h, TOKEN, APP_TOKEN).json)["is_valid"]).toBe(true);
    expect(dataOf(debug(h, "never-issued", APP_TOKEN).json)["is_valid"]).toBe(false);
    for (const wrong of [
      `${DEFAULT_APP_ID}|not-the-secret`,
      `2000000000000002|${SECRET}`,
      `${DEFAULT_APP_ID}|`,
      SECRET,
    ]) {
      const refused = debug(h, TOKEN, wrong);
      expect(refused.status, wrong).toBe(401);
      expect((refused.json["error"] as { code: number }).code, wrong).toBe(190);
    }
  });

  it("property: any input token gets exactly one well-formed answer", () => {
    const h = harness({ accessTokens: [{ token: TOKEN }] });
    const known = ["tok-a-valid", "tok-b-expired"];
    h.sim.grantAccessToken({ token: "tok-a-valid", expiresAt: h.clock.now() + HOUR });
    h.sim.grantAccessToken({ token: "tok-b-expired", expiresAt: h.clock.now() - 1 });
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...known, TOKEN), fc.string(), fc.string({ unit: "grapheme" })),
        (input) => {
          const { status, json } = debug(h, input);
          if (input.length === 0) {
            expect(status).toBe(400);
            return;
          }
          expect(status).toBe(200);
          const data = dataOf(json);
          expect(typeof data["is_valid"]).toBe("boolean");
          expect(Array.isArray(data["scopes"])).toBe(true);
          const valid = input === TOKEN || input === "tok-a-valid";
          expect(data["is_valid"]).toBe(valid);
          if (!valid) expect((data["error"] as { code: number }).code).toBe(190);
        },
      ),
      { numRuns: 300 },
    );
  });
});
