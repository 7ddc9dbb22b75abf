import { z } from "zod";
import type { TopicSpec } from "./catalog.js";

export interface RegisteredSchema {
  readonly schemaType: "JSON";
  /** The JSON Schema (draft-07) text registered under the topic's subject. */
  readonly schema: string;
}

/**
 * The JSON Schema (draft-07) generated from a zod schema. Draft-07 because Apicurio's
 * compatibility checker cannot read 2020-12 (see docs/adr/0002-schema-format.md).
 */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: "draft-7", io: "output", unrepresentable: "throw" });
}

/** What gets registered for `topic.subject`, generated from the topic's zod schema. */
export function registeredSchema(topic: TopicSpec): RegisteredSchema {
  if (topic.events.length === 0) {
    throw new RangeError(`${topic.name} carries raw bytes and has no registered schema`);
  }
  return { schemaType: "JSON", schema: JSON.stringify(jsonSchemaOf(topic.schema)) };
}
