import { z } from "zod";
import { contactId, wamid } from "./shared.js";

const consent = {
  contactId,
  scope: z.enum(["all", "marketing"]).describe("What the consent covers."),
  channel: z.enum(["whatsapp", "web", "app", "phone", "in_person", "paper", "other"]),
  source: z
    .enum(["keyword", "user_preferences", "api", "import", "operator"])
    .describe("keyword: a STOP/START reply; user_preferences: Meta's webhook."),
  businessName: z.string().optional().describe("The business name shown to the contact."),
  recordedBy: z.string().optional().describe("Who recorded it (service, operator or API client)."),
  evidence: z
    .object({
      wamid: wamid.optional(),
      text: z.string().optional(),
      url: z.string().optional(),
      note: z.string().optional(),
    })
    .optional(),
};

export const consentGranted = z.object(consent);
export const consentRevoked = z.object(consent);
