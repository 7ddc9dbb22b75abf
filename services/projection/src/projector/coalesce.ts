import type { CommandHandler, Keyed } from "@parley/decider";
import { retryOf, type RetryKind } from "@parley/errors";

const RANK: Readonly<Record<RetryKind, number>> = { outage: 0, bounded: 1, never: 2 };

interface Waiting<Command> {
  readonly command: Command;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A command handler whose calls are merged per key: each key's commands go in one call, so they
 * are decided in one batch of the runtime instead of one batch after another (the runtime locks a
 * key per call). The calls of one turn of the event loop are merged; so are those that arrive for
 * a key while a call of that key is in flight: they wait for it (they would wait on the runtime's
 * lock anyway) and then go together, one decision and one save for all of them instead of one
 * per call. A read model receives a message's link and its statuses from four topics, in
 * different fetches while working off a backlog; merged, they cost one save instead of four.
 * The key's order holds: parked commands follow the ones in flight, in call order.
 * A merged call that fails for a reason other than an outage is tried again command by command,
 * so one poison command fails its own caller only (the runtime recognises what was applied).
 */
export function coalesce<Command>(handler: CommandHandler<Command>): CommandHandler<Command> {
  let pending = new Map<string, Waiting<Command>[]>();
  let scheduled = false;
  /** Keys with a call in flight, and what arrived for each meanwhile (sent when it settles). */
  const parked = new Map<string, Waiting<Command>[]>();

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  const runKey = async (key: string, items: readonly Waiting<Command>[]): Promise<void> => {
    try {
      await handler.handle(items.map(({ command }) => ({ key, command })));
      for (const item of items) item.resolve();
      return;
    } catch (error) {
      if (items.length === 1 || retryOf(error) === "outage") {
        for (const item of items) item.reject(error);
        return;
      }
    }
    for (const item of items) {
      try {
        await handler.handle([{ key, command: item.command }]);
        item.resolve();
      } catch (error) {
        item.reject(error);
      }
    }
  };

  const start = (key: string, items: readonly Waiting<Command>[]) => {
    parked.set(key, []);
    void runKey(key, items).finally(() => {
      const next = parked.get(key) ?? [];
      parked.delete(key);
      if (next.length === 0) return;
      pending.set(key, next);
      schedule();
    });
  };

  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    for (const [key, items] of batch) start(key, items);
  };

  return {
    handle(commands: readonly Keyed<Command>[]): Promise<void> {
      const calls = commands.map(
        ({ key, command }) =>
          new Promise<void>((resolve, reject) => {
            const item = { command, resolve, reject };
            const list = parked.get(key) ?? pending.get(key);
            if (list !== undefined) list.push(item);
            else pending.set(key, [item]);
          }),
      );
      if (pending.size > 0) schedule();
      return Promise.allSettled(calls).then((results) => {
        // The failure that asks most of the caller: an outage (wait), then bounded, then never.
        let failure: { error: unknown } | undefined;
        for (const r of results) {
          if (r.status === "fulfilled") continue;
          const error: unknown = r.reason;
          if (failure === undefined || RANK[retryOf(error)] < RANK[retryOf(failure.error)])
            failure = { error };
        }
        if (failure !== undefined) throw failure.error;
      });
    },
  };
}
