import type { CommandHandler, Keyed } from "@parley/decider";
import { retryOf, type RetryKind } from "@parley/errors";

const RANK: Readonly<Record<RetryKind, number>> = { outage: 0, bounded: 1, never: 2 };

interface Waiting<Command> {
  readonly command: Command;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A command handler whose calls arriving in one turn of the event loop are merged per key:
 * each key's commands go in one call, so they are decided in one batch of the runtime instead of
 * one batch after another (the runtime locks a key per call). A read model receives a message's
 * link and its statuses from four topics at once; merged, they cost one save instead of four.
 * A merged call that fails for a reason other than an outage is tried again command by command,
 * so one poison command fails its own caller only (the runtime recognises what was applied).
 */
export function coalesce<Command>(handler: CommandHandler<Command>): CommandHandler<Command> {
  let pending = new Map<string, Waiting<Command>[]>();
  let scheduled = false;

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

  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    for (const [key, items] of batch) void runKey(key, items);
  };

  return {
    handle(commands: readonly Keyed<Command>[]): Promise<void> {
      const calls = commands.map(
        ({ key, command }) =>
          new Promise<void>((resolve, reject) => {
            const list = pending.get(key);
            const item = { command, resolve, reject };
            if (list === undefined) pending.set(key, [item]);
            else list.push(item);
          }),
      );
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
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
