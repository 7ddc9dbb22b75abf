import { ParleyError } from "@parley/errors";
import {
  classifyErrorCode,
  isRetriableAction,
  type ErrorAction,
  type GraphErrorRule,
} from "./error-table.js";

/** Context attached to every error; never contains tokens or unmasked phone numbers. */
export interface ErrorContext {
  readonly method?: string;
  /** Graph path with the version, without query string (no tokens, no appsecret_proof). */
  readonly path?: string;
  readonly phoneNumberId?: string;
  readonly [key: string]: string | number | boolean | undefined;
}

/**
 * Base of every error this package throws: a ParleyError whose retry is `bounded` when the
 * failure may pass (`retriable`), else `never`; `action` is the Graph error table's.
 */
export class CloudApiError extends ParleyError {
  override readonly name: string = "CloudApiError";
  readonly action: ErrorAction;
  declare readonly context: ErrorContext;

  constructor(
    message: string,
    options: { retriable: boolean; action: ErrorAction; cause?: unknown; context?: ErrorContext },
  ) {
    super(message, {
      retry: options.retriable ? "bounded" : "never",
      cause: options.cause,
      context: options.context ?? {},
    });
    this.action = options.action;
  }
}

/** The `error` object of a Graph error response, as Meta sends it (all but `code` optional). */
export interface GraphErrorBody {
  readonly message?: string;
  readonly type?: string;
  readonly code: number;
  readonly error_subcode?: number;
  readonly error_data?: { readonly messaging_product?: string; readonly details?: string };
  readonly is_transient?: boolean;
  readonly error_user_title?: string;
  readonly error_user_msg?: string;
  readonly fbtrace_id?: string;
}

/** Graph answered with an `error` object. Classified from `code` only. */
export class GraphApiError extends CloudApiError {
  override readonly name = "GraphApiError";
  readonly code: number;
  readonly subcode: number | undefined;
  readonly type: string | undefined;
  readonly details: string | undefined;
  readonly fbtraceId: string | undefined;
  readonly httpStatus: number;
  /** The table's rule for `code`. */
  readonly rule: GraphErrorRule;
  readonly body: GraphErrorBody;

  constructor(body: GraphErrorBody, httpStatus: number, context: ErrorContext = {}) {
    const rule = classifyErrorCode(body.code);
    super(body.message ?? `(#${body.code}) Graph API error`, {
      retriable: isRetriableAction(rule.action),
      action: rule.action,
      context,
    });
    this.code = body.code;
    this.subcode = body.error_subcode;
    this.type = body.type;
    this.details = body.error_data?.details;
    this.fbtraceId = body.fbtrace_id;
    this.httpStatus = httpStatus;
    this.rule = rule;
    this.body = body;
  }
}

/**
 * The network failed or timed out. `inDoubt` is true when the request may have reached Meta
 * (sent, then no complete answer): for a send, never resend blindly; reconcile from webhooks.
 */
export class CloudApiTransportError extends CloudApiError {
  override readonly name: string = "CloudApiTransportError";
  readonly inDoubt: boolean;
  readonly code: string | undefined;

  constructor(
    message: string,
    options: { inDoubt: boolean; code?: string; cause?: unknown; context?: ErrorContext },
  ) {
    super(message, {
      retriable: true,
      action: "retry",
      cause: options.cause,
      ...(options.context ? { context: options.context } : {}),
    });
    this.inDoubt = options.inDoubt;
    this.code = options.code;
  }
}

/** No answer within the configured timeout: always in doubt. */
export class CloudApiTimeoutError extends CloudApiTransportError {
  override readonly name = "CloudApiTimeoutError";
}

/**
 * Graph answered without a parsable `error` object (a proxy page, an empty 502...).
 * 5xx is retried with back-off, but a POST that got a 5xx is in doubt.
 */
export class UnexpectedResponseError extends CloudApiError {
  override readonly name = "UnexpectedResponseError";
  readonly httpStatus: number;
  readonly inDoubt: boolean;

  constructor(httpStatus: number, snippet: string, context: ErrorContext = {}) {
    const serverSide = httpStatus >= 500;
    super(
      `Unexpected Graph response: HTTP ${httpStatus}${snippet ? `: ${snippet.slice(0, 200)}` : ""}`,
      {
        retriable: serverSide,
        action: serverSide ? "retry" : "fail",
        context,
      },
    );
    this.httpStatus = httpStatus;
    this.inDoubt = serverSide && context.method === "POST";
  }
}

/** A message, template or upload breaks one of Meta's limits: rejected locally, before any call. */
export class MessageValidationError extends CloudApiError {
  override readonly name = "MessageValidationError";

  constructor(
    /** Path of the offending field, e.g. `interactive.action.buttons[3]`. */
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`, { retriable: false, action: "fail" });
  }
}

/** The input is not a phone number that WhatsApp can address. */
export class InvalidPhoneNumberError extends CloudApiError {
  override readonly name = "InvalidPhoneNumberError";

  constructor(
    /** Masked input, safe to log. */
    readonly maskedInput: string,
    reason: string,
  ) {
    super(`Invalid phone number ${maskedInput}: ${reason}`, {
      retriable: false,
      action: "fail",
    });
  }
}
