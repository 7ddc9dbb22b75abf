import {
  createCommandHandler,
  type CommandHandler,
  type CommandHandlerObserver,
  type CommandHandlerOptions,
  type HandlerStage,
  type Keyed,
  type RuntimeCommandHandler,
} from "@parley/decider";
import { retryOf, type RetryKind } from "@parley/errors";
import { contactDecider } from "../domain/contact.js";
import { conversationDecider } from "../domain/conversation.js";
import type {
  BucketTouched,
  ContactDropped,
  MessageLinked,
  Observed,
  WindowObserved,
} from "../domain/facts.js";
import type { RequestOutput } from "../domain/request.js";
import type { ConversationOutput } from "../domain/conversation.js";
import { messageDecider } from "../domain/message.js";
import { requestDecider, type FinalOf } from "../domain/request.js";
import { contactOf, route, type ReadModelName } from "../domain/route.js";
import { templateDecider } from "../domain/template.js";
import { coalesce } from "./coalesce.js";
import type { BucketMarks, ErasureIndex, ReadModelStores } from "./ports.js";

/** What the projector reports (counts and stage times; never a key: keys are phone numbers). */
export interface ProjectorObserver {
  /** A read model applied (`changed`) or recognised (`unchanged`) a command. */
  applied?(model: ReadModelName, changed: boolean): void;
  stage?(model: ReadModelName, stage: HandlerStage, ms: number): void;
  /** A read model's output was refused for good and dropped (the input is dead-lettered). */
  dropped?(model: ReadModelName, error: unknown): void;
}

export interface ProjectorOptions {
  readonly stores: ReadModelStores;
  readonly marks: BucketMarks;
  /** The one rule of a request's final word (`finalOutcome` of @parley/client). */
  readonly finalOf: FinalOf;
  /** The country of a contact id (ISO 3166 alpha-2), for the analytics' country dimension. */
  readonly countryOf: (contactId: string) => string | undefined;
  /**
   * Erasure's lookups (ADR 0012): without them `ContactErased` drops only the contact's own
   * document and events about an erased contact are not recognised.
   */
  readonly erasure?: ErasureIndex;
  readonly clock?: () => Date;
  /** Documents per read model kept in memory between events (least recently used go). */
  readonly cacheSize?: number;
  /** Keys per batch of each read model's handler. */
  readonly maxBatchKeys?: number;
  /**
   * The read models' published marks are written behind, those of this many milliseconds
   * together (the runtime's deferred marks, ADR 0010): a key saved several times meanwhile gets
   * one mark, and no apply waits for one. A crash before they are written republishes those
   * outboxes (message links, bucket marks), which the read models recognise. `flush` writes them.
   */
  readonly markDelayMs?: number;
  /**
   * The requests' and messages' outboxes are marked published by each key's next save, which
   * replaces the outbox, instead of a mark of their own (the runtime's markOnNextSave): one
   * write per key per batch. A key loaded again from the store (evicted from the cache, or after
   * a restart) hands its last outputs on again: a message link and bucket marks, which the
   * read models and the rollup recognise. `markDelayMs` is then ignored. Default false.
   */
  readonly markOnNextSave?: boolean;
  readonly observer?: ProjectorObserver;
}

export interface Projector {
  /**
   * Applies events to every read model they change and resolves once all of them, and what
   * they hand on (message links, windows, analytics marks), are stored. Idempotent: an event
   * applied again changes nothing. Rejects with the most retriable failure of the read models.
   */
  apply(events: readonly Consumed[]): Promise<void>;
}

/** The projector as the service runs it: `flush` writes the published marks held behind. */
export interface RuntimeProjector extends Projector {
  flush(): Promise<void>;
}

/** A consumed event: the fact and the trace it travelled with. */
export interface Consumed {
  readonly event: Observed["event"];
  readonly traceId?: string;
}

/** Contacts whose country is remembered (cleared whole when full: a few hundred KB at most). */
const COUNTRY_CACHE_SIZE = 5_000;

const RANK: Readonly<Record<RetryKind, number>> = { outage: 0, bounded: 1, never: 2 };

/** Waits for every call, then rejects with the most retriable failure (an outage first). */
async function settleAll(calls: readonly Promise<void>[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const result of await Promise.allSettled(calls)) {
    if (result.status === "fulfilled") continue;
    const error: unknown = result.reason;
    if (failure === undefined || RANK[retryOf(error)] < RANK[retryOf(failure.error)])
      failure = { error };
  }
  if (failure !== undefined) throw failure.error;
}

const bucketsOf = (outputs: readonly { readonly type: string }[]): string[] => [
  ...new Set(
    outputs.filter((o): o is BucketTouched => o.type === "BucketTouched").map((o) => o.bucket),
  ),
];

/**
 * The read models of one generation, each a decider run by the shared runtime (ADR 0010) over
 * its own store: requests, messages, contacts, conversations, templates. Outputs flow one way
 * (requests and conversations to messages, requests and messages to the analytics marks), so no
 * two keys ever wait for each other. Every read model is a join of its events, so the result is
 * the same in any order and with any repeats (invariant 11).
 */
