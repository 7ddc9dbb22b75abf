import { retryOf } from "@parley/errors";
import type { Decider, Keyed } from "./decider.js";
import { DecisionConflictError, UnpublishableEventError } from "./errors.js";
import { createDeferredMarks } from "./deferred-marks.js";
import { tryTogether } from "./isolate.js";
import {
  asError,
  checkOptions,
  RANK,
  type Entry,
  type Outcome,
  type Pending,
  type Refused,
} from "./handler-types.js";
import { createKeyDecider } from "./decide-key.js";
import { createKeyedLock } from "./keyed-lock.js";
import { createLru } from "./lru.js";
import type { Publish, PublishedMark, StateStore, StateWrite, Stored } from "./store.js";

/**
 * Builds each command's decide context for one batch, in the order given (one call per batch, so
 * its lookups can be batched too). An Error in place of a context fails that command's caller
 * only; a thrown error fails the batch.
 */
export type ContextLoader<Command, Context> = (
  commands: readonly Keyed<Command>[],
  now: Date,
) => readonly (Context | Error)[] | Promise<readonly (Context | Error)[]>;

/** One command's decision, as `reconsider` sees it. */
export interface Decision<Command, Event, Context> {
  readonly key: string;
  readonly command: Command;
  readonly events: readonly Event[];
  readonly context: Context;
}

/**
 * A second look at a decision, once per command and attempt: returns a fresher context to decide
 * that command again with (e.g. a template catalog synced after a template was not found), or
 * undefined to keep the decision.
 */
export type Reconsider<Command, Event, Context> = (
  decision: Decision<Command, Event, Context>,
) => Context | undefined | Promise<Context | undefined>;

/** wait: a call's time until its key's turn (per key); the rest are per batch. */
export type HandlerStage = "wait" | "load" | "context" | "decide" | "save" | "publish" | "mark";

/** What the handler reports for metrics and logs. Keys may be contact ids: never a label. */
export interface CommandHandlerObserver<Command, Event, Output> {
  /** A command was decided and its outputs are durable and published; `events` may be empty. */
  decided?(key: string, command: Command, events: readonly Event[]): void;
  /** Another writer saved the key first; its commands are decided again. */
  conflict?(key: string): void;
  /** The publish port refused an outbox event for good; it was dropped from the outbox. */
  dropped?(key: string, event: Output, error: unknown): void;
  stage?(stage: HandlerStage, ms: number): void;
}

export interface CommandHandlerOptions<State, Command, Event, Context, Output extends Event> {
  readonly decider: Decider<State, Command, Event, Context, Output>;
  readonly store: StateStore<State, Output>;
  readonly publish: Publish<Output>;
  readonly context: ContextLoader<Command, Context>;
  readonly clock?: () => Date;
  /** Bounds the state before each save (forget what is too old or too many). */
  readonly retain?: (state: State, now: Date) => State;
  readonly reconsider?: Reconsider<Command, Event, Context>;
  /** Lost version races in a row before a caller fails with DecisionConflictError. */
  readonly maxConflicts?: number;
  /**
   * Keys whose state stays in memory between calls (least recently used go first); 0 reads the
   * store every time. A stale entry is harmless: its write loses the version check.
   */
  readonly cacheSize?: number;
  /** Batches (load, decide, save, publish, mark) running at once; the next gathers meanwhile. */
  readonly batchesInFlight?: number;
  /** Keys at most in one batch. */
  readonly maxBatchKeys?: number;
  /**
   * Unset: a batch's callers resolve once its outboxes are marked published (one more round trip
   * per batch). A number: they resolve once published, and the marks of every batch within that
   * many milliseconds are written together, behind them (ADR 0010, "Deferred marks"); call
   * `flush()` when stopping, or the next owner publishes the last outboxes again (same ids).
   */
  readonly markDelayMs?: number;
  /**
   * Publishes each key's outputs before its state is saved, and saves no outbox (so no mark is
   * written: one write per key per batch). Only for outputs whose consumers are idempotent joins,
   * indifferent to order and repeats (the projection's read models): a decision whose save then
   * loses the version race, or a process that dies between the publish and the save, has its
   * outputs published again (or another decision's) when the input is decided again. Unset: the
   * outbox is saved first and published after (ADR 0010), outputs in decided order per key.
   */
  readonly publishBeforeSave?: boolean;
  /**
   * Writes no published mark: the key's next save replaces its outbox with only that save's new
   * outputs, which marks the old one published in the same write (one write per key per batch).
   * Until then the stored outbox stays in view, so a key loaded again from the store (evicted
   * from the cache, or after a restart) publishes its last outputs again, the replay window of
   * a crash after a save. Only for outputs whose consumers are idempotent: the projection's
   * message links and bucket marks. `markDelayMs` is then ignored.
   */
  readonly markOnNextSave?: boolean;
  readonly observer?: CommandHandlerObserver<Command, Event, Output>;
}

