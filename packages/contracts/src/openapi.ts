import { z } from "zod";
import { outboundContent, templateContent } from "./events/outbound.js";

/**
 * The JSON Schemas (2020-12, OpenAPI 3.1's dialect) of the send request's message shapes, for
 * docs/send-api.openapi.yaml's `components.schemas`: generated from the same zod schemas as the
 * registered ones, so the HTTP contract cannot drift from the Kafka contract. The script
 * `pnpm --filter @parley/contracts openapi` writes them into the document.
 */
export function sendApiSchemas(): Record<string, Record<string, unknown>> {
  const of = (schema: z.ZodType) => {
    const json = z.toJSONSchema(schema, {
      target: "draft-2020-12",
      io: "input",
      unrepresentable: "throw",
    });
    const { $schema: _dialect, ...rest } = json as Record<string, unknown>;
    return rest;
  };
  return {
    OutboundContent: {
      ...of(outboundContent),
      description:
        "One Cloud API message type (text, image, video, audio, document, sticker, location, contacts, reaction, interactive, template), camelCase; the `content` of SendRequested.",
    },
    TemplateContent: {
      ...of(templateContent),
      description:
        "A template message: name, language, components; the `templateFallback` of SendRequested, sent instead of free-form content when the service window is closed.",
    },
  };
}
