import { describe, expect, it } from "vitest";
import {
  audioMessage,
  contactsMessage,
  ctaUrlMessage,
  documentMessage,
  flowMessage,
  imageMessage,
  listMessage,
  locationMessage,
  locationRequestMessage,
  markReadRequest,
  reactionMessage,
  replyButtonsMessage,
  stickerMessage,
  templateMessage,
  textMessage,
  tpl,
  videoMessage,
} from "./builders.js";
import { MessageValidationError } from "./errors.js";
import type { OutboundMessage } from "./types.js";
import { validateMediaUpload, validateMessage } from "./validate.js";

const to = "+16505551234";

function rejects(fn: () => unknown, field: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MessageValidationError);
    expect((e as MessageValidationError).field).toBe(field);
    expect((e as MessageValidationError).retriable).toBe(false);
    return;
  }
  throw new Error(`expected a MessageValidationError on ${field}`);
}

describe("builders produce Meta's wire shapes", () => {
  it("text with preview, reply context and callback data", () => {
    expect(
      textMessage(to, "see https://ex.com", {
        previewUrl: true,
        replyTo: "wamid.X",
        callbackData: "req-1",
      }),
    ).toEqual({
      messaging_product: "whatsapp",
      to,
      context: { message_id: "wamid.X" },
      biz_opaque_callback_data: "req-1",
      type: "text",
      text: { body: "see https://ex.com", preview_url: true },
    });
  });

  it("media by id or link, with caption and filename", () => {
    expect(imageMessage(to, { id: "123" }, { caption: "hi" })).toMatchObject({
      type: "image",
      image: { id: "123", caption: "hi" },
    });
    expect(
      documentMessage(to, { link: "https://ex.com/a.pdf" }, { filename: "a.pdf", caption: "c" }),
    ).toMatchObject({
      type: "document",
      document: { link: "https://ex.com/a.pdf", filename: "a.pdf", caption: "c" },
    });
    expect(videoMessage(to, { id: "1" }).type).toBe("video");
    expect(audioMessage(to, { id: "1" })).toMatchObject({ audio: { id: "1" } });
    expect(stickerMessage(to, { link: "https://ex.com/s.webp" }).type).toBe("sticker");
  });

  it("location, contacts, reaction, location request", () => {
    expect(locationMessage(to, { latitude: 37.75, longitude: -122.42, name: "HQ" }).type).toBe(
      "location",
    );
    expect(
      contactsMessage(to, [
        {
          name: { formatted_name: "Jane Roe" },
          phones: [{ phone: "+1 650 555 1234", type: "WORK" }],
        },
      ]).type,
    ).toBe("contacts");
    expect(reactionMessage(to, "wamid.A", "")).toMatchObject({
      reaction: { message_id: "wamid.A", emoji: "" },
    });
    expect(locationRequestMessage(to, "Where are you?")).toMatchObject({
      interactive: { type: "location_request_message", action: { name: "send_location" } },
    });
  });

  it("interactive buttons, list, cta_url and flow", () => {
    const b = replyButtonsMessage(
      to,
      "Confirm?",
      [
        { id: "y", title: "Yes" },
        { id: "n", title: "No" },
      ],
      { header: { type: "text", text: "Order 42" }, footer: "Reply below" },
    );
    expect(b).toMatchObject({
      interactive: {
        type: "button",
        header: { type: "text", text: "Order 42" },
        footer: { text: "Reply below" },
      },
    });
    expect(
      listMessage(to, "Pick", "Choose", [{ title: "S", rows: [{ id: "r1", title: "Row" }] }]).type,
    ).toBe("interactive");
    expect(ctaUrlMessage(to, "Track", "Open", "https://ex.com/t")).toMatchObject({
      interactive: { action: { name: "cta_url" } },
    });
    expect(
      flowMessage(to, "Book", {
        flow_id: "1",
        flow_cta: "Book now",
        mode: "published",
        flow_action: "navigate",
      }),
    ).toMatchObject({
      interactive: {
        action: { name: "flow", parameters: { flow_message_version: "3", flow_id: "1" } },
      },
    });
  });

  it("templates with header, positional/named body params, currency, date_time and buttons", () => {
    const m = templateMessage(to, "order_update", "en_US", [
      tpl.header(tpl.image({ id: "9" })),
      tpl.body(
        tpl.text("Jess", "first_name"),
        tpl.currency("$10.99", "USD", 10990, "total"),
        tpl.dateTime("Feb 25", "day"),
      ),
      tpl.button("quick_reply", 0, tpl.payload("YES_42")),
      tpl.button("url", 1, tpl.text("track/42")),
    ]);
    expect(m).toMatchObject({
      type: "template",
      template: { name: "order_update", language: { code: "en_US", policy: "deterministic" } },
    });
    if (m.type !== "template") throw new Error("unreachable");
    expect(m.template.components?.[2]).toEqual({
      type: "button",
      sub_type: "quick_reply",
      index: "0",
      parameters: [{ type: "payload", payload: "YES_42" }],
    });
  });

  it("mark as read with a typing indicator", () => {
    expect(markReadRequest("wamid.IN", { typingIndicator: true })).toEqual({
      messaging_product: "whatsapp",
      status: "read",
      message_id: "wamid.IN",
      typing_indicator: { type: "text" },
    });
  });
});