export interface CommandHandler<Command> {
  /**
   * Decides the commands, each under its key and in the order given per key, and resolves once
   * every resulting output is saved and published. Rejects, once every key has settled, with the
   * most retriable of the keys' failures (outage, then bounded, then never), so an input whose
   * keys partly failed is retried rather than dead-lettered while any key can still pass.
   */
  handle(commands: readonly Keyed<Command>[]): Promise<void>;
}

/** The runtime's handler: `flush` writes the marks `markDelayMs` holds (resolves at once without). */
export interface RuntimeCommandHandler<Command> extends CommandHandler<Command> {
  flush(): Promise<void>;
}

/**
 * Keys a batch decides in one go (synchronous but for `reconsider`) before it lets the event loop
 * take a turn (issue 23: a STOP must not wait for a whole batch of send requests to be decided).
 */
export const DECIDE_SLICE = 64;

const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve);
  });

/**
 * Runs a decider per key, many keys at a time (ADR 0010). Calls arriving together are
 * group-committed: while a batch is in flight the next gathers; a batch loads every key not
 * cached (one call), loads the commands' contexts, decides each key's commands in order, saves
 * each key's state with its outbox (what an earlier attempt left unpublished first, then the new
 * outputs) in one conditional call, publishes every outbox in one call, then marks them published
 * (one call). A key is in at most one batch at a time (a FIFO lock per key), so its outputs are
 * published in decided order. A crash anywhere re-runs the inputs: before the save nothing
 * happened; after it the outbox is published again with the same events, and the decider
 * recognises its commands as applied. A key whose write loses the version race is decided again
 * in a later batch. A step that fails for a reason other than an outage is retried key by key,
 * so only a poison key's caller fails; an outage fails the batch.
 */
