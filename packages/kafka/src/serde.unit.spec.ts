import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildEvent,
  createCatalog,
  createEvent,
  isValidatedEvent,
  parseEvent,
} from "@parley/contracts";
import { InvalidEventError, PoisonRecordError, SchemaNotRegisteredError } from "./errors.js";
import type { RegistryClient } from "./registry.js";
import { createSerde } from "./serde.js";

// A stand-in for the registry's HTTP API that counts lookups; the wire format itself is
// covered against the real registry in the integration suites.
function fakeRegistry({ failFirst = false } = {}) {
  let lookups = 0;
  let decodes = 0;
  let decoding = 0;
  let mostDecodingAtOnce = 0;
  let fail = failFirst;
  const registry = {
    getRegistryIdBySchema: async () => {
      lookups++;
      await new Promise((r) => setTimeout(r, 20));
      if (fail) {
        fail = false;
        throw Object.assign(new Error("Subject not found"), {
          name: "ConfluentSchemaRegistryError",
        });
      }
      return 42;
    },
    encode: () => Promise.reject(new Error("the serde frames records itself")),
    /** The writer-schema path: Confluent framing, the JSON after the 5-byte header. */
    decode: async (bytes: Buffer) => {
      decodes++;
      decoding++;
      mostDecodingAtOnce = Math.max(mostDecodingAtOnce, decoding);
      await new Promise((r) => setTimeout(r, 5));
      decoding--;
      return JSON.parse(bytes.toString("utf8", 5)) as unknown;
    },
  };
  return {
    registry: registry as unknown as RegistryClient,
    lookups: () => lookups,
    decodes: () => decodes,
    mostDecodingAtOnce: () => mostDecodingAtOnce,
  };
}

/** A record in the Confluent wire format under schema id `id`. */
const framed = (id: number, value: unknown): Buffer => {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, Buffer.from(JSON.stringify(value))]);
};

const catalog = createCatalog();
const consent = catalog.topic("consent");
const event = () =>
  createEvent(
    "ConsentGranted",
    { contactId: "5511999990001", scope: "marketing", channel: "web", source: "api" },
    { correlationId: "c-1", now: new Date("2026-11-22T10:00:00Z") },
  );

describe("serde", () => {
  it("shares one registry lookup between concurrent first uses, then caches it", async () => {
    const fake = fakeRegistry();
    const serde = createSerde({ registry: fake.registry });
    await Promise.all(Array.from({ length: 25 }, () => serde.encode(consent, event())));
    await serde.encode(consent, event());
    expect(fake.lookups()).toBe(1);
  });

  it("forgets a failed lookup so the next use asks again", async () => {
    const fake = fakeRegistry({ failFirst: true });
    const serde = createSerde({ registry: fake.registry });
    await expect(serde.encode(consent, event())).rejects.toBeInstanceOf(SchemaNotRegisteredError);
    await expect(serde.encode(consent, event())).resolves.toBeInstanceOf(Buffer);
    expect(fake.lookups()).toBe(2);
  });

  it("refuses an event that is not valid for the topic, naming the field", async () => {
    const serde = createSerde({ registry: fakeRegistry().registry });
    const bad = { ...event(), data: { contactId: "5511999990001" } };
    await expect(serde.encode(consent, bad)).rejects.toThrow(InvalidEventError);
    await expect(serde.encode(consent, bad)).rejects.toThrow(/data\.scope/);
    await expect(serde.encode(catalog.topic("media"), event())).rejects.toThrow(InvalidEventError);
  });

  it("turns undecodable or invalid records into poison records", async () => {
    const serde = createSerde({ registry: fakeRegistry().registry });
    await expect(serde.decode(consent, null)).rejects.toBeInstanceOf(PoisonRecordError);
    await expect(serde.decode(consent, Buffer.from("{not json"))).rejects.toBeInstanceOf(
      PoisonRecordError,
    );
    await expect(serde.decode(consent, framed(42, { type: "Nope" }))).rejects.toBeInstanceOf(
      PoisonRecordError,
    );
    await expect(serde.decode(consent, framed(7, { type: "Nope" }))).rejects.toBeInstanceOf(
      PoisonRecordError,
    );
    const sent = event();
    expect(await serde.decode(consent, await serde.encode(consent, sent))).toEqual(sent);
  });
});

