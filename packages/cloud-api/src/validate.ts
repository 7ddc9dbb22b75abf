import { MessageValidationError } from "./errors.js";
import {
  limits,
  mediaKindOf,
  mediaLimits,
  STATIC_STICKER_MAX_BYTES,
  type MediaKind,
} from "./limits.js";
import type {
  ContactObject,
  InteractiveHeader,
  InteractiveObject,
  MediaRef,
  OutboundMessage,
  TemplateComponent,
  TemplateObject,
  TemplateParameter,
} from "./types.js";

/** Length in characters (code points), which is how Meta counts. */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function fail(field: string, problem: string): never {
  throw new MessageValidationError(field, problem);
}

function maxChars(field: string, value: string | undefined, max: number): void {
  if (value === undefined) return;
  const n = charLength(value);
  if (n > max) fail(field, `is ${n} characters, the limit is ${max}`);
}

function nonEmpty(field: string, value: string | undefined): void {
  if (value === undefined || value.trim().length === 0)
    fail(field, "is required and must not be blank");
}

function httpUrl(field: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(field, "is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") fail(field, "must be an http(s) URL");
}

function mediaRef(field: string, ref: MediaRef): void {
  const hasId = typeof ref.id === "string" && ref.id.length > 0;
  const hasLink = typeof ref.link === "string" && ref.link.length > 0;
  if (hasId === hasLink) fail(field, "needs exactly one of id or link");
  if (ref.link !== undefined && hasLink) httpUrl(`${field}.link`, ref.link);
}

function header(field: string, h: InteractiveHeader): void {
  switch (h.type) {
    case "text":
      nonEmpty(`${field}.text`, h.text);
      maxChars(`${field}.text`, h.text, limits.interactiveHeaderText);
      return;
    case "image": {
      mediaRef(`${field}.image`, h.image);
      return;
    }
    case "video": {
      mediaRef(`${field}.video`, h.video);
      return;
    }
    case "document": {
      mediaRef(`${field}.document`, h.document);
      return;
    }
  }
}

function unique(field: string, values: readonly string[], what: string): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) fail(`${field}[${i}]`, `duplicate ${what} "${v}"`);
    seen.add(v);
  });
}

function interactive(i: InteractiveObject): void {
  const f = "interactive";
  // Untrusted JSON (and content built from a contract whose body is optional) may have none.
  const loose = i as {
    readonly body?: { readonly text?: string };
    header?: unknown;
    footer?: unknown;
  };
  nonEmpty(`${f}.body.text`, loose.body?.text);
  maxChars(`${f}.body.text`, i.body.text, limits.interactiveBody);
  if (i.type === "location_request_message") {
    // Reference §1.6: a location request is body only.
    if (loose.header !== undefined) fail(`${f}.header`, "a location request takes no header");
    if (loose.footer !== undefined) fail(`${f}.footer`, "a location request takes no footer");
    return;
  }
  if (i.header) header(`${f}.header`, i.header);
  if (i.footer) maxChars(`${f}.footer.text`, i.footer.text, limits.interactiveFooter);
  switch (i.type) {
    case "button": {
      const buttons = i.action.buttons;
      if (buttons.length < limits.replyButtonsMin || buttons.length > limits.replyButtonsMax) {
        fail(
          `${f}.action.buttons`,
          `has ${buttons.length} buttons, allowed ${limits.replyButtonsMin} to ${limits.replyButtonsMax}`,
        );
      }
      buttons.forEach((b, n) => {
        const bf = `${f}.action.buttons[${n}].reply`;
        nonEmpty(`${bf}.title`, b.reply.title);
        maxChars(`${bf}.title`, b.reply.title, limits.replyButtonTitle);
        nonEmpty(`${bf}.id`, b.reply.id);
        maxChars(`${bf}.id`, b.reply.id, limits.replyButtonId);
        if (b.reply.id !== b.reply.id.trim()) fail(`${bf}.id`, "must not start or end with spaces");
      });
      unique(
        `${f}.action.buttons`,
        buttons.map((b) => b.reply.title),
        "title",
      );
      unique(
        `${f}.action.buttons`,
        buttons.map((b) => b.reply.id),
        "id",
      );
      return;
    }
    case "list": {
      const { button, sections } = i.action;
      nonEmpty(`${f}.action.button`, button);
      maxChars(`${f}.action.button`, button, limits.listButtonLabel);
      if (sections.length < 1 || sections.length > limits.listSectionsMax) {
        fail(
          `${f}.action.sections`,
          `has ${sections.length} sections, allowed 1 to ${limits.listSectionsMax}`,
        );
      }
      let total = 0;
      const ids: string[] = [];
      sections.forEach((s, n) => {
        const sf = `${f}.action.sections[${n}]`;
        if (sections.length > 1) nonEmpty(`${sf}.title`, s.title);
        maxChars(`${sf}.title`, s.title, limits.listSectionTitle);
        if (s.rows.length === 0) fail(`${sf}.rows`, "must have at least one row");
        s.rows.forEach((r, m) => {
          const rf = `${sf}.rows[${m}]`;
          nonEmpty(`${rf}.id`, r.id);
          maxChars(`${rf}.id`, r.id, limits.listRowId);
          nonEmpty(`${rf}.title`, r.title);
          maxChars(`${rf}.title`, r.title, limits.listRowTitle);
          maxChars(`${rf}.description`, r.description, limits.listRowDescription);
          ids.push(r.id);
        });
        total += s.rows.length;
      });
      if (total > limits.listRowsTotal)
        fail(
          `${f}.action.sections`,
          `has ${total} rows in total, the limit is ${limits.listRowsTotal}`,
        );
      unique(`${f}.action.sections.rows`, ids, "row id");
      return;
    }
    case "cta_url": {
      const p = i.action.parameters;
      nonEmpty(`${f}.action.parameters.display_text`, p.display_text);
      maxChars(`${f}.action.parameters.display_text`, p.display_text, limits.ctaDisplayText);
      httpUrl(`${f}.action.parameters.url`, p.url);
      return;
    }
    case "flow": {
      const p = i.action.parameters;
      const pf = `${f}.action.parameters`;
      if ((p.flow_message_version as string) !== "3")
        fail(`${pf}.flow_message_version`, 'must be "3"');
      if ((p.flow_id === undefined) === (p.flow_name === undefined))
        fail(pf, "needs exactly one of flow_id or flow_name");
      nonEmpty(`${pf}.flow_cta`, p.flow_cta);
      maxChars(`${pf}.flow_cta`, p.flow_cta, 30);
      return;
    }
    case "product":
      nonEmpty(`${f}.action.catalog_id`, i.action.catalog_id);
      nonEmpty(`${f}.action.product_retailer_id`, i.action.product_retailer_id);
      return;
    case "product_list":
      nonEmpty(`${f}.action.catalog_id`, i.action.catalog_id);
      i.action.sections.forEach((s, n) => {
        s.product_items.forEach((p, m) => {
          nonEmpty(
            `${f}.action.sections[${n}].product_items[${m}].product_retailer_id`,
            p.product_retailer_id,
          );
        });
      });
      return;
    case "catalog_message":
      if (i.action.parameters !== undefined)
        nonEmpty(
          `${f}.action.parameters.thumbnail_product_retailer_id`,
          i.action.parameters.thumbnail_product_retailer_id,
        );
      return;
    case "call_permission_request":
      return;
  }
}

