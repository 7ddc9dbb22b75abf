import { graphErrorTable } from "@parley/cloud-api";
import { parseEvent } from "@parley/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sendErrorOf } from "../domain/failure.js";
import { dispatchMessage } from "./fixtures.spec-helpers.js";
import { failedTemplateOfAttempt, outcomesOf, sentTemplateOf } from "./outcomes.js";

const NUMBER = "300001";

describe("SendFailed names the template of a template error", () => {
  it("132015 and 132016 of a template send carry its name and language; the event validates", () => {
    const d = dispatchMessage(NUMBER, "r-1", "15550001111", {
      content: {
        type: "template",
        template: { name: "winter_sale", language: { code: "pt_BR" } },
      },
    });
    for (const code of [132015, 132016]) {
      const failed = outcomesOf(d, () => 0).failed(sendErrorOf(code, {}), 1, undefined);
      expect(failed.data.template).toEqual({ name: "winter_sale", language: "pt_BR" });
      expect(parseEvent(JSON.parse(JSON.stringify(failed)))).toMatchObject({
        data: { template: { name: "winter_sale" }, error: { code } },
      });
    }
  });

  it("a late fallback's template error names the fallback, not the free-form message", () => {
    const d = dispatchMessage(NUMBER, "r-2", "15550001112", {
      content: { type: "text", text: { body: "hi" } },
      templateFallback: { name: "back_in_stock", language: { code: "en" } },
    });
    const lf = { dispatchId: "x", failedWamid: "wamid.F", code: 131047 };
    const failed = outcomesOf(d, () => 0).failed(sendErrorOf(132015, {}), 2, lf);
    expect(failed.data.template?.name).toBe("back_in_stock");
    // Without a late fallback the text went: no template to name.
    expect(outcomesOf(d, () => 0).failed(sendErrorOf(132015, {}), 1, undefined).data.template).toBe(
      undefined,
    );
  });

  it("property: any code of Meta's table or unknown, any content: a template named exactly when the error is a template error of a template send", () => {
    const codes = graphErrorTable.map((r) => r.code);
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...codes), fc.integer({ min: -1, max: 2_000_000 })),
        fc.boolean(),
        fc.stringMatching(/^[a-z0-9_]{1,40}$/),
        (code, isTemplate, name) => {
          const d = dispatchMessage(NUMBER, "r-3", "15550001113", {
            content: isTemplate
              ? { type: "template", template: { name, language: { code: "en_US" } } }
              : { type: "text", text: { body: "hello" } },
          });
          const error = sendErrorOf(code, {});
          const failed = outcomesOf(d, () => 0).failed(error, 1, undefined);
          const expected =
            isTemplate && error.errorClass === "template" ? { name, language: "en_US" } : undefined;
          expect(failed.data.template).toEqual(expected);
          expect(() => parseEvent(JSON.parse(JSON.stringify(failed)))).not.toThrow();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("an async failure (the dispatch gone by then) names the template the attempt record kept at the claim", () => {
    const tpl = dispatchMessage(NUMBER, "r-4", "15550001114", {
      content: { type: "template", template: { name: "flash_sale", language: { code: "de" } } },
    });
    const kept = sentTemplateOf(tpl.data);
    expect(kept).toEqual({ template: { name: "flash_sale", language: "de" } });
    const record = { dispatch: undefined, template: kept.template };
    for (const code of [132015, 132016])
      expect(failedTemplateOfAttempt(sendErrorOf(code, {}), record, false)).toEqual(kept);
    // Not a template error, or a late fallback went instead (its dispatch is the one kept): none.
    expect(failedTemplateOfAttempt(sendErrorOf(131049, {}), record, false)).toEqual({});
    expect(failedTemplateOfAttempt(sendErrorOf(132015, {}), record, true)).toEqual({});
    // A free-form send keeps no template.
    expect(
      sentTemplateOf(
        dispatchMessage(NUMBER, "r-5", "15550001115", {
          content: { type: "text", text: { body: "hello" } },
        }).data,
      ),
    ).toEqual({});
    // A kept dispatch (a late fallback) decides, as on the synchronous path.
    const text = dispatchMessage(NUMBER, "r-6", "15550001116", {
      content: { type: "text", text: { body: "hi" } },
      templateFallback: { name: "back_in_stock", language: { code: "en" } },
    });
    expect(
      failedTemplateOfAttempt(
        sendErrorOf(132015, {}),
        { dispatch: text, template: undefined },
        true,
      ),
    ).toEqual({ template: { name: "back_in_stock", language: "en" } });
  });
});