describe("serde wire format and single validation", () => {
  it("frames a record as magic byte 0, the schema id and the JSON, and reads it back without the registry client", async () => {
    const fake = fakeRegistry();
    const serde = createSerde({ registry: fake.registry });
    const sent = event();
    const bytes = await serde.encode(consent, sent);
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(42);
    expect(JSON.parse(bytes.toString("utf8", 5))).toEqual(sent);
    expect(await serde.decode(consent, bytes)).toEqual(sent);
    expect(fake.decodes()).toBe(0);
  });

  it("reads a record of another writer schema through the registry client, the first use of its id alone", async () => {
    const fake = fakeRegistry();
    const serde = createSerde({ registry: fake.registry });
    const sent = event();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => serde.decode(consent, framed(7, sent))),
    );
    expect(results.every((r) => JSON.stringify(r) === JSON.stringify(sent))).toBe(true);
    expect(fake.decodes()).toBe(20);
    // The first decode of id 7 ran by itself; the others only after it (then all at once).
    expect(fake.mostDecodingAtOnce()).toBe(19);
  });
});

describe("serde when the registry is down", () => {
  it("says the failure is retriable instead of blaming a missing schema", async () => {
    const registry = {
      getRegistryIdBySchema: () =>
        Promise.reject(
          Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8081"), { code: "ECONNREFUSED" }),
        ),
    } as unknown as RegistryClient;
    const attempt = createSerde({ registry }).encode(consent, event());
    await expect(attempt).rejects.not.toBeInstanceOf(SchemaNotRegisteredError);
    await expect(attempt).rejects.toMatchObject({ retriable: true });
  });
});

describe("serde: one contract check per event (issue 31)", () => {
  const meta = {
    correlationId: "c-1",
    now: new Date("2026-11-22T10:00:00Z"),
    eventId: "7d444840-9dc0-41d4-a716-446655440000",
  };
  /** The consent topic with its contract's checks counted. */
  const counted = () => {
    let checks = 0;
    const schema = consent.schema;
    // The topic's own schema (its JSON Schema is what the registry lookup sends), checks counted.
    const countingSchema = Object.create(schema, {
      safeParse: {
        value: (value: unknown) => {
          checks++;
          return schema.safeParse(value);
        },
      },
    }) as typeof schema;
    const topic = { ...consent, schema: countingSchema } as typeof consent;
    return { topic, checks: () => checks };
  };

  it("encodes a checked envelope without checking it again, as its unchecked copy is encoded after a check; valid or hostile, every copy is checked", async () => {
    const serde = createSerde({ registry: fakeRegistry().registry });
    const seen = { valid: 0, hostile: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          contactId: fc.oneof(
            fc.constantFrom("5511999990001", "16505551234", "447700900123"),
            fc.string(),
          ),
          scope: fc.constantFrom("marketing", "utility", "all", "nope", ""),
          channel: fc.constantFrom("web", "whatsapp", "import", 7),
          source: fc.constantFrom("api", "keyword", "import", null),
        }),
        async (data) => {
          const candidate = buildEvent("ConsentGranted", data as never, meta);
          const copy: unknown = JSON.parse(JSON.stringify(candidate));
          const { topic, checks } = counted();
          if (!consent.schema.safeParse(candidate).success) {
            // Hostile: createEvent refuses it, and so does encode, naming the contract.
            expect(() => createEvent("ConsentGranted", data as never, meta)).toThrow();
            await expect(serde.encode(topic, copy)).rejects.toBeInstanceOf(InvalidEventError);
            expect(checks()).toBe(1);
            seen.hostile++;
            return;
          }
          seen.valid++;
          const checked = createEvent("ConsentGranted", data as never, meta);
          expect(isValidatedEvent(checked)).toBe(true);
          expect(isValidatedEvent(copy)).toBe(false);
          expect(isValidatedEvent({ ...checked })).toBe(false);
          const fromCopy = await serde.encode(topic, copy);
          expect(checks()).toBe(1);
          expect(await serde.encode(topic, checked)).toEqual(fromCopy);
          expect(checks()).toBe(1);
          // A checked envelope read back from a store (parseEvent) is marked too.
          expect(await serde.encode(topic, parseEvent(copy))).toEqual(fromCopy);
          expect(checks()).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
    // Both kinds were tried (the generators mix them).
    expect(seen.valid).toBeGreaterThan(0);
    expect(seen.hostile).toBeGreaterThan(0);
  });

  it("breaks the shortcut on purpose: a tampered copy, or a checked event on a topic not carrying its type, is refused", async () => {
    const serde = createSerde({ registry: fakeRegistry().registry });
    const checked = event();
    expect(isValidatedEvent(checked)).toBe(true);
    const tampered = { ...checked, data: { ...checked.data, scope: "nope" } };
    await expect(serde.encode(consent, tampered)).rejects.toThrow(/data\.scope/);
    await expect(serde.encode(catalog.topic("media"), checked)).rejects.toBeInstanceOf(
      InvalidEventError,
    );
  });
});