function contacts(list: readonly ContactObject[]): void {
  if (list.length === 0) fail("contacts", "must contain at least one contact");
  list.forEach((c, n) => {
    nonEmpty(`contacts[${n}].name.formatted_name`, c.name.formatted_name);
    if (c.birthday !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(c.birthday))
      fail(`contacts[${n}].birthday`, "must be YYYY-MM-DD");
  });
}

const PARAM_NAME = /^[a-z_]+$/;

function templateParameter(field: string, p: TemplateParameter, named: boolean | undefined): void {
  if (p.type === "text" || p.type === "currency" || p.type === "date_time") {
    if (p.parameter_name !== undefined) {
      if (
        !PARAM_NAME.test(p.parameter_name) ||
        p.parameter_name.length > limits.templateParameterName
      ) {
        fail(
          `${field}.parameter_name`,
          `must be lowercase a-z and _, at most ${limits.templateParameterName} characters`,
        );
      }
    }
    if (named !== undefined && named !== (p.parameter_name !== undefined)) {
      fail(field, "mixes named and positional parameters in one component");
    }
  }
  switch (p.type) {
    case "text":
      if (p.text.length === 0) fail(`${field}.text`, "must not be empty");
      return;
    case "currency":
      nonEmpty(`${field}.currency.fallback_value`, p.currency.fallback_value);
      if (!/^[A-Z]{3}$/.test(p.currency.code))
        fail(`${field}.currency.code`, "must be an ISO 4217 code");
      if (!Number.isInteger(p.currency.amount_1000))
        fail(`${field}.currency.amount_1000`, "must be an integer (amount x 1000)");
      return;
    case "date_time":
      nonEmpty(`${field}.date_time.fallback_value`, p.date_time.fallback_value);
      return;
    case "image": {
      mediaRef(`${field}.image`, p.image);
      return;
    }
    case "video": {
      mediaRef(`${field}.video`, p.video);
      return;
    }
    case "document": {
      mediaRef(`${field}.document`, p.document);
      return;
    }
    case "location": {
      location(`${field}.location`, p.location.latitude, p.location.longitude);
      return;
    }
    case "payload":
    case "coupon_code":
    case "action":
      return;
  }
}

function templateComponent(field: string, c: TemplateComponent): void {
  if (c.type === "button") {
    if (!/^\d$/.test(c.index) || Number(c.index) > limits.templateButtonIndexMax)
      fail(`${field}.index`, 'must be a string "0" to "9"');
  }
  const first = c.parameters[0];
  const named =
    first && (first.type === "text" || first.type === "currency" || first.type === "date_time")
      ? first.parameter_name !== undefined
      : undefined;
  c.parameters.forEach((p, n) => {
    templateParameter(`${field}.parameters[${n}]`, p, named);
  });
}

