import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createCatalog } from "./catalog.js";
import { backwardTransitiveIncompatibilities, type JsonSchema } from "./compat.js";
import { envelopeOf } from "./envelope.js";
import { registeredSchema } from "./registered.js";

// Plain fetch: the Confluent REST API is all this spec needs, and @parley/kafka depends on this
// package (importing it back would make a project-reference cycle).
const CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

describe("schema evolution against the real registry (BACKWARD_TRANSITIVE)", () => {
  let stack: Stack;
  let registry: string;

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${registry}${path}`, {
      method,
      headers: { "content-type": CONTENT_TYPE, accept: CONTENT_TYPE },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === "" ? undefined : (JSON.parse(text) as unknown),
    };
  };
  const register = (subject: string, schema: { schemaType: string; schema: string }) =>
    call("POST", `/subjects/${encodeURIComponent(subject)}/versions`, schema);

  beforeAll(async () => {
    stack = await startStack();
    registry = stack.schemaRegistryUrl.replace(/\/+$/, "");
  });
  afterAll(async () => {
    await stack.stop();
  });

  it("registers every catalog subject as generated", async () => {
    const catalog = createCatalog({ prefix: `${stack.namespace("contracts").id}.` });
    for (const topic of catalog.topics) {
      await call("PUT", `/config/${encodeURIComponent(topic.subject)}`, {
        compatibility: "BACKWARD_TRANSITIVE",
      });
      const result = await register(topic.subject, registeredSchema(topic));
      expect(result, topic.subject).toMatchObject({
        status: 200,
        body: { id: expect.any(Number) as number },
      });
    }
  });

  it("accepts a compatible change and refuses an incompatible one, as the local check does", async () => {
    const subject = `${stack.namespace("compat").topic("parley.probe")}-value`;
    const config = await call("PUT", `/config/${encodeURIComponent(subject)}`, {
      compatibility: "BACKWARD_TRANSITIVE",
    });
    expect(config.status).toBe(200);

    const data = z.object({ contactId: z.string(), body: z.string() });
    const version = (d: z.ZodObject) => {
      const schema = z.discriminatedUnion("type", [envelopeOf("ProbeSent", d, "probe")]);
      return {
        schemaType: "JSON" as const,
        schema: JSON.stringify(z.toJSONSchema(schema, { target: "draft-7" })),
      };
    };
    const v1 = version(data);
    const v2 = version(data.extend({ note: z.string().optional() }));
    const incompatible = [
      [
        "a required field added",
        version(data.extend({ note: z.string().optional(), lang: z.string() })),
      ],
      ["a field's type changed", version(data.extend({ note: z.number().optional() }))],
      [
        "a field removed from a closed model",
        version(z.object({ contactId: z.string(), note: z.string().optional() })),
      ],
    ] as const;
    const parsed = (s: { schema: string }) => JSON.parse(s.schema) as JsonSchema;

    expect((await register(subject, v1)).status).toBe(200);
    expect(backwardTransitiveIncompatibilities(parsed(v2), [parsed(v1)])).toEqual([]);
    expect((await register(subject, v2)).status).toBe(200);

    for (const [what, candidate] of incompatible) {
      expect(
        backwardTransitiveIncompatibilities(parsed(candidate), [parsed(v1), parsed(v2)]),
        what,
      ).not.toEqual([]);
      const refused = await register(subject, candidate);
      expect(refused.status, what).toBe(409);
      const check = await call(
        "POST",
        `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`,
        candidate,
      );
      expect(check.body, what).toMatchObject({ is_compatible: false });
    }
    const versions = await call("GET", `/subjects/${encodeURIComponent(subject)}/versions`);
    expect(versions.body).toEqual([1, 2]);
  });
});
