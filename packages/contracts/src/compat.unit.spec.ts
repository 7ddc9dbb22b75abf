import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  backwardIncompatibilities,
  backwardTransitiveIncompatibilities,
  type JsonSchema,
} from "./compat.js";
import { jsonSchemaOf } from "./registered.js";

const json = (schema: z.ZodType): JsonSchema => jsonSchemaOf(schema);
const kinds = (reader: z.ZodType, writer: z.ZodType) =>
  backwardIncompatibilities(json(reader), json(writer)).map((i) => i.kind);

const base = z.object({ id: z.string(), count: z.number().int(), state: z.enum(["a", "b"]) });
const A = z.object({ type: z.literal("A"), x: z.string() });
const B = z.object({ type: z.literal("B"), y: z.number() });

describe("backward compatibility (new reader, old writer)", () => {
  describe("compatible", () => {
    it.each<[string, z.ZodType, z.ZodType]>([
      ["identical schemas", base, base],
      [
        "an optional property added to a closed model",
        base.extend({ note: z.string().optional() }),
        base,
      ],
      ["a required property made optional", base.extend({ id: z.string().optional() }), base],
      ["an enum value added", base.extend({ state: z.enum(["a", "b", "c"]) }), base],
      ["integer widened to number", base.extend({ count: z.number() }), base],
      ["a type widened to a union", base.extend({ id: z.union([z.string(), z.number()]) }), base],
      ["a property made nullable", base.extend({ id: z.string().nullable() }), base],
      [
        "an object made nullable",
        z.object({ o: z.object({ a: z.string() }).nullable() }),
        z.object({ o: z.object({ a: z.string() }) }),
      ],
      ["a maxLength removed", z.object({ s: z.string() }), z.object({ s: z.string().max(5) })],
      [
        "a maxLength raised",
        z.object({ s: z.string().max(10) }),
        z.object({ s: z.string().max(5) }),
      ],
      ["a minimum lowered", z.object({ n: z.number().min(0) }), z.object({ n: z.number().min(1) })],
      [
        "minItems removed",
        z.object({ l: z.array(z.string()) }),
        z.object({ l: z.array(z.string()).min(1) }),
      ],
      [
        "a discriminated-union branch added",
        z.discriminatedUnion("type", [A, B]),
        z.discriminatedUnion("type", [A]),
      ],
      ["a single object grown into a union", z.discriminatedUnion("type", [A, B]), A],
      [
        "an optional field added inside a branch",
        z.discriminatedUnion("type", [A.extend({ z: z.boolean().optional() }), B]),
        z.discriminatedUnion("type", [A, B]),
      ],
      ["a closed model opened", z.looseObject({ a: z.string() }), z.object({ a: z.string() })],
      [
        "a property removed from an open model",
        z.looseObject({}),
        z.looseObject({ a: z.string() }),
      ],
      [
        "a record value widened",
        z.object({ m: z.record(z.string(), z.unknown()) }),
        z.object({ m: z.record(z.string(), z.string()) }),
      ],
      ["a pattern removed", z.object({ s: z.string() }), z.object({ s: z.string().regex(/^a/) })],
      [
        "a description changed",
        z.object({ s: z.string().describe("new words") }),
        z.object({ s: z.string().describe("old") }),
      ],
    ])("%s", (_what, reader, writer) => {
      expect(kinds(reader, writer)).toEqual([]);
    });
  });

  describe("incompatible", () => {
    it.each<[string, z.ZodType, z.ZodType, string]>([
      [
        "a required property added",
        base.extend({ note: z.string() }),
        base,
        "REQUIRED_PROPERTY_ADDED",
      ],
      [
        "a property removed from a closed model",
        z.object({ id: z.string() }),
        z.object({ id: z.string(), x: z.string().optional() }),
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
      ],
      [
        "a property added to an open model",
        z.looseObject({ a: z.string(), b: z.string().optional() }),
        z.looseObject({ a: z.string() }),
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
      ],
      ["a type changed", base.extend({ id: z.number() }), base, "TYPE_NARROWED"],
      [
        "number narrowed to integer",
        z.object({ n: z.number().int() }),
        z.object({ n: z.number() }),
        "TYPE_NARROWED",
      ],
      [
        "a nullable made non-null",
        z.object({ s: z.string() }),
        z.object({ s: z.string().nullable() }),
        "TYPE_NARROWED",
      ],
      ["an enum value removed", base.extend({ state: z.enum(["a"]) }), base, "ENUM_ARRAY_NARROWED"],
      [
        "a const changed",
        z.object({ t: z.literal("x") }),
        z.object({ t: z.literal("y") }),
        "ENUM_ARRAY_NARROWED",
      ],
      [
        "a maxLength added",
        z.object({ s: z.string().max(5) }),
        z.object({ s: z.string() }),
        "MAX_LENGTH_ADDED",
      ],
      [
        "a maxLength lowered",
        z.object({ s: z.string().max(4) }),
        z.object({ s: z.string().max(5) }),
        "MAX_LENGTH_DECREASED",
      ],
      [
        "a minimum raised",
        z.object({ n: z.number().min(2) }),
        z.object({ n: z.number().min(1) }),
        "MINIMUM_INCREASED",
      ],
      [
        "a pattern added",
        z.object({ s: z.string().regex(/^a/) }),
        z.object({ s: z.string() }),
        "PATTERN_ADDED",
      ],
      ["a format added", z.object({ s: z.email() }), z.object({ s: z.string() }), "FORMAT_ADDED"],
      [
        "items narrowed",
        z.object({ l: z.array(z.number().int()) }),
        z.object({ l: z.array(z.number()) }),
        "TYPE_NARROWED",
      ],
      [
        "a union branch removed",
        z.discriminatedUnion("type", [A]),
        z.discriminatedUnion("type", [A, B]),
        "SUM_TYPE_NARROWED",
      ],
      [
        "a required field added inside a branch",
        z.discriminatedUnion("type", [A.extend({ z: z.boolean() }), B]),
        z.discriminatedUnion("type", [A, B]),
        "SUM_TYPE_NARROWED",
      ],
      [
        "an open model closed",
        z.object({ a: z.string() }),
        z.looseObject({ a: z.string() }),
        "ADDITIONAL_PROPERTIES_REMOVED",
      ],
      [
        "any value narrowed",
        z.object({ v: z.string() }),
        z.object({ v: z.unknown() }),
        "SCHEMA_NARROWED",
      ],
    ])("%s", (_what, reader, writer, kind) => {
      expect(kinds(reader, writer)).toContain(kind);
    });
  });

  it("reports the path of the problem", () => {
    const [issue] = backwardIncompatibilities(
      json(z.object({ outer: z.object({ inner: z.number() }) })),
      json(z.object({ outer: z.object({ inner: z.string() }) })),
    );
    expect(issue?.path).toBe("/properties/outer/properties/inner/type");
  });

  it("follows local $refs", () => {
    const writer: JsonSchema = {
      definitions: { S: { type: "string" } },
      type: "object",
      properties: { a: { $ref: "#/definitions/S" } },
    };
    const reader: JsonSchema = {
      definitions: { S: { type: "number" } },
      type: "object",
      properties: { a: { $ref: "#/definitions/S" } },
    };
    expect(backwardIncompatibilities(writer, writer)).toEqual([]);
    expect(backwardIncompatibilities(reader, writer).map((i) => i.kind)).toContain("TYPE_NARROWED");
  });

  it("reports keywords it does not understand when they change", () => {
    expect(
      backwardIncompatibilities(
        { type: "string", contentEncoding: "base64" },
        { type: "string" },
      ).map((i) => i.kind),
    ).toEqual(["UNKNOWN_KEYWORD_CHANGED"]);
  });
});

describe("backward-transitive", () => {
  it("checks the candidate against every earlier version, not only the last", () => {
    const v1 = json(z.object({ a: z.string(), b: z.string().optional() }));
    const v2 = json(
      z.object({ a: z.string(), b: z.string().optional(), c: z.string().optional() }),
    );
    // Dropping `b` from a closed model breaks v1 and v2 data alike.
    const v3 = json(z.object({ a: z.string(), c: z.string().optional() }));
    expect(backwardTransitiveIncompatibilities(v2, [v1])).toEqual([]);
    expect(backwardTransitiveIncompatibilities(v3, [v1, v2]).map((r) => r.version)).toEqual([1, 2]);
    // Compatible with the last version only: v2 tightened a limit that v1 data may exceed.
    const w1 = json(z.object({ s: z.string() }));
    const w2 = json(z.object({ s: z.string().max(5) }));
    const w3 = json(z.object({ s: z.string().max(5), t: z.string().optional() }));
    expect(backwardIncompatibilities(w3, w2)).toEqual([]);
    expect(backwardTransitiveIncompatibilities(w3, [w1, w2]).map((r) => r.version)).toEqual([1]);
  });
});
