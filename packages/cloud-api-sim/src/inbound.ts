// Simulated users writing to a business number: the inbound webhook of every message type
// (reference §4.4), the service window it opens, and inbound media.
import { createHash } from "node:crypto";
import type { InboundMessage } from "@parley/cloud-api";
import { webhookError } from "./graph-errors.js";
import { wamid } from "./ids.js";
import type { MediaApi } from "./media.js";
import { sampleContent } from "./media-content.js";
import type { Quotas } from "./quotas.js";
import type { Recipients } from "./recipients.js";
import { bounded, DAY, isObject, type Engine, type NumberState } from "./state.js";
import type { InboundContent } from "./types.js";

export type UserSends = (
  waId: string,
  content: InboundContent,
  options?: { readonly phoneNumberId?: string; readonly replyTo?: string },
) => { wamid: string; message: InboundMessage };

/** The flow token and wamid of the latest flow message this number sent the user, if any. */
function latestFlow(
  engine: Engine,
  pn: NumberState,
  waId: string,
): { wamid: string; flowToken: string | undefined } | undefined {
  let found: { wamid: string; flowToken: string | undefined } | undefined;
  for (const m of engine.messages.values()) {
    if (m.phoneNumberId !== pn.id || m.waId !== waId || m.type !== "interactive") continue;
    const body = JSON.parse(m.raw) as { interactive?: unknown };
    const i = body.interactive;
    if (!isObject(i) || i["type"] !== "flow" || !isObject(i["action"])) continue;
    const parameters = i["action"]["parameters"];
    const token = isObject(parameters) ? parameters["flow_token"] : undefined;
    found = { wamid: m.wamid, flowToken: typeof token === "string" ? token : undefined };
  }
  return found;
}

export function createUserSends(
  engine: Engine,
  quotas: Quotas,
  recipients: Recipients,
  mediaApi: MediaApi,
): UserSends {
  const { clock, config, rng } = engine;
  return (waIdInput, content, options = {}) => {
    const pn = engine.numbers.get(options.phoneNumberId ?? config.defaultNumberId);
    if (!pn) throw new RangeError(`unknown phone number id ${options.phoneNumberId ?? ""}`);
    const waId = recipients.canonicalWaId(waIdInput.replace(/\D/g, ""));
    const user = recipients.ensureUser(waId);
    const now = clock.now();
    quotas.takeThroughput(pn, now, true); // inbound counts toward the number's throughput, but is never refused
    pn.windows.set(waId, now);
    bounded(pn.windows, 500_000);
    const id = wamid(waId, false, rng.ids);
    // A flow reply always quotes the flow message it answers (reference §4.4).
    const flow = content.type === "flow_reply" ? latestFlow(engine, pn, waId) : undefined;
    const replyTo = options.replyTo ?? flow?.wamid;
    const common = {
      from: waId,
      from_user_id: user.userId,
      id,
      timestamp: String(Math.floor(now / 1000)),
      ...(replyTo !== undefined ? { context: { from: pn.display, id: replyTo } } : {}),
    };
    let message: InboundMessage;
    switch (content.type) {
      case "text":
        message = { ...common, type: "text", text: { body: content.body } };
        break;
      case "stop":
        message = { ...common, type: "text", text: { body: "STOP" } };
        break;
      case "image":
      case "video":
      case "audio":
      case "document":
      case "sticker": {
        const data = Buffer.from(
          content.data ?? sampleContent(content.mimeType, `${content.type}:${id}`),
        );
        const item = mediaApi.store(pn.id, content.mimeType, data, 7 * DAY, content.filename);
        message = {
          ...common,
          type: content.type,
          [content.type]: {
            id: item.id,
            mime_type: content.mimeType,
            sha256: createHash("sha256").update(data).digest("base64"),
            ...(content.caption !== undefined ? { caption: content.caption } : {}),
            ...(content.filename !== undefined ? { filename: content.filename } : {}),
            ...(content.type === "audio" ? { voice: content.voice ?? false } : {}),
            ...(content.type === "sticker" ? { animated: false } : {}),
          },
        };
        break;
      }
      case "location":
        message = {
          ...common,
          type: "location",
          location: {
            latitude: content.latitude,
            longitude: content.longitude,
            ...(content.name !== undefined ? { name: content.name } : {}),
            ...(content.address !== undefined ? { address: content.address } : {}),
          },
        };
        break;
      case "contacts":
        message = { ...common, type: "contacts", contacts: content.contacts };
        break;
      case "button":
        message = {
          ...common,
          type: "button",
          button: { text: content.text, payload: content.payload },
        };
        break;
      case "button_reply":
        message = {
          ...common,
          type: "interactive",
          interactive: {
            type: "button_reply",
            button_reply: { id: content.id, title: content.title },
          },
        };
        break;
      case "list_reply":
        message = {
          ...common,
          type: "interactive",
          interactive: {
            type: "list_reply",
            list_reply: {
              id: content.id,
              title: content.title,
              ...(content.description !== undefined ? { description: content.description } : {}),
            },
          },
        };
        break;
      case "flow_reply": {
        const flowToken = content.flowToken ?? flow?.flowToken;
        message = {
          ...common,
          type: "interactive",
          interactive: {
            type: "nfm_reply",
            nfm_reply: {
              name: "flow",
              body: content.body ?? "Sent",
              // A JSON string, as Meta sends it, with the flow token of the flow message.
              response_json: JSON.stringify({
                ...content.response,
                ...(flowToken !== undefined ? { flow_token: flowToken } : {}),
              }),
            },
          },
        };
        break;
      }
      case "reaction":
        message = {
          ...common,
          type: "reaction",
          reaction: { message_id: content.messageId, emoji: content.emoji },
        };
        break;
      case "unsupported":
        message = {
          ...common,
          type: "unsupported",
          errors: [webhookError(131051, "Message type is currently not supported.")],
        };
        break;
    }
    engine.inbound.set(id, { wamid: id, phoneNumberId: pn.id, waId, at: now, readAt: undefined });
    bounded(engine.inbound, config.retainMessages);
    engine.emitter.schedule(
      {
        kind: "message",
        wabaId: pn.wabaId,
        phoneNumberId: pn.id,
        displayPhoneNumber: pn.display,
        message,
        contact: { profile: { name: user.name }, wa_id: waId, user_id: user.userId },
      },
      now,
    );
    return { wamid: id, message };
  };
}