export function createCommandHandler<State, Command, Event, Context, Output extends Event>({
  decider,
  store,
  publish,
  context,
  clock = () => new Date(),
  retain,
  reconsider,
  maxConflicts = 10,
  cacheSize = 1_000,
  batchesInFlight = 2,
  maxBatchKeys = 500,
  markDelayMs,
  publishBeforeSave = false,
  markOnNextSave = false,
  observer = {},
}: CommandHandlerOptions<State, Command, Event, Context, Output>): RuntimeCommandHandler<Command> {
  checkOptions({ maxConflicts, cacheSize, batchesInFlight, maxBatchKeys, markDelayMs });
  const deferred =
    markDelayMs === undefined || markOnNextSave
      ? undefined
      : createDeferredMarks(store, markDelayMs);
  const exclusive = createKeyedLock();
  const cache = createLru<Stored<State, Output>>(cacheSize);
  const waiting: Pending<Command>[] = [];
  let running = 0;
  let scheduled = false;

  const timed = async <T>(stage: HandlerStage, work: () => Promise<T>): Promise<T> => {
    if (observer.stage === undefined) return work();
    const start = performance.now();
    try {
      return await work();
    } finally {
      observer.stage(stage, performance.now() - start);
    }
  };

  const schedule = () => {
    if (scheduled || running >= batchesInFlight || waiting.length === 0) return;
    scheduled = true;
    // One turn of the event loop lets the calls arriving together join the same batch.
    setImmediate(() => {
      scheduled = false;
      while (running < batchesInFlight && waiting.length > 0) {
        const batch = waiting.splice(0, maxBatchKeys);
        running++;
        void runBatch(batch).finally(() => {
          running--;
          schedule();
        });
      }
    });
  };

  const submit = (key: string, commands: readonly Command[]): Promise<void> =>
    new Promise((resolve, reject) => {
      waiting.push({ key, commands, conflicts: 0, resolve, reject });
      schedule();
    });

  const loadStates = async (keys: readonly string[]) => {
    const found = new Map<string, Stored<State, Output> | Error>();
    const failures = await tryTogether(
      keys,
      async (all) => {
        for (const [key, stored] of await store.loadMany(all)) found.set(key, stored);
      },
      async (key) => {
        const stored = (await store.loadMany([key])).get(key);
        if (stored !== undefined) found.set(key, stored);
      },
    );
    for (const [key, error] of failures) found.set(key, asError(error));
    // An outbox this process published whose mark is not written yet is not published again.
    if (deferred !== undefined) {
      for (const [key, stored] of found) {
        if (stored instanceof Error || stored.outbox.length === 0) continue;
        if (deferred.covers(key, stored.version)) found.set(key, { ...stored, outbox: [] });
      }
    }
    return found;
  };

  const loadContexts = async (batch: readonly Pending<Command>[], now: Date) => {
    const commands = batch.flatMap(({ key, commands: list }) =>
      list.map((command) => ({ key, command })),
    );
    const contexts = await context(commands, now);
    if (contexts.length !== commands.length) {
      throw new TypeError(
        `the context loader returned ${contexts.length} contexts for ${commands.length} commands`,
      );
    }
    let offset = 0;
    return batch.map(({ commands: list }) => contexts.slice(offset, (offset += list.length)));
  };

  const decideFor = createKeyDecider({ decider, reconsider, retain });

  const save = async (writes: readonly StateWrite<State, Output>[]) => {
    const lost = new Set<string>();
    const failures = await tryTogether(
      writes,
      async (all) => {
        for (const key of await store.saveMany(all)) lost.add(key);
      },
      async (write) => {
        if ((await store.saveMany([write])).has(write.key)) lost.add(write.key);
      },
    );
    return { lost, failed: new Map([...failures].map(([write, error]) => [write.key, error])) };
  };

  /** Publishes one key's outbox; event by event if it fails, dropping what is refused for good. */
  const publishAlone = async (
    { key, outbox }: StateWrite<State, Output>,
    dropped: Map<string, Refused<Output>[]>,
  ) => {
    try {
      await publish(outbox);
      return;
    } catch (error) {
      if (retryOf(error) === "outage") throw error;
    }
    const refused: Refused<Output>[] = [];
    for (const event of outbox) {
      try {
        await publish([event]);
      } catch (error) {
        if (retryOf(error) !== "never") throw error;
        refused.push({ event, error });
        observer.dropped?.(key, event, error);
      }
    }
    if (refused.length > 0) dropped.set(key, refused);
  };

  const publishOutboxes = async (writes: readonly StateWrite<State, Output>[]) => {
    const dropped = new Map<string, Refused<Output>[]>();
    const failures = await tryTogether(
      writes.filter((write) => write.outbox.length > 0),
      (all) => publish(all.flatMap((write) => write.outbox)),
      (write) => publishAlone(write, dropped),
    );
    return {
      dropped,
      failed: new Map([...failures].map(([write, error]) => [write.key, error])),
    };
  };

  const mark = async (marks: readonly PublishedMark[]) => {
    const failures = await tryTogether(
      marks,
      (all) => store.markPublished(all),
      (one) => store.markPublished([one]),
    );
    return new Map([...failures].map(([{ key }, error]) => [key, error]));
  };

  /**
   * A key whose write is refused for good while it carries what an earlier attempt left
   * unpublished: that leftover is already stored, so it is published and marked first, and the
   * write is tried once more with only the new outputs. The two together may be what is refused
   * (past the document size limit); without this, every later input of the key would fail too.
   */
  const flushThenSave = async (
    entry: Entry<Command, State, Event, Output>,
  ): Promise<Entry<Command, State, Event, Output> | "lost"> => {
    const { write, leftover } = entry;
    // Refused leftover events are dropped and reported, not blamed on this input (see below).
    await publishAlone({ ...write, outbox: write.outbox.slice(0, leftover) }, new Map());
    // markOnNextSave: the save below, without the leftover, is what marks it published.
    if (!markOnNextSave)
      await store.markPublished([{ key: write.key, version: write.expectedVersion }]);
    const fresh = { ...write, outbox: write.outbox.slice(leftover) };
    if ((await store.saveMany([fresh])).has(write.key)) return "lost";
    return { ...entry, write: fresh, leftover: 0 };
  };

  const report = (item: Pending<Command>, events: readonly (readonly Event[])[]) => {
    if (observer.decided === undefined) return;
    item.commands.forEach((command, index) => {
      observer.decided?.(item.key, command, events[index] ?? []);
    });
  };

  /** The caller's own refused events (see runBatch); one left by an earlier attempt is not. */
  const settle = (
    item: Pending<Command>,
    outbox: readonly Output[],
    leftover: number,
    refused: readonly Refused<Output>[],
    done: {
      fail(item: Pending<Command>, error: unknown): void;
      succeed(item: Pending<Command>): void;
    },
  ) => {
    const own = refused.filter(({ event }) => outbox.indexOf(event) >= leftover);
    const [first] = own;
    if (first === undefined) done.succeed(item);
    else {
      const events = own.map(({ event }) => event);
      done.fail(item, new UnpublishableEventError(item.key, events, first.error));
    }
  };

  /**
   * publishBeforeSave: every outbox is published, then each key whose outbox went out is saved
   * with an empty one (nothing to mark). A key whose publish failed is not saved (its caller
   * fails and the input is decided again); one whose save lost the race is decided again.
   */
  const publishThenSave = async (
    entries: readonly Entry<Command, State, Event, Output>[],
    done: {
      fail(item: Pending<Command>, error: unknown): void;
      succeed(item: Pending<Command>): void;
      afterSaves(
        entries: readonly Entry<Command, State, Event, Output>[],
        saving: Awaited<ReturnType<typeof save>>,
      ): Promise<Entry<Command, State, Event, Output>[]>;
    },
  ) => {
    const publishing = await timed("publish", () =>
      publishOutboxes(entries.map(({ write }) => write)),
    );
    const outboxes = new Map<string, { outbox: readonly Output[]; leftover: number }>();
    const publishedEntries: Entry<Command, State, Event, Output>[] = [];
    for (const entry of entries) {
      const { item, write, leftover } = entry;
      if (publishing.failed.has(item.key)) {
        done.fail(item, publishing.failed.get(item.key));
        continue;
      }
      outboxes.set(item.key, { outbox: write.outbox, leftover });
      publishedEntries.push({ ...entry, write: { ...write, outbox: [] }, leftover: 0 });
    }
    if (publishedEntries.length === 0) return;
    const saved = await timed("save", async () => {
      const saving = await save(publishedEntries.map(({ write }) => write));
      return done.afterSaves(publishedEntries, saving);
    });
    for (const { item, write, events } of saved) {
      cache.set(item.key, { state: write.state, version: write.expectedVersion + 1, outbox: [] });
      report(item, events);
      const { outbox = [], leftover = 0 } = outboxes.get(item.key) ?? {};
      settle(item, outbox, leftover, publishing.dropped.get(item.key) ?? [], done);
    }
  };

  const runBatch = async (batch: readonly Pending<Command>[]): Promise<void> => {
    /** Entries not yet resolved, rejected or sent back to wait: a batch failure rejects these. */
    const open = new Set(batch);
    const fail = (item: Pending<Command>, error: unknown) => {
      if (!open.delete(item)) return;
      cache.delete(item.key);
      item.reject(error);
    };
    const succeed = (item: Pending<Command>) => {
      if (open.delete(item)) item.resolve();
    };
    const conflict = (item: Pending<Command>) => {
      open.delete(item);
      cache.delete(item.key);
      observer.conflict?.(item.key);
      if (++item.conflicts >= maxConflicts) {
        item.reject(new DecisionConflictError(item.key, item.conflicts));
      } else {
        waiting.push(item);
      }
    };
    /**
     * The entry if its write landed; otherwise its key is decided again or fails. Synchronous
     * but for a refused write carrying a leftover outbox (flushThenSave).
     */
    const afterSave = (
      entry: Entry<Command, State, Event, Output>,
      { lost, failed }: Awaited<ReturnType<typeof save>>,
    ):
      | Entry<Command, State, Event, Output>
      | undefined
      | Promise<Entry<Command, State, Event, Output> | undefined> => {
      const { item } = entry;
      if (lost.has(item.key)) {
        conflict(item);
        return undefined;
      }
      if (!failed.has(item.key)) return entry;
      const error = failed.get(item.key);
      if (entry.leftover === 0 || retryOf(error) !== "never") {
        fail(item, error);
        return undefined;
      }
      return flushThenSave(entry).then(
        (again) => {
          if (again !== "lost") return again;
          conflict(item);
          return undefined;
        },
        (retryError: unknown) => {
          fail(item, retryError);
          return undefined;
        },
      );
    };
    /** afterSave of every entry, waiting only when one of them has to. */
    const afterSaves = async (
      entries: readonly Entry<Command, State, Event, Output>[],
      saving: Awaited<ReturnType<typeof save>>,
    ): Promise<Entry<Command, State, Event, Output>[]> => {
      const landed = entries.map((entry) => afterSave(entry, saving));
      const settled = landed.some((entry) => entry instanceof Promise)
        ? await Promise.all(landed.map((entry) => Promise.resolve(entry)))
        : (landed as (Entry<Command, State, Event, Output> | undefined)[]);
      return settled.filter((entry) => entry !== undefined);
    };
    try {
      const now = clock();
      // Taken now: another batch may evict an entry while this one waits for the store.
      const cached = batch.map((item) => cache.get(item.key));
      const misses = batch.filter((_, index) => cached[index] === undefined).map(({ key }) => key);
      const [loaded, contexts] = await Promise.all([
        timed("load", () => loadStates(misses)),
        timed("context", () => loadContexts(batch, now)),
      ]);
      const outcomes = await timed("decide", async () => {
        const deciding: (Outcome<State, Event, Output> | Promise<Outcome<State, Event, Output>>)[] =
          [];
        let waitsForAny = false;
        for (const [index, item] of batch.entries()) {
          // A turn of the event loop between slices: the process's other consumers (a STOP on
          // the raw topic beside a backlog of send requests) are not held for a whole batch.
          if (index > 0 && index % DECIDE_SLICE === 0) await nextTurn();
          const outcome = decideFor(
            item,
            cached[index] ?? loaded.get(item.key),
            contexts[index] ?? [],
            now,
          );
          if (outcome instanceof Promise) waitsForAny = true;
          deciding.push(outcome);
        }
        return waitsForAny
          ? Promise.all(deciding.map((outcome) => Promise.resolve(outcome)))
          : (deciding as Outcome<State, Event, Output>[]);
      });
      const writes: Entry<Command, State, Event, Output>[] = [];
      batch.forEach((item, index) => {
        const outcome = outcomes[index];
        if (outcome === undefined) return;
        if (outcome.kind === "failed") {
          fail(item, outcome.error);
        } else if (outcome.kind === "unchanged") {
          if (outcome.stored !== undefined) cache.set(item.key, outcome.stored);
          report(item, outcome.events);
          succeed(item);
        } else {
          const { write, leftover, events } = outcome;
          writes.push({ item, write, leftover, events });
        }
      });
      if (writes.length === 0) return;
      if (publishBeforeSave) {
        await publishThenSave(writes, { fail, succeed, afterSaves });
        return;
      }

      const saved = await timed("save", async () => {
        const saving = await save(writes.map(({ write }) => write));
        return afterSaves(writes, saving);
      });
      if (saved.length === 0) return;

      const publishing = await timed("publish", () =>
        publishOutboxes(saved.map(({ write }) => write)),
      );
      const marks = saved
        .filter(({ write }) => write.outbox.length > 0 && !publishing.failed.has(write.key))
        .map(({ write }) => ({ key: write.key, version: write.expectedVersion + 1 }));
      let marking: ReadonlyMap<string, unknown> = new Map<string, unknown>();
      if (deferred !== undefined) deferred.add(marks);
      else if (marks.length > 0 && !markOnNextSave)
        marking = await timed("mark", () => mark(marks));

      for (const { item, write, leftover, events } of saved) {
        if (publishing.failed.has(item.key)) {
          fail(item, publishing.failed.get(item.key));
          continue;
        }
        if (marking.has(item.key)) {
          fail(item, marking.get(item.key));
          continue;
        }
        cache.set(item.key, { state: write.state, version: write.expectedVersion + 1, outbox: [] });
        report(item, events);
        // The caller answers for the refused events it decided itself. One left behind by an
        // earlier attempt may come from another input: it is dropped and reported (observer)
        // without failing this one, which would dead-letter an innocent input.
        settle(item, write.outbox, leftover, publishing.dropped.get(item.key) ?? [], {
          fail,
          succeed,
        });
      }
    } catch (error) {
      for (const item of [...open]) fail(item, error);
    }
  };

  return {
    flush: () => deferred?.flush() ?? Promise.resolve(),
    async handle(commands) {
      const byKey = new Map<string, Command[]>();
      for (const { key, command } of commands) {
        const list = byKey.get(key);
        if (list === undefined) byKey.set(key, [command]);
        else list.push(command);
      }
      const calledAt = performance.now();
      const results = await Promise.allSettled(
        [...byKey].map(([key, list]) =>
          exclusive(key, () => {
            observer.stage?.("wait", performance.now() - calledAt);
            return submit(key, list);
          }),
        ),
      );
      let failure: { readonly error: unknown } | undefined;
      for (const result of results) {
        if (result.status === "fulfilled") continue;
        const error: unknown = result.reason;
        if (failure === undefined || RANK[retryOf(error)] < RANK[retryOf(failure.error)]) {
          failure = { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
  };
}
