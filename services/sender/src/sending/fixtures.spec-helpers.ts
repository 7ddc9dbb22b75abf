import { createEvent, type EventData, type EventOf } from "@parley/contracts";
import { NumberLane, type LaneTuning } from "./lanes.js";

/**
 * A DispatchMessage from `number` to `to` (the contact is the recipient): a utility template
 * unless `data` says otherwise.
 */
export function dispatchMessage(
  number: string,
  requestId: string,
  to: string,
  data: Partial<EventData<"DispatchMessage">> = {},
  now: Date = new Date(),
): EventOf<"DispatchMessage"> {
  return createEvent(
    "DispatchMessage",
    {
      requestId,
      idempotencyKey: requestId,
      contactId: to,
      to,
      toKind: "phone",
      content: { type: "template", template: { name: "t", language: { code: "en" } } },
      category: "utility",
      usedTemplateFallback: false,
      bizOpaqueCallbackData: requestId,
      ...data,
    },
    { correlationId: requestId, businessNumber: number, now },
  );
}

/** A real lane for unit tests: pair pacing 45 / 6 s, the tuning below unless `tuning` overrides it. */
export function testLane({
  number,
  mps,
  clock,
  tuning = {},
  random = () => 1,
  recentCalls = () => Promise.resolve([]),
}: {
  number: string;
  mps: number;
  clock: () => number;
  tuning?: Partial<LaneTuning>;
  random?: () => number;
  recentCalls?: (number: string, sinceMs: number) => Promise<number[]>;
}): NumberLane {
  return new NumberLane(
    number,
    { mps, pairPacing: { burst: 45, refillMs: 6_000 } },
    {
      marginMs: 15,
      smoothingMs: 0,
      leadMs: 0,
      maxPairBackoffMs: 60_000,
      maxNumberBackoffMs: 60_000,
      marginStepMs: 5,
      maxMarginMs: 50,
      marginRelaxAfterMs: 600_000,
      reseedAfterIdleMs: 3_600_000,
      ...tuning,
    },
    clock,
    random,
    recentCalls,
    { waited: () => undefined, pausedChanged: () => undefined },
  );
}