describe("builders enforce Meta's limits before any call", () => {
  it("text body and caption lengths", () => {
    expect(() => textMessage(to, "x".repeat(4096))).not.toThrow();
    rejects(() => textMessage(to, "x".repeat(4097)), "text.body");
    rejects(() => textMessage(to, "  "), "text.body");
    rejects(() => imageMessage(to, { id: "1" }, { caption: "c".repeat(1025) }), "image.caption");
    rejects(
      () => documentMessage(to, { id: "1" }, { caption: "c".repeat(1025) }),
      "document.caption",
    );
  });

  it("counts characters, not UTF-16 units", () => {
    expect(() => textMessage(to, "😀".repeat(4096))).not.toThrow();
  });

  it("exactly one of id or link, and http(s) links", () => {
    rejects(() => {
      validateMessage({
        messaging_product: "whatsapp",
        to,
        type: "image",
        image: {},
      } as unknown as OutboundMessage);
    }, "image");
    rejects(() => imageMessage(to, { link: "ftp://ex.com/a.png" }), "image.link");
    rejects(() => {
      validateMessage({
        messaging_product: "whatsapp",
        to,
        type: "audio",
        audio: { id: "1", caption: "no" },
      } as unknown as OutboundMessage);
    }, "audio.caption");
  });

  it("biz_opaque_callback_data is at most 512 bytes", () => {
    expect(() => textMessage(to, "x", { callbackData: "a".repeat(512) })).not.toThrow();
    rejects(
      () => textMessage(to, "x", { callbackData: "é".repeat(257) }),
      "biz_opaque_callback_data",
    );
  });

  it("reply buttons: 1 to 3, title <= 20, unique", () => {
    const btn = (i: number) => ({ id: `b${i}`, title: `T${i}` });
    rejects(() => replyButtonsMessage(to, "b", []), "interactive.action.buttons");
    rejects(
      () => replyButtonsMessage(to, "b", [btn(1), btn(2), btn(3), btn(4)]),
      "interactive.action.buttons",
    );
    rejects(
      () => replyButtonsMessage(to, "b", [{ id: "a", title: "x".repeat(21) }]),
      "interactive.action.buttons[0].reply.title",
    );
    rejects(
      () =>
        replyButtonsMessage(to, "b", [
          { id: "a", title: "Same" },
          { id: "b", title: "Same" },
        ]),
      "interactive.action.buttons[1]",
    );
    rejects(
      () => replyButtonsMessage(to, "b", [{ id: " a", title: "x" }]),
      "interactive.action.buttons[0].reply.id",
    );
    rejects(
      () =>
        replyButtonsMessage(to, "b", [btn(1)], { header: { type: "text", text: "h".repeat(61) } }),
      "interactive.header.text",
    );
    rejects(
      () => replyButtonsMessage(to, "b", [btn(1)], { footer: "f".repeat(61) }),
      "interactive.footer.text",
    );
    rejects(() => replyButtonsMessage(to, "b".repeat(1025), [btn(1)]), "interactive.body.text");
  });

  it("lists: label <= 20, 1-10 sections, 10 rows in total, titles and descriptions", () => {
    const rows = (n: number, p: string) =>
      Array.from({ length: n }, (_, i) => ({ id: `${p}${i}`, title: `R${i}` }));
    rejects(
      () => listMessage(to, "b", "x".repeat(21), [{ rows: rows(1, "a") }]),
      "interactive.action.button",
    );
    rejects(() => listMessage(to, "b", "Go", []), "interactive.action.sections");
    rejects(
      () =>
        listMessage(to, "b", "Go", [
          { title: "A", rows: rows(6, "a") },
          { title: "B", rows: rows(5, "b") },
        ]),
      "interactive.action.sections",
    );
    expect(() =>
      listMessage(to, "b", "Go", [
        { title: "A", rows: rows(5, "a") },
        { title: "B", rows: rows(5, "b") },
      ]),
    ).not.toThrow();
    rejects(
      () => listMessage(to, "b", "Go", [{ rows: rows(1, "a") }, { rows: rows(1, "b") }]),
      "interactive.action.sections[0].title",
    );
    rejects(
      () => listMessage(to, "b", "Go", [{ rows: [{ id: "r", title: "t".repeat(25) }] }]),
      "interactive.action.sections[0].rows[0].title",
    );
    rejects(
      () =>
        listMessage(to, "b", "Go", [
          { rows: [{ id: "r", title: "t", description: "d".repeat(73) }] },
        ]),
      "interactive.action.sections[0].rows[0].description",
    );
    rejects(
      () => listMessage(to, "b", "Go", [{ rows: [{ id: "r".repeat(201), title: "t" }] }]),
      "interactive.action.sections[0].rows[0].id",
    );
  });

  it("cta_url and flow parameters", () => {
    rejects(
      () => ctaUrlMessage(to, "b", "x".repeat(21), "https://ex.com"),
      "interactive.action.parameters.display_text",
    );
    rejects(() => ctaUrlMessage(to, "b", "Open", "not a url"), "interactive.action.parameters.url");
    rejects(() => flowMessage(to, "b", { flow_cta: "Go" }), "interactive.action.parameters");
    rejects(
      () => flowMessage(to, "b", { flow_cta: "Go", flow_id: "1", flow_name: "n" }),
      "interactive.action.parameters",
    );
  });

  it("templates: names, button index, parameter names, no mixing", () => {
    rejects(() => templateMessage(to, "Bad-Name", "en_US"), "template.name");
    rejects(() => templateMessage(to, "ok", ""), "template.language.code");
    rejects(
      () => templateMessage(to, "ok", "en", [tpl.button("url", 10, tpl.text("x"))]),
      "template.components[0].index",
    );
    rejects(
      () => templateMessage(to, "ok", "en", [tpl.body(tpl.text("x", "First"))]),
      "template.components[0].parameters[0].parameter_name",
    );
    rejects(
      () => templateMessage(to, "ok", "en", [tpl.body(tpl.text("x", "a"), tpl.text("y"))]),
      "template.components[0].parameters[1]",
    );
    rejects(
      () => templateMessage(to, "ok", "en", [tpl.body(tpl.currency("$1", "usd", 1000))]),
      "template.components[0].parameters[0].currency.code",
    );
    rejects(
      () => templateMessage(to, "ok", "en", [tpl.body(tpl.text("a")), tpl.body(tpl.text("b"))]),
      "template.components[1]",
    );
  });

  it("location ranges and contacts", () => {
    rejects(() => locationMessage(to, { latitude: 91, longitude: 0 }), "location.latitude");
    rejects(() => contactsMessage(to, []), "contacts");
    rejects(
      () => contactsMessage(to, [{ name: { formatted_name: "" } }]),
      "contacts[0].name.formatted_name",
    );
  });

  it("media uploads: MIME per kind and size caps", () => {
    expect(validateMediaUpload({ mimeType: "image/jpeg", size: 5 * 1024 * 1024 })).toBe("image");
    rejects(
      () => validateMediaUpload({ mimeType: "image/jpeg", size: 5 * 1024 * 1024 + 1 }),
      "media.file",
    );
    rejects(() => validateMediaUpload({ mimeType: "image/gif", size: 10 }), "media.type");
    rejects(() => validateMediaUpload({ mimeType: "image/webp", size: 200 * 1024 }), "media.file");
    expect(
      validateMediaUpload({ mimeType: "image/webp", size: 200 * 1024, animatedSticker: true }),
    ).toBe("sticker");
    expect(validateMediaUpload({ mimeType: "audio/ogg; codecs=opus", size: 1000 })).toBe("audio");
    rejects(
      () => validateMediaUpload({ mimeType: "video/mp4", size: 16 * 1024 * 1024 + 1 }),
      "media.file",
    );
    expect(validateMediaUpload({ mimeType: "application/pdf", size: 100 * 1024 * 1024 })).toBe(
      "document",
    );
  });
});

