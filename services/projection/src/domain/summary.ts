import type { InboundMessageContent, OutboundContent } from "@parley/contracts";
import { clip } from "./order.js";

/** Characters of text a read model keeps: enough to recognise a message, never the whole of it. */
export const PREVIEW_CHARS = 200;

/**
 * What a read model keeps of a message's content: its type, the template it used, and a short
 * preview of what a person wrote (personal data: the query API shows `preview` only to keys
 * with the `pii` scope). Media bytes, payloads and cards stay in the log.
 */
export interface ContentSummary {
  readonly type: string;
  readonly template?: string;
  readonly language?: string;
  /** Media kind's MIME type or file name, interactive kind, system notice kind, unknown type. */
  readonly detail?: string;
  readonly preview?: string;
}

const withPreview = (summary: ContentSummary, text: string | undefined): ContentSummary =>
  text === undefined || text === "" ? summary : { ...summary, preview: clip(text, PREVIEW_CHARS) };

/** The summary of an outbound message's content (SendRequested, DispatchMessage). */
export function outboundSummary(content: OutboundContent): ContentSummary {
  switch (content.type) {
    case "text":
      return withPreview({ type: "text" }, content.text.body);
    case "template":
      return {
        type: "template",
        template: clip(content.template.name, 512),
        language: clip(content.template.language.code, 32),
      };
    case "image":
      return withPreview({ type: "image" }, content.image.caption);
    case "video":
      return withPreview({ type: "video" }, content.video.caption);
    case "document":
      return withPreview(
        content.document.filename === undefined
          ? { type: "document" }
          : { type: "document", detail: clip(content.document.filename, 200) },
        content.document.caption,
      );
    case "interactive":
      return withPreview(
        { type: "interactive", detail: content.interactive.type },
        content.interactive.body?.text,
      );
    case "reaction":
      return { type: "reaction", preview: clip(content.reaction.emoji, 16) };
    default:
      return { type: content.type };
  }
}

/** The summary of an inbound message's content (InboundMessageReceived). */
export function inboundSummary(message: InboundMessageContent): ContentSummary {
  switch (message.type) {
    case "text":
      return withPreview({ type: "text" }, message.text.body);
    case "image":
    case "video":
    case "document": {
      const media =
        message.type === "image"
          ? message.image
          : message.type === "video"
            ? message.video
            : message.document;
      return withPreview(
        media.mimeType === undefined
          ? { type: message.type }
          : { type: message.type, detail: clip(media.mimeType, 100) },
        media.caption,
      );
    }
    case "audio":
      return message.audio.mimeType === undefined
        ? { type: "audio" }
        : { type: "audio", detail: clip(message.audio.mimeType, 100) };
    case "sticker":
      return { type: "sticker" };
    case "button":
      return withPreview({ type: "button" }, message.button.text);
    case "interactive": {
      const reply = message.interactive;
      if (reply.type === "button_reply" || reply.type === "list_reply")
        return withPreview({ type: "interactive", detail: reply.type }, reply.title);
      return {
        type: "interactive",
        detail: reply.type === "unknown" ? clip(reply.originalType, 100) : reply.type,
      };
    }
    case "reaction":
      return withPreview({ type: "reaction" }, message.reaction.emoji);
    case "order":
      return { type: "order", detail: `${String(message.order.productItems.length)} items` };
    case "system":
      return { type: "system", detail: clip(message.system.systemType, 100) };
    case "unknown":
      return { type: "unknown", detail: clip(message.originalType, 100) };
    default:
      return { type: message.type };
  }
}
