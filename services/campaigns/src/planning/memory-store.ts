import type { PlanDecision } from "../domain/plan.js";
import type { PlanCheckpoint, PlanStore, PlannedSend, SendQueue } from "./ports.js";

/** In-memory PlanStore and SendQueue for unit tests, with the MongoDB adapter's semantics. */
export function createMemoryPlanStore(): PlanStore &
  SendQueue & {
    readonly decisions: Map<string, Map<number, PlanDecision>>;
    readonly released: Set<string>;
  } {
  const checkpoints = new Map<string, PlanCheckpoint>();
  const decisions = new Map<string, Map<number, PlanDecision>>();
  const released = new Set<string>();
  const queued = (campaignId: string): PlannedSend[] =>
    [...(decisions.get(campaignId)?.values() ?? [])]
      .filter(
        (d): d is PlannedSend =>
          d.kind === "planned" && !released.has(`${campaignId}:${d.contactId}`),
      )
      .sort((a, b) => a.index - b.index);
  return {
    decisions,
    released,
    checkpoint: (id) => Promise.resolve(checkpoints.get(id)),
    record: (id, list) => {
      const rows = decisions.get(id) ?? new Map<number, PlanDecision>();
      // As the MongoDB store: a planned recipient recorded again keeps the first pass's record.
      for (const d of list) if (rows.get(d.index)?.kind !== "planned") rows.set(d.index, d);
      decisions.set(id, rows);
      return Promise.resolve();
    },
    saveCheckpoint: (id, checkpoint) => {
      checkpoints.set(id, structuredClone(checkpoint));
      return Promise.resolve();
    },
    due: (campaign, phoneNumberId, now, limit) =>
      Promise.resolve(
        queued(campaign.id)
          .filter(
            (d) => d.phoneNumberId === phoneNumberId && Date.parse(d.releaseAt) <= now.getTime(),
          )
          .slice(0, limit),
      ),
    markReleased: (campaignId, sends) => {
      for (const s of sends) released.add(`${campaignId}:${s.contactId}`);
      return Promise.resolve();
    },
    pending: (campaignId) => Promise.resolve(queued(campaignId).length),
  };
}