export function createProjector({
  stores,
  marks,
  finalOf,
  countryOf,
  erasure,
  clock = () => new Date(),
  cacheSize = 2_000,
  maxBatchKeys = 500,
  markDelayMs,
  markOnNextSave = false,
  observer = {},
}: ProjectorOptions): RuntimeProjector {
  const observe = <C, E, O>(model: ReadModelName): CommandHandlerObserver<C, E, O> => ({
    decided: (_key, _command, events) => observer.applied?.(model, events.length > 0),
    stage: (stage, ms) => observer.stage?.(model, stage, ms),
    dropped: (_key, _event, error) => observer.dropped?.(model, error),
  });
  const common = {
    clock,
    cacheSize,
    maxBatchKeys,
    ...(markDelayMs === undefined ? {} : { markDelayMs }),
    markOnNextSave,
    context: none,
  };
  // A contact's country is a pure function of its id (libphonenumber's parse, the costliest
  // step of an event's routing): remembered for the contacts of recent events.
  const countries = new Map<string, string | undefined>();
  const countryOfCached = (contactId: string): string | undefined => {
    if (countries.has(contactId)) return countries.get(contactId);
    const country = countryOf(contactId);
    if (countries.size >= COUNTRY_CACHE_SIZE) countries.clear();
    countries.set(contactId, country);
    return country;
  };
  const runtimes: RuntimeCommandHandler<never>[] = [];
  const runtime = <S, C, E, O extends E>(
    options: CommandHandlerOptions<S, C, E, undefined, O>,
  ): CommandHandler<C> => {
    const handler = createCommandHandler(options);
    runtimes.push(handler);
    return handler;
  };
  const markOutputs = async (outputs: readonly { readonly type: string }[]) => {
    const buckets = bucketsOf(outputs);
    if (buckets.length > 0) await marks.mark(buckets);
  };

  const messages = coalesce(
    runtime({
      ...common,
      decider: messageDecider,
      store: stores.messages,
      publish: markOutputs,
      observer: observe("messages"),
    }),
  );
  const toMessages = (outputs: readonly (MessageLinked | WindowObserved)[]) =>
    outputs.length === 0
      ? Promise.resolve()
      : messages.handle(outputs.map((command) => ({ key: command.wamid, command })));
  const requests = coalesce(
    runtime({
      ...common,
      decider: requestDecider(finalOf),
      store: stores.requests,
      publish: async (outputs: readonly RequestOutput[]) => {
        const links = outputs.filter((o): o is MessageLinked => o.type === "MessageLinked");
        await settleAll([toMessages(links), markOutputs(outputs)]);
      },
      observer: observe("requests"),
    }),
  );
  const conversations = coalesce(
    runtime({
      ...common,
      decider: conversationDecider,
      store: stores.conversations,
      // Its outputs (windows) go to the messages read model only, a join indifferent to order
      // and repeats: handed on before the state is saved, no outbox, no mark (publishBeforeSave,
      // ADR 0010). Not so for requests and messages: their analytics bucket marks must follow
      // the save, since the rollup recomputes a bucket from the stored documents (a mark taken
      // before the save would be cleared on the old facts), so they keep the outbox.
      publishBeforeSave: true,
      publish: (outputs: readonly ConversationOutput[]) => toMessages(outputs),
      observer: observe("conversations"),
    }),
  );
  const contacts = coalesce(
    runtime({
      ...common,
      decider: contactDecider,
      store: stores.contacts,
      publish: nothing,
      observer: observe("contacts"),
    }),
  );
  const templates = coalesce(
    runtime({
      ...common,
      decider: templateDecider,
      store: stores.templates,
      publish: nothing,
      observer: observe("templates"),
    }),
  );

  const run = <C>(handler: CommandHandler<C>, commands: readonly Keyed<C>[]) =>
    commands.length === 0 ? Promise.resolve() : handler.handle(commands);

  return {
    flush: () => settleAll(runtimes.map((handler) => handler.flush())),
    async apply(events) {
      const named = [
        ...new Set(events.map(contactOf).filter((id): id is string => id !== undefined)),
      ];
      const erased =
        erasure === undefined || named.length === 0
          ? new Set<string>()
          : await erasure.erased(named);
      const observed = events.map((e): Observed => {
        const contactId = contactOf(e);
        const country = contactId === undefined ? undefined : countryOfCached(contactId);
        return {
          type: "Observed",
          ...e,
          ...(country === undefined ? {} : { country }),
          ...(contactId !== undefined && erased.has(contactId) ? { erased: true } : {}),
        };
      });
      const targets = observed.map(route);
      await settleAll([
        run(
          requests,
          targets.flatMap((t) => t.requests),
        ),
        run(
          messages,
          targets.flatMap((t) => t.messages),
        ),
        run(
          contacts,
          targets.flatMap((t) => t.contacts),
        ),
        run(
          conversations,
          targets.flatMap((t) => t.conversations),
        ),
        run(
          templates,
          targets.flatMap((t) => t.templates),
        ),
      ]);
      // An erasure reaches every document that names the person once the contact's tombstone
      // is stored: the contacts erased in this batch, and those erased while it was applied (a
      // replay reads the consent topic beside the others: the erasure's search may have run
      // before this batch's documents were stored, and this batch's lookup before the
      // tombstone was; looking again now closes that gap). Later events are flagged `erased`.
      if (erasure === undefined || named.length === 0) return;
      const now = await erasure.erased(named);
      const dropping = new Set(
        observed
          .filter((o) => o.event.type === "ContactErased")
          .map(contactOf)
          .filter((id): id is string => id !== undefined),
      );
      for (const id of now) if (!erased.has(id)) dropping.add(id);
      for (const contactId of dropping) {
        const found = await erasure.namedBy(contactId);
        const command: ContactDropped = { type: "ContactDropped", contactId };
        const keyed = (keys: readonly string[]) => keys.map((key) => ({ key, command }));
        await settleAll([
          run(requests, keyed(found.requests)),
          run(messages, keyed(found.messages)),
          run(conversations, keyed(found.conversations)),
        ]);
      }
    },
  };
}

function none(commands: readonly unknown[]): undefined[] {
  return commands.map(() => undefined);
}

function nothing(): Promise<void> {
  return Promise.resolve();
}
