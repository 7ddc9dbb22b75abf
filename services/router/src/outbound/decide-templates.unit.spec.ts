import { type TemplateContent } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { CatalogUnavailableError, decide } from "./decide.js";
import {
  CONTACT,
  ctx,
  tplContent,
  orderUpdate,
  springSale,
  type RequestOptions,
  send,
  consent,
  spec,
} from "./decide.unit-helpers.js";
import { initialState } from "./evolve.js";

// The send decider on the template catalog: existence, status, parameters, category.

describe("outbound decider: the template catalog", () => {
  const sendTemplate = (t: TemplateContent, category: RequestOptions["category"] = "utility") =>
    send({ content: tplContent(t), category });

  it("rejects a template that does not exist, or not in that language", () => {
    spec()
      .given()
      .when(sendTemplate({ name: "nope", language: { code: "en_US" } }))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringContaining(`no template "nope"`) as unknown,
        },
      });
    spec()
      .given()
      .when(sendTemplate(orderUpdate("de")))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringContaining("en_US, fr") as unknown,
        },
      });
  });

  it("rejects a template that is not APPROVED", () => {
    spec()
      .given()
      .when(sendTemplate({ name: "paused_one", language: { code: "en_US" } }))
      .then({
        type: "SendRejected",
        data: {
          reason: "template_not_approved",
          detail: expect.stringContaining("PAUSED") as unknown,
        },
      });
  });

  it("rejects a wrong parameter count", () => {
    spec()
      .given()
      .when(sendTemplate(orderUpdate("en_US", ["A-1"])))
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining(
            "the body takes 2 parameter(s), the request gives 1",
          ) as unknown,
        },
      });
    spec()
      .given()
      .when(
        sendTemplate({
          name: "welcome_back",
          language: { code: "en_US" },
          components: [{ type: "body", parameters: [{ type: "text", text: "x" }] }],
        }),
      )
      .then({ type: "SendRejected", data: { reason: "invalid_request" } });
  });

  it("rejects positional parameters for a named template and the reverse", () => {
    spec(ctx())
      .given(consent("ConsentGranted", "marketing", -1))
      .when(
        sendTemplate(
          {
            name: "spring_sale",
            language: { code: "en_US" },
            components: [
              {
                type: "body",
                parameters: [
                  { type: "text", text: "Ana" },
                  { type: "text", text: "x" },
                ],
              },
            ],
          },
          "marketing",
        ),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("uses named parameters") as unknown,
        },
      });
    spec()
      .given()
      .when(
        sendTemplate({
          name: "order_update",
          language: { code: "en_US" },
          components: [
            {
              type: "body",
              parameters: [
                { type: "text", text: "A-1", parameterName: "order" },
                { type: "text", text: "shipped", parameterName: "state" },
              ],
            },
          ],
        }),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("uses positional parameters") as unknown,
        },
      });
  });

  it("checks media headers and button variables", () => {
    const receipt = (components: NonNullable<TemplateContent["components"]>): TemplateContent => ({
      name: "with_media",
      language: { code: "en_US" },
      components,
    });
    spec()
      .given()
      .when(sendTemplate(receipt([])))
      .then({
        type: "SendRejected",
        data: { reason: "invalid_request", detail: expect.stringContaining("IMAGE") as unknown },
      });
    spec()
      .given()
      .when(
        sendTemplate(
          receipt([{ type: "header", parameters: [{ type: "image", image: { id: "1" } }] }]),
        ),
      )
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("button 0 (URL)") as unknown,
        },
      });
    spec()
      .given()
      .when(
        sendTemplate(
          receipt([
            { type: "header", parameters: [{ type: "image", image: { id: "1" } }] },
            {
              type: "button",
              subType: "url",
              index: 0,
              parameters: [{ type: "text", text: "r-9" }],
            },
          ]),
        ),
      )
      .then({ type: "DispatchMessage" });
  });

  it("rejects a template whose catalog category differs from the request's", () => {
    spec()
      .given(consent("ConsentGranted", "all", -1))
      .when(sendTemplate(springSale, "utility"))
      .then({
        type: "SendRejected",
        data: {
          reason: "invalid_request",
          detail: expect.stringContaining("MARKETING") as unknown,
        },
      });
  });

  it("without a catalog for the WABA yet, the decision is retried, not rejected", () => {
    expect(() =>
      decide(sendTemplate(orderUpdate()), initialState(CONTACT), ctx({ catalog: undefined })),
    ).toThrow(CatalogUnavailableError);
  });
});
