import type { Consumer } from "kafkajs";
import type { KafkaLogger } from "./connection.js";
import { errorMessage } from "./errors.js";

type FetchTargets = { topic: string; partitions?: number[] }[];

/** The runner's calls into kafkajs' consumer that must neither throw nor hang. */
export interface ConsumerControl {
  /**
   * kafkajs has no consumer group between a crash and its restart (or after a stop): pause and
   * resume throw then (seek too: the fence take-up's catch gives that partition up). Nothing is
   * lost by skipping them: the restart joins with a new group, and the runner's join handler
   * sets every pause and resume again from its own state.
   */
  readonly fetchControl: (action: "pause" | "resume", which: FetchTargets) => void;
  /** One step of a stop, bounded: past `ms`, or failed, it is logged and the stop goes on. */
  readonly boundedStep: (step: string, work: Promise<void>, ms: number) => Promise<void>;
}

export function consumerControl(
  consumer: Consumer,
  groupId: string,
  logger: KafkaLogger | undefined,
): ConsumerControl {
  return {
    fetchControl: (action, which) => {
      try {
        consumer[action](which);
      } catch (error) {
        if (!errorMessage(error).includes("consumer#run must be called first")) throw error;
        logger?.debug({ groupId, action }, "fetch control skipped: the consumer is restarting");
      }
    },
    boundedStep: async (step, work, ms) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => {
          resolve("timeout");
        }, ms);
      });
      const outcome = await Promise.race([
        work.then(
          () => "done" as const,
          () => "failed" as const,
        ),
        timedOut,
      ]);
      clearTimeout(timer);
      if (outcome !== "done")
        logger?.warn(
          { groupId, step, outcome, boundMs: ms },
          `consumer stop: ${step} ${outcome === "timeout" ? "timed out" : "failed"}; going on`,
        );
    },
  };
}
