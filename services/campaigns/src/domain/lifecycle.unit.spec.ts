import { deciderSpec } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import { campaignDefinition } from "./campaign.js";
import {
  autoPauseOf,
  nameTemplateOfFailure,
  campaignDecider,
  CampaignStateError,
  type CampaignEvent,
} from "./lifecycle.js";

const definition = campaignDefinition.parse({
  id: "winter",
  owner: "marketing",
  template: { name: "winter_sale", language: { code: "en" } },
  category: "marketing",
  numbers: ["300001", "300002"],
  schedule: { startAt: "2026-12-01T00:00:00.000Z" },
});
const at = "2026-12-01T00:00:00.000Z";
const spec = deciderSpec(campaignDecider, { key: "winter", context: { now: new Date(at) } });
const created: CampaignEvent = { type: "CampaignCreated", definition, at };
const audience: CampaignEvent = {
  type: "AudienceAttached",
  format: "csv",
  ref: "winter.csv",
  bytes: 10,
  at,
};
const started: CampaignEvent = { type: "CampaignStarted", at };
const paused: CampaignEvent = {
  type: "CampaignPaused",
  reason: "template_paused",
  detail: "Meta paused winter_sale",
  at,
};

describe("the campaign lifecycle", () => {
  it("starts a draft with an audience, not one without", () => {
    spec.given(created).when({ type: "Start" }).thenThrows(CampaignStateError);
    spec
      .given(created, audience)
      .when({ type: "Start" })
      .thenState((s) => {
        expect(s.status).toBe("running");
      });
  });

  it("pauses a running campaign once, keeping the first reason", () => {
    spec
      .given(created, audience, started)
      .when({ type: "Pause", reason: "template_paused", detail: "x" })
      .thenState((s) => {
        expect(s.pausedBy?.reason).toBe("template_paused");
      });
    spec
      .given(created, audience, started, paused)
      .when({ type: "Pause", reason: "operator", detail: "y" })
      .thenNothing();
  });

  it("resumes a paused campaign and forgets why it paused", () => {
    spec
      .given(created, audience, started, paused)
      .when({ type: "Resume" })
      .thenState((s) => {
        expect(s.status).toBe("running");
        expect(s.pausedBy).toBeUndefined();
      });
  });

  it("cancels anything but a completed campaign; refuses an audience once started", () => {
    spec
      .given(created, audience, started, paused)
      .when({ type: "Cancel" })
      .thenState((s) => {
        expect(s.status).toBe("cancelled");
      });
    spec
      .given(created, audience, started, { type: "CampaignCompleted", at })
      .when({ type: "Cancel" })
      .thenThrows(/completed/);
    spec
      .given(created, audience, started)
      .when({ type: "AttachAudience", format: "jsonl", ref: "x", bytes: 1 })
      .thenThrows(/running/);
  });

  it("takes the same definition again as a repeat, another one as a conflict", () => {
    spec.given(created).when({ type: "Create", definition }).thenNothing();
    spec
      .given(created)
      .when({ type: "Create", definition: { ...definition, owner: "sales" } })
      .thenThrows(CampaignStateError);
  });
});

describe("autoPauseOf", () => {
  it("pauses on the campaign's template paused or disabled, 132015/132016, a red number, a refused token, a failure rate", () => {
    expect(
      autoPauseOf(
        { kind: "template_status", template: "winter_sale", status: "PAUSED" },
        definition,
      )?.reason,
    ).toBe("template_paused");
    expect(
      autoPauseOf(
        { kind: "template_status", template: "winter_sale", status: "DISABLED" },
        definition,
      )?.reason,
    ).toBe("template_disabled");
    expect(
      autoPauseOf({ kind: "template_status", template: "other", status: "PAUSED" }, definition),
    ).toBeUndefined();
    expect(
      autoPauseOf(
        { kind: "template_status", template: "winter_sale", status: "APPROVED" },
        definition,
      ),
    ).toBeUndefined();
    expect(
      autoPauseOf({ kind: "send_failed", template: "winter_sale", code: 132015 }, definition)
        ?.reason,
    ).toBe("template_failures");
    expect(autoPauseOf({ kind: "send_failed", code: 132016 }, definition)?.reason).toBe(
      "template_failures",
    );
    expect(autoPauseOf({ kind: "send_failed", code: 131026 }, definition)).toBeUndefined();
    expect(autoPauseOf({ kind: "send_failed", code: 190 }, definition)?.reason).toBe(
      "token_refused",
    );
    expect(
      autoPauseOf({ kind: "number_quality", phoneNumberId: "300002", rating: "RED" }, definition)
        ?.reason,
    ).toBe("quality_dropped");
    expect(
      autoPauseOf({ kind: "number_quality", phoneNumberId: "999999", rating: "RED" }, definition),
    ).toBeUndefined();
    expect(
      autoPauseOf({ kind: "failure_rate", failed: 20, settled: 100, threshold: 0.1 }, definition)
        ?.reason,
    ).toBe("failure_rate");
    expect(
      autoPauseOf({ kind: "failure_rate", failed: 20, settled: 40, threshold: 0.1 }, definition),
    ).toBeUndefined();
  });

  it("a 132015/132016 naming a template pauses the campaigns using it (any campaign's send), with its name; unnamed, only the campaign its key names", () => {
    const named = autoPauseOf(
      { kind: "send_failed", template: "winter_sale", campaignId: "other", code: 132016 },
      definition,
    );
    expect(named).toEqual({
      reason: "template_failures",
      detail: "Meta disabled template winter_sale (a send failed with 132016)",
    });
    expect(
      autoPauseOf({ kind: "send_failed", template: "summer_sale", code: 132015 }, definition),
    ).toBeUndefined();
    expect(
      autoPauseOf(
        { kind: "send_failed", template: "summer_sale", campaignId: "winter", code: 132015 },
        definition,
      ),
    ).toBeUndefined();
    expect(
      autoPauseOf({ kind: "send_failed", campaignId: "winter", code: 132015 }, definition)?.reason,
    ).toBe("template_failures");
    expect(
      autoPauseOf({ kind: "send_failed", campaignId: "spring", code: 132015 }, definition),
    ).toBeUndefined();
  });

  it("an async 132015/132016 without a template is named after the campaign its key names", () => {
    const byId = (id: string) => (id === "winter" ? definition : undefined);
    const named = nameTemplateOfFailure(
      { kind: "send_failed", campaignId: "winter", code: 132015 },
      byId,
    );
    expect(named).toEqual({
      kind: "send_failed",
      campaignId: "winter",
      code: 132015,
      template: "winter_sale",
    });
    // Named, it pauses another campaign of the same template, the template in the reason.
    expect(autoPauseOf(named, { ...definition, id: "spring" })).toEqual({
      reason: "template_failures",
      detail: "Meta paused template winter_sale (a send failed with 132015)",
    });
    // Unchanged: a named template, another code, no key, an unknown campaign, another signal.
    for (const s of [
      { kind: "send_failed", campaignId: "winter", template: "x", code: 132016 },
      { kind: "send_failed", campaignId: "winter", code: 131026 },
      { kind: "send_failed", code: 132016 },
      { kind: "send_failed", campaignId: "gone", code: 132016 },
      { kind: "template_status", template: "winter_sale", status: "PAUSED" },
    ] as const)
      expect(nameTemplateOfFailure(s, byId)).toBe(s);
  });
});
