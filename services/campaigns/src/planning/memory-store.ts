import type { PlanDecision } from "../domain/plan.js";
import type { PlanCheckpoint, PlanStore } from "./ports.js";

/** In-memory PlanStore for unit tests, held to the same contract as the MongoDB adapter. */
export function createMemoryPlanStore(): PlanStore & {
  readonly decisions: Map<string, Map<number, PlanDecision>>;
} {
  const checkpoints = new Map<string, PlanCheckpoint>();
  const decisions = new Map<string, Map<number, PlanDecision>>();
  return {
    decisions,
    checkpoint: (id) => Promise.resolve(checkpoints.get(id)),
    record: (id, list) => {
      const rows = decisions.get(id) ?? new Map<number, PlanDecision>();
      for (const d of list) rows.set(d.index, d);
      decisions.set(id, rows);
      return Promise.resolve();
    },
    saveCheckpoint: (id, checkpoint) => {
      checkpoints.set(id, structuredClone(checkpoint));
      return Promise.resolve();
    },
  };
}
