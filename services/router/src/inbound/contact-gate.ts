/**
 * How a webhook left the gate: `done` (handled, or dead-lettered: what follows may go on) or
 * `handed-back` (not handled, and will be delivered again: what follows must not overtake it).
 */
export type GateOutcome = "done" | "handed-back";

/** A webhook's place in line behind the earlier webhooks that touch any of its contacts. */
export interface GateTicket<T> {
  /** What was admitted with the ticket (the parsed facts). */
  readonly payload: T;
  /**
   * Resolves when every earlier webhook touching one of these contacts has left: `go` if all
   * were done, `handed-back` if one was not (so this one must be handed back as well).
   */
  readonly turn: Promise<"go" | GateOutcome>;
  /** Leaves the gate; later webhooks of the same contacts may then take their turn. */
  leave(outcome: GateOutcome): void;
}

/**
 * Keeps per-contact order among webhooks that run concurrently. Webhooks are admitted in the
 * order they must take effect (the raw topic's offset order for one business number), each
 * under the state keys of its facts; a webhook waits for every earlier one sharing a key, so
 * webhooks about different contacts run in parallel while one contact's stay in line, even when
 * a webhook carries several contacts. A ticket must be claimed by its handler in the same turn
 * of the event loop as it is admitted; one that is not (the consumer handed the record back
 * before running it) leaves as handed back, so nothing waits on it forever.
 */
export class ContactGate<T> {
  private readonly tails = new Map<string, Promise<GateOutcome>>();
  private readonly unclaimed = new Map<string, GateTicket<T>>();

  /** Webhooks admitted and not yet claimed (normally 0 between turns of the event loop). */
  get waiting(): number {
    return this.unclaimed.size;
  }

  /** Puts the webhook `id` in line under `keys`; `claim(id)` must follow in this turn. */
  admit(id: string, keys: Iterable<string>, payload: T): void {
    let leave: (outcome: GateOutcome) => void = () => undefined;
    const left = new Promise<GateOutcome>((resolve) => {
      leave = resolve;
    });
    const before: Promise<GateOutcome>[] = [];
    const mine = new Set(keys);
    for (const key of mine) {
      const tail = this.tails.get(key);
      if (tail !== undefined) before.push(tail);
      this.tails.set(key, left);
    }
    void left.then(() => {
      for (const key of mine) if (this.tails.get(key) === left) this.tails.delete(key);
    });
    const turn = Promise.all(before).then((outcomes) =>
      outcomes.includes("handed-back") ? ("handed-back" as const) : ("go" as const),
    );
    let gone = false;
    const ticket: GateTicket<T> = {
      payload,
      turn,
      leave: (outcome) => {
        if (gone) return;
        gone = true;
        leave(outcome);
      },
    };
    this.unclaimed.set(id, ticket);
    setImmediate(() => {
      if (this.unclaimed.get(id) !== ticket) return;
      this.unclaimed.delete(id);
      ticket.leave("handed-back");
    });
  }

  /** The ticket admitted as `id` in this turn, if any; the caller must `leave` it. */
  claim(id: string): GateTicket<T> | undefined {
    const ticket = this.unclaimed.get(id);
    this.unclaimed.delete(id);
    return ticket;
  }
}
