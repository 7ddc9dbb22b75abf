import { describe, expect, it } from "vitest";
import { decideGate, type GateInput } from "./gate.js";

const text: GateInput = { content: { type: "text", text: { body: "hi" } }, category: "utility" };
const template: GateInput = {
  content: { type: "template", template: { name: "order_update", language: { code: "en" } } },
  category: "utility",
};
const now = Date.parse("2026-11-22T10:00:00Z");

describe("decideGate", () => {
  it("sends free-form inside an open window", () => {
    expect(decideGate(text, { windowExpiresAt: now + 1 }, now)).toEqual({ kind: "send" });
  });

  it("rejects free-form once the window closed (judged at now) or when none is known", () => {
    expect(decideGate(text, { windowExpiresAt: now }, now)).toMatchObject({
      reason: "outside_window",
    });
    expect(decideGate(text, {}, now)).toMatchObject({ reason: "outside_window" });
    expect(decideGate(template, {}, now)).toEqual({ kind: "send" });
  });

  it("stops every send after an opt-out; a marketing opt-out stops marketing only", () => {
    const revokedAll = {
      consent: { state: "revoked" as const, scope: "all" as const, at: now - 5 },
    };
    expect(decideGate(template, revokedAll, now)).toMatchObject({
      kind: "rejected",
      reason: "opted_out",
    });
    const revokedMarketing = {
      consent: { state: "revoked" as const, scope: "marketing" as const, at: now - 5 },
    };
    expect(decideGate(template, revokedMarketing, now)).toEqual({ kind: "send" });
    expect(decideGate({ ...template, category: "marketing" }, revokedMarketing, now)).toMatchObject(
      { reason: "opted_out" },
    );
    const granted = { consent: { state: "granted" as const, scope: "all" as const, at: now - 5 } };
    expect(decideGate(template, granted, now)).toEqual({ kind: "send" });
  });

  it("expires a request whose validUntil passed, before anything else", () => {
    const stale = { ...template, validUntil: new Date(now - 1).toISOString() };
    expect(decideGate(stale, {}, now)).toEqual({ kind: "expired" });
  });

  it("with the authentication exemption, an authentication template goes past an opt-out of everything; nothing else does", () => {
    const revokedAll = {
      consent: { state: "revoked" as const, scope: "all" as const, at: now - 5 },
    };
    const code: GateInput = {
      content: { type: "template", template: { name: "login_code", language: { code: "en" } } },
      category: "authentication",
    };
    const on = { authenticationExempt: true };
    expect(decideGate(code, revokedAll, now, on)).toEqual({ kind: "send" });
    expect(decideGate(code, revokedAll, now)).toMatchObject({ reason: "opted_out" });
    expect(decideGate(template, revokedAll, now, on)).toMatchObject({ reason: "opted_out" });
    expect(
      decideGate(
        { ...text, category: "authentication" },
        { ...revokedAll, windowExpiresAt: now + 1 },
        now,
        on,
      ),
    ).toMatchObject({ reason: "opted_out" });
    expect(decideGate({ ...code, category: "marketing" }, revokedAll, now, on)).toMatchObject({
      reason: "opted_out",
    });
  });
});