function template(t: TemplateObject): void {
  nonEmpty("template.name", t.name);
  if (!/^[a-z0-9_]+$/.test(t.name) || t.name.length > limits.templateNameLength) {
    fail("template.name", "must be lowercase alphanumerics and _");
  }
  nonEmpty("template.language.code", t.language.code);
  const seen = new Set<string>();
  (t.components ?? []).forEach((c, n) => {
    const key = c.type === "button" ? `button:${c.index}` : c.type;
    if (seen.has(key)) fail(`template.components[${n}]`, `duplicate ${key} component`);
    seen.add(key);
    templateComponent(`template.components[${n}]`, c);
  });
}

function location(field: string, latitude: number, longitude: number): void {
  if (!Number.isFinite(latitude) || latitude < -90 || latitude > 90)
    fail(`${field}.latitude`, "must be between -90 and 90");
  if (!Number.isFinite(longitude) || longitude < -180 || longitude > 180)
    fail(`${field}.longitude`, "must be between -180 and 180");
}

/**
 * Checks a message against Meta's documented limits and throws a MessageValidationError
 * naming the first offending field. Builders call it; the client calls it before every send.
 */
const knownTypes = new Set([
  "text",
  "image",
  "video",
  "audio",
  "document",
  "sticker",
  "location",
  "contacts",
  "interactive",
  "template",
  "reaction",
]);

export function validateMessage(m: OutboundMessage): void {
  if ((m.messaging_product as string) !== "whatsapp")
    fail("messaging_product", 'must be "whatsapp"');
  // The type allows one of the two; untrusted JSON (the simulator's HTTP API) may hold both.
  const address = m as { readonly to?: unknown; readonly recipient?: unknown };
  if (address.to !== undefined && address.recipient !== undefined) {
    fail("recipient", "give either to (a phone number) or recipient (a BSUID), not both");
  }
  if (m.recipient === undefined) nonEmpty("to", m.to);
  else nonEmpty("recipient", m.recipient);
  if (m.biz_opaque_callback_data !== undefined) {
    const bytes = Buffer.byteLength(m.biz_opaque_callback_data, "utf8");
    if (bytes > limits.bizOpaqueCallbackDataBytes) {
      fail(
        "biz_opaque_callback_data",
        `is ${bytes} bytes, the limit is ${limits.bizOpaqueCallbackDataBytes}`,
      );
    }
  }
  if (m.context !== undefined) nonEmpty("context.message_id", m.context.message_id);
  // Messages may come from untrusted JSON (the simulator's HTTP API): check the shape the
  // types promise before reading into it. Every Cloud API type carries a field of its name.
  const type: unknown = m.type;
  if (typeof type !== "string" || !knownTypes.has(type)) {
    fail("type", `must be one of ${[...knownTypes].join(", ")}`);
  }
  const payload: unknown = (m as unknown as Record<string, unknown>)[type];
  if (payload === null || typeof payload !== "object") fail(type, `is required for type "${type}"`);
  switch (m.type) {
    case "text":
      nonEmpty("text.body", m.text.body);
      {
        maxChars("text.body", m.text.body, limits.textBody);
        return;
      }
    case "image":
      mediaRef("image", m.image);
      {
        maxChars("image.caption", m.image.caption, limits.caption);
        return;
      }
    case "video":
      mediaRef("video", m.video);
      {
        maxChars("video.caption", m.video.caption, limits.caption);
        return;
      }
    case "document":
      mediaRef("document", m.document);
      {
        maxChars("document.caption", m.document.caption, limits.caption);
        return;
      }
    case "audio":
      mediaRef("audio", m.audio);
      if ("caption" in m.audio) fail("audio.caption", "audio messages take no caption");
      return;
    case "sticker":
      mediaRef("sticker", m.sticker);
      if ("caption" in m.sticker) fail("sticker.caption", "sticker messages take no caption");
      return;
    case "location": {
      location("location", m.location.latitude, m.location.longitude);
      return;
    }
    case "contacts": {
      contacts(m.contacts);
      return;
    }
    case "interactive": {
      interactive(m.interactive);
      return;
    }
    case "template": {
      template(m.template);
      return;
    }
    case "reaction": {
      nonEmpty("reaction.message_id", m.reaction.message_id);
      return;
    }
  }
}

/** Checks an upload before it leaves: supported MIME type for the kind, and size within Meta's cap. */
export function validateMediaUpload(input: {
  readonly mimeType: string;
  readonly size: number;
  readonly animatedSticker?: boolean;
}): MediaKind {
  const kind = mediaKindOf(input.mimeType);
  if (kind === undefined)
    fail("media.type", `MIME type ${input.mimeType} is not supported by WhatsApp`);
  const max =
    kind === "sticker" && input.animatedSticker !== true
      ? STATIC_STICKER_MAX_BYTES
      : mediaLimits[kind].maxBytes;
  if (input.size > max) fail("media.file", `is ${input.size} bytes, the ${kind} limit is ${max}`);
  if (input.size === 0) fail("media.file", "is empty");
  return kind;
}
