import { describe, expect, it } from "vitest";
import {
  BN,
  BN2,
  at,
  ctx,
  tplContent,
  orderUpdate,
  send,
  windowOpened,
  spec,
  open,
} from "./decide.unit-helpers.js";

// The send decider on the customer-service window: free-form content, the template fallback.

describe("outbound decider: the service window", () => {
  it("given no window, when free-form is requested, then outside_window saying it is closed", () => {
    spec()
      .given()
      .when(send())
      .then({
        type: "SendRejected",
        data: { reason: "outside_window", detail: expect.stringContaining("is closed") as unknown },
      });
  });

  it("judges the window with the decision's clock, not the one it was recorded with", () => {
    spec(ctx({ now: at(21) }))
      .given(open)
      .when(send())
      .then({
        type: "SendRejected",
        data: {
          reason: "outside_window",
          detail: expect.stringContaining(`closed at ${at(20).toISOString()}`) as unknown,
        },
      });
  });

  it("counts only the window with the requested business number", () => {
    spec()
      .given(windowOpened(at(20), BN2))
      .when(send())
      .then({ type: "SendRejected", data: { reason: "outside_window" } });
  });

  it("uses windows observed at decision time from the inbound state", () => {
    spec(ctx({ observedWindows: [{ businessNumber: BN, expiresAt: at(5).toISOString() }] }))
      .given()
      .when(send())
      .then({ type: "DispatchMessage" });
  });

  it("given a closed window and a template fallback, then the fallback is dispatched", () => {
    spec()
      .given()
      .when(send({ templateFallback: orderUpdate(), category: "service" }))
      .then({
        type: "DispatchMessage",
        data: {
          content: tplContent(orderUpdate()),
          usedTemplateFallback: true,
          category: "utility",
        },
      });
  });

  it("sends templates outside the window", () => {
    spec()
      .given()
      .when(send({ content: tplContent(orderUpdate()), category: "utility" }))
      .then({ type: "DispatchMessage", data: { usedTemplateFallback: false } });
  });

  it("checks the fallback against the catalog too", () => {
    spec()
      .given()
      .when(send({ templateFallback: { name: "paused_one", language: { code: "en_US" } } }))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringMatching(/^templateFallback: .*PAUSED/) as unknown,
        },
      });
  });
});

describe("outbound decider: the template fallback travels with free-form content", () => {
  const fallback = orderUpdate();

  it("puts an approved fallback into the dispatch of a free-form message, for a late 131047", () => {
    spec()
      .given(open)
      .when(send({ templateFallback: fallback }))
      .then({
        type: "DispatchMessage",
        data: {
          usedTemplateFallback: false,
          content: { type: "text" },
          templateFallback: fallback,
        },
      });
  });

  it("leaves out a fallback the catalog does not approve", () => {
    const [d] = spec()
      .given(open)
      .when(send({ templateFallback: { ...fallback, name: "paused_one", components: [] } }))
      .then({ type: "DispatchMessage", data: { usedTemplateFallback: false } });
    expect(d?.type === "DispatchMessage" ? d.data.templateFallback : "n/a").toBeUndefined();
  });

  it("carries no second fallback when the fallback is already what goes", () => {
    const [d] = spec()
      .given()
      .when(send({ templateFallback: fallback }))
      .then({ type: "DispatchMessage", data: { usedTemplateFallback: true } });
    expect(d?.type === "DispatchMessage" ? d.data.templateFallback : "n/a").toBeUndefined();
  });
});
