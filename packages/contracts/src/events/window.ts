import { z } from "zod";
import { contactId, wamid } from "./shared.js";

export const conversationWindowOpened = z.object({
  contactId,
  openedBy: wamid.describe("The inbound message that opened the window."),
  expiresAt: z.iso.datetime(),
  freeEntryPoint: z
    .boolean()
    .describe("The contact came from a Click-to-WhatsApp ad or Page CTA (72 h free pricing)."),
});

export const conversationWindowExtended = z.object({
  contactId,
  extendedBy: wamid,
  previousExpiresAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
