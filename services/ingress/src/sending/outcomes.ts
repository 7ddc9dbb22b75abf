import { ParleyError } from "@parley/errors";

/**
 * What the send API's GET adds to ingress's own record: the request's final word and its
 * messages' status timelines, as the projection's read models hold them (ADR 0011). Ingress
 * shares none of the projection's collections: it asks the projection's query API.
 */
export interface ProjectedStatus {
  readonly status: string;
  /** The time Meta stated. */
  readonly at: string;
  readonly errors?:
    readonly { readonly code: number; readonly title?: string | undefined }[] | undefined;
}

export interface ProjectedMessage {
  readonly wamid: string;
  readonly status?: string | undefined;
  readonly timeline: readonly ProjectedStatus[];
}

export interface ProjectedRequest {
  /** One word: requested, dispatched, in_doubt, accepted, reconciled, rejected, failed, expired, deduplicated. */
  readonly status: string;
  /** The final word (ADR 0009): `status` pending until there is one, then its outcome's details. */
  readonly final: Readonly<Record<string, unknown>> & { readonly status: string };
  /** For a deduplicated request: the original request's final word. */
  readonly original?:
    { readonly requestId: string; readonly final: Readonly<Record<string, unknown>> } | undefined;
  readonly messages: readonly ProjectedMessage[];
}

/** Port: the projection's answer for a request id; undefined while it has not seen the request. */
export interface RequestOutcomes {
  lookup(requestId: string): Promise<ProjectedRequest | undefined>;
}

/** The projection could not be asked (down, slow, refusing the service key): the GET answers 503. */
export class OutcomesUnavailableError extends ParleyError {
  override readonly name = "OutcomesUnavailableError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retry: "outage", ...options });
  }
}
