import type { OutboundMessage } from "@parley/cloud-api";
import type { EventData } from "@parley/contracts";

/** Keys whose wire name is not the plain snake_case of the contract's camelCase name. */
const renamed: Readonly<Record<string, string>> = { amount1000: "amount_1000" };

const snake = (key: string): string =>
  renamed[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The contract's camelCase content as Graph's snake_case, undefined fields dropped. */
function wire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(wire);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[snake(k)] = wire(v);
  return out;
}

type Interactive = Extract<
  EventData<"DispatchMessage">["content"],
  { type: "interactive" }
>["interactive"];

/** Graph nests interactive actions where the contract keeps them flat. */
function interactive(i: Interactive): unknown {
  const common = {
    type: i.type,
    ...(i.header ? { header: wire(i.header) } : {}),
    ...(i.body ? { body: i.body } : {}),
    ...(i.footer ? { footer: i.footer } : {}),
  };
  switch (i.type) {
    case "button":
      return {
        ...common,
        action: { buttons: i.buttons.map((b) => ({ type: "reply", reply: b })) },
      };
    case "list":
      return { ...common, action: { button: i.button, sections: wire(i.sections) } };
    case "cta_url":
      return {
        ...common,
        action: { name: "cta_url", parameters: { display_text: i.displayText, url: i.url } },
      };
    case "flow": {
      const { type: _t, header: _h, body: _b, footer: _f, ...parameters } = i;
      return { ...common, action: { name: "flow", parameters: wire(parameters) } };
    }
    case "location_request_message":
      return { ...common, action: { name: "send_location" } };
    case "product":
      return {
        ...common,
        action: { catalog_id: i.catalogId, product_retailer_id: i.productRetailerId },
      };
    case "product_list":
      return { ...common, action: { catalog_id: i.catalogId, sections: wire(i.sections) } };
    case "catalog_message":
      return {
        ...common,
        action: {
          name: "catalog_message",
          ...(i.thumbnailProductRetailerId !== undefined
            ? { parameters: { thumbnail_product_retailer_id: i.thumbnailProductRetailerId } }
            : {}),
        },
      };
    case "call_permission_request":
      return { ...common, action: { name: "call_permission_request" } };
  }
}

/**
 * The Graph send body for a dispatch: `biz_opaque_callback_data` carries the request id so a
 * status webhook can reconcile a send whose answer was lost. Pure; the Graph client validates it.
 */
export function graphMessageOf(d: EventData<"DispatchMessage">): OutboundMessage {
  const c = d.content;
  const payload =
    c.type === "interactive"
      ? interactive(c.interactive)
      : wire((c as Record<string, unknown>)[c.type]);
  return {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    to: d.to,
    type: c.type,
    [c.type]: payload,
    ...(d.replyTo !== undefined ? { context: { message_id: d.replyTo } } : {}),
    biz_opaque_callback_data: d.bizOpaqueCallbackData,
  } as unknown as OutboundMessage;
}
