import type { KafkaLogger } from "./connection.js";
import { errorMessage } from "./errors.js";

/*
 * A producer is fenced when a new owner opened the partition's transactions, or when the
 * coordinator aborted a transaction that outlived its timeout (a handler stalled on MongoDB,
 * say). In the first case a rebalance reaches this member within a session; in the second none
 * ever comes, and the partition, its state gone and perhaps paused for its bound, would stay
 * unread for good. So: still assigned with no rebalance after a session, the partition is
 * taken up again, from what the group committed, with fresh transactions.
 */
export interface FenceReclaimOptions {
  /** A session and a heartbeat: by then a real new owner's rebalance has reached this member. */
  readonly delayMs: number;
  readonly stopping: AbortSignal;
  /** Still assigned here, no state for it, and no rebalance since the fence. */
  readonly stillOurs: (topic: string, partition: number, joinsAtFence: number) => boolean;
  /**
   * Opens the partition's transactions again and moves the fetch to the group's commit, or to
   * `firstRead` when the group committed nothing: the offset it resumed from, or false when the
   * runner stopped or lost the partition meanwhile.
   */
  readonly takeUp: (
    topic: string,
    partition: number,
    firstRead: bigint | undefined,
  ) => Promise<{ from: bigint | undefined } | false>;
  readonly logger?: KafkaLogger | undefined;
  readonly groupId: string;
}

export interface FenceReclaim {
  /** The partition's producer was fenced; `firstRead` is where its owner began reading. */
  afterFence(
    topic: string,
    partition: number,
    joinsAtFence: number,
    firstRead: bigint | undefined,
  ): void;
}

export function createFenceReclaim(options: FenceReclaimOptions): FenceReclaim {
  const { delayMs, stopping, stillOurs, takeUp, logger, groupId } = options;
  return {
    afterFence(topic, partition, joinsAtFence, firstRead) {
      const attempt = async (): Promise<void> => {
        if (stopping.aborted || !stillOurs(topic, partition, joinsAtFence)) return;
        try {
          const taken = await takeUp(topic, partition, firstRead);
          if (taken === false) return;
          logger?.warn(
            { groupId, topic, partition, from: taken.from?.toString() ?? "its fetch position" },
            "fenced with no rebalance after a session: the partition is taken up again from its last commit",
          );
        } catch (error) {
          logger?.warn(
            { groupId, topic, partition, err: errorMessage(error) },
            "could not take the fenced partition up again; trying after another session",
          );
          schedule();
        }
      };
      const schedule = (): void => {
        setTimeout(() => void attempt(), delayMs).unref();
      };
      schedule();
    },
  };
}