describe("validateMessage on untrusted JSON", () => {
  const untrusted = (value: unknown): OutboundMessage => value as OutboundMessage;
  it("names a missing or unknown type instead of failing inside", () => {
    expect(() => {
      validateMessage(untrusted({ messaging_product: "whatsapp", to: "15551234567" }));
    }).toThrow(MessageValidationError);
    expect(() => {
      validateMessage(
        untrusted({
          messaging_product: "whatsapp",
          to: "15551234567",
          type: "hologram",
          hologram: {},
        }),
      );
    }).toThrow(/type: must be one of/);
  });
  it("takes a BSUID in recipient instead of to, exactly one of the two", () => {
    const text = { type: "text", text: { body: "hi" } };
    expect(() => {
      validateMessage(
        untrusted({ messaging_product: "whatsapp", recipient: "US.13491208655302741918", ...text }),
      );
    }).not.toThrow();
    expect(() => {
      validateMessage(
        untrusted({
          messaging_product: "whatsapp",
          to: "15551234567",
          recipient: "US.13491208655302741918",
          ...text,
        }),
      );
    }).toThrow(/recipient: give either to/);
    expect(() => {
      validateMessage(untrusted({ messaging_product: "whatsapp", ...text }));
    }).toThrow("to: is required");
    expect(() => {
      validateMessage(untrusted({ messaging_product: "whatsapp", recipient: " ", ...text }));
    }).toThrow("recipient: is required");
  });
  it("names the missing payload of a known type", () => {
    expect(() => {
      validateMessage(
        untrusted({ messaging_product: "whatsapp", to: "15551234567", type: "text" }),
      );
    }).toThrow('text: is required for type "text"');
  });
});
