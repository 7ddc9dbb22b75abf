import type { OutboundContent } from "@parley/contracts";
import { checkedGraphMessage } from "@parley/graph-content";

/**
 * Checks `content` against Meta's documented rules for a send to `to`, replying to `replyTo`,
 * with `callbackData` in biz_opaque_callback_data; throws MessageValidationError naming the field.
 * The body checked is the one the sender posts: both build it with `@parley/graph-content`.
 */
export function checkContent(
  content: OutboundContent,
  { to, replyTo, callbackData }: { to: string; replyTo?: string | undefined; callbackData: string },
): void {
  checkedGraphMessage({ to, content, replyTo, bizOpaqueCallbackData: callbackData });
}
