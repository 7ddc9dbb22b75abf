import { errorMessage, ParleyError } from "@parley/errors";

// Keys are often contact ids (phone numbers): they are kept on the error as `key`, never in the
// message or the context, which reach logs and dead-letter headers.

/** Another writer kept winning the optimistic race for a key; a later try may pass. */
export class DecisionConflictError extends ParleyError {
  override readonly name = "DecisionConflictError";
  constructor(
    readonly key: string,
    conflicts: number,
  ) {
    super(
      `the state kept changing under us (${conflicts} version conflicts in a row); will retry`,
      {
        retry: "bounded",
        context: { conflicts },
      },
    );
  }
}

/**
 * Events of a key's outbox that the publish port refused for good (too large for the topic, not
 * serialisable, breaking their contract). They were dropped from the outbox so the key's later
 * events flow; the input that was publishing them fails with this error, to be dead-lettered with
 * the reason. Everything else it decided is saved and published.
 */
export class UnpublishableEventError<Output = unknown> extends ParleyError {
  override readonly name = "UnpublishableEventError";
  constructor(
    readonly key: string,
    /** The refused events, in outbox order (for the dead letter's reason). */
    readonly dropped: readonly Output[],
    cause: unknown,
  ) {
    super(
      `${dropped.length} event(s) could not be published and were dropped from the outbox: ${errorMessage(cause)}`,
      { retry: "never", cause, context: { dropped: dropped.length } },
    );
  }
}

/**
 * A state store refused a key's document before writing it (nested deeper than the store
 * accepts, or otherwise unrepresentable); the same input fails the same way every time.
 */
export class UnstorableStateError extends ParleyError {
  override readonly name = "UnstorableStateError";
  constructor(
    readonly key: string,
    reason: string,
    context: Readonly<Record<string, unknown>> = {},
  ) {
    super(`the state of one key cannot be stored: ${reason}`, { retry: "never", context });
  }
}
