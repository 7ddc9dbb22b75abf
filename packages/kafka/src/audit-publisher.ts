import { randomUUID } from "node:crypto";
import { createEvent, type Catalog } from "@parley/contracts";
import type { EventProducer } from "./producer.js";

/** A sensitive operation as an API chassis reports it (`AuditEntry` of @parley/runtime). */
export interface AuditInput {
  readonly action: string;
  readonly principal: {
    readonly id: string;
    readonly method: "api-key" | "jwt";
    readonly role?: string | undefined;
  };
  readonly method: string;
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
  readonly status: number;
  readonly at: Date;
}

/**
 * Publishes each audited operation as AuditRecorded on the audit topic, keyed by the actor (one
 * actor's operations in order). The answer has already gone out: a failed publish is reported
 * to `onError` (log it loudly), never to the caller.
 */
export function createAuditPublisher({
  producer,
  catalog,
  service,
  onError,
}: {
  readonly producer: Pick<EventProducer, "encode" | "publishEncoded">;
  readonly catalog: Pick<Catalog, "topic">;
  readonly service: string;
  readonly onError: (error: unknown, input: AuditInput) => void;
}): (input: AuditInput) => void {
  const topic = catalog.topic("audit");
  return (input) => {
    const publish = async () => {
      const event = createEvent(
        "AuditRecorded",
        {
          action: input.action,
          service,
          actorId: input.principal.id,
          authMethod: input.principal.method,
          ...(input.principal.role === undefined ? {} : { role: input.principal.role }),
          method: input.method,
          route: input.route,
          target: { ...input.params },
          status: input.status,
        },
        { correlationId: randomUUID(), now: input.at },
      );
      const encoded = await producer.encode(topic, { key: input.principal.id, event });
      await producer.publishEncoded(topic, [encoded]);
    };
    publish().catch((error: unknown) => {
      onError(error, input);
    });
  };
}

/** A sensitive operation done outside an API: at the command line, or by a service itself. */
export interface AuditFact {
  /** e.g. `dlq.redriven`, `keys.changed`. */
  readonly action: string;
  readonly actor: { readonly id: string; readonly method: "cli" | "service" };
  /** What it acted on (ids, topic names; never secrets). */
  readonly target: Readonly<Record<string, string>>;
  /** Counts, filters, key ids; never secrets. */
  readonly details: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  readonly at: Date;
}

/**
 * Publishes one AuditFact as AuditRecorded on the audit topic (keyed by the actor) and resolves
 * once the broker has it, so a command can say whether its audit record was written.
 */
export async function publishAuditFact(
  {
    producer,
    catalog,
    service,
  }: {
    readonly producer: Pick<EventProducer, "encode" | "publishEncoded">;
    readonly catalog: Pick<Catalog, "topic">;
    readonly service: string;
  },
  fact: AuditFact,
): Promise<void> {
  const topic = catalog.topic("audit");
  const event = createEvent(
    "AuditRecorded",
    {
      action: fact.action,
      service,
      actorId: fact.actor.id,
      authMethod: fact.actor.method,
      target: { ...fact.target },
      details: Object.fromEntries(
        Object.entries(fact.details).map(
          ([k, v]): [string, string | number | boolean | string[]] =>
            typeof v === "object" ? [k, [...v]] : [k, v],
        ),
      ),
    },
    { correlationId: randomUUID(), now: fact.at },
  );
  const encoded = await producer.encode(topic, { key: fact.actor.id, event });
  await producer.publishEncoded(topic, [encoded]);
}
