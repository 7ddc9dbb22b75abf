/**
 * What the producers and consumers made from one Kafka client say about themselves: a consumer
 * is `starting` until it has joined its group, a producer is `failing` while it could not
 * recover from a produce error. The service chassis reads it for `/readyz`
 * (`@parley/runtime`), so no service has to wire its producers' health by hand.
 */
export type HealthState = "starting" | "ok" | "failing";

export interface HealthEntry {
  /** The component, e.g. "producer router-inbound" or "consumer parley.router-inbound". */
  readonly name: string;
  readonly state: HealthState;
  /** Why it is starting or failing (absent when ok). */
  readonly reason?: string;
  /** When it entered this state (ms since the epoch). */
  readonly since: number;
}

export interface HealthReporter {
  starting(reason: string): void;
  ok(): void;
  failing(reason: string): void;
  /** The component is gone (stopped): it no longer counts. */
  remove(): void;
}

export interface KafkaHealth {
  /** A component's reporter; it counts from now, in `state`, until `remove`. */
  register(name: string, state: HealthState, reason?: string): HealthReporter;
  /** Every registered component, in registration order. */
  entries(): readonly HealthEntry[];
}

export function createKafkaHealth(now: () => number = Date.now): KafkaHealth {
  const entries = new Map<number, HealthEntry>();
  let next = 0;
  return {
    register(name, state, reason) {
      const id = next++;
      let removed = false;
      const set = (s: HealthState, why?: string): void => {
        if (removed) return;
        const current = entries.get(id);
        // A repeated report keeps its `since`: how long a component has been failing matters.
        if (current?.state === s && current.reason === why) return;
        entries.set(id, {
          name,
          state: s,
          ...(why === undefined ? {} : { reason: why }),
          since: now(),
        });
      };
      set(state, reason);
      return {
        starting: (why) => {
          set("starting", why);
        },
        ok: () => {
          set("ok");
        },
        failing: (why) => {
          set("failing", why);
        },
        remove() {
          removed = true;
          entries.delete(id);
        },
      };
    },
    entries: () => [...entries.values()],
  };
}
