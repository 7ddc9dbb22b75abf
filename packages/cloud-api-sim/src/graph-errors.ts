import type { GraphErrorBody, WebhookError } from "@parley/cloud-api";
import type { Rng } from "./rng.js";

interface CodeInfo {
  readonly http: number;
  readonly title: string;
  readonly details: string;
  readonly type?: string;
}

// HTTP statuses follow Meta's legacy table (reference §2.2); clients must not branch on them.
const catalog: Readonly<Record<number, CodeInfo>> = {
  0: { http: 401, title: "AuthException", details: "We were unable to authenticate the app user." },
  1: { http: 400, title: "API Unknown", details: "Invalid request or possible server error." },
  2: {
    http: 503,
    title: "API Service",
    details: "Temporary due to downtime or due to being overloaded.",
  },
  4: {
    http: 400,
    title: "Application request limit reached",
    details: "The app has reached its API call rate limit.",
  },
  100: {
    http: 400,
    title: "Invalid parameter",
    details: "Invalid parameter.",
    type: "OAuthException",
  },
  190: { http: 401, title: "Access token has expired", details: "Invalid OAuth access token." },
  200: {
    http: 403,
    title: "Permission denied",
    details: "The token does not grant access to this asset.",
  },
  80007: {
    http: 400,
    title: "Rate limit issues",
    details: "The WhatsApp Business Account has reached its rate limit.",
  },
  130429: {
    http: 400,
    title: "Rate limit hit",
    details: "Cloud API message throughput has been reached.",
  },
  131000: {
    http: 500,
    title: "Something went wrong",
    details: "Message failed to send due to an unknown error.",
  },
  131008: {
    http: 400,
    title: "Required parameter is missing",
    details: "The request is missing a required parameter.",
  },
  131009: {
    http: 400,
    title: "Parameter value is not valid",
    details: "One or more parameter values are invalid.",
  },
  131016: {
    http: 503,
    title: "Service unavailable",
    details: "A service is temporarily unavailable.",
  },
  131021: {
    http: 400,
    title: "Recipient cannot be sender",
    details: "Sender and recipient phone number is the same.",
  },
  131026: { http: 400, title: "Message undeliverable", details: "Unable to deliver message." },
  131030: {
    http: 400,
    title: "Recipient phone number not in allowed list",
    details: "Add recipient phone number to recipient list and try again.",
  },
  131047: {
    http: 400,
    title: "Re-engagement message",
    details:
      "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
  },
  131051: { http: 400, title: "Unsupported message type", details: "Unsupported message type." },
  131053: {
    http: 400,
    title: "Media upload error",
    details: "Unable to upload the media used in the message.",
  },
  131056: {
    http: 400,
    title: "(Business Account, Consumer Account) pair rate limit hit",
    details:
      "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
  },
  131057: {
    http: 500,
    title: "Account in maintenance mode",
    details: "Business Account is in maintenance mode.",
  },
  132000: {
    http: 400,
    title: "Number of parameters does not match the expected number of params",
    details:
      "The number of variable parameter values does not match the number of variables defined in the template.",
  },
  132001: {
    http: 404,
    title: "Template name does not exist in the translation",
    details: "template name does not exist in the translation",
  },
  132005: { http: 400, title: "Translated text too long", details: "Translated text is too long." },
  132012: {
    http: 400,
    title: "Parameter format does not match format in the created template",
    details: "Variable parameter values formatted incorrectly.",
  },
  132015: {
    http: 400,
    title: "Template is Paused",
    details: "Template is paused due to low quality so it cannot be sent in a template message.",
  },
  132016: {
    http: 400,
    title: "Template is disabled",
    details:
      "Template has been paused too many times due to low quality and is now permanently disabled.",
  },
};

export function infoFor(code: number): CodeInfo {
  return catalog[code] ?? { http: 400, title: "Error", details: "Error." };
}

export interface SimError {
  readonly status: number;
  readonly body: { readonly error: GraphErrorBody };
}

/** A synchronous Graph error, shaped like Meta's: message "(#code) title", error_data, fbtrace_id. */
export function graphError(
  code: number,
  rng: Rng,
  o: {
    readonly details?: string;
    readonly subcode?: number;
    readonly http?: number;
    readonly message?: string;
    /** Graph's error type; OAuthException unless the code's entry or this says otherwise. */
    readonly type?: string;
  } = {},
): SimError {
  const info = infoFor(code);
  return {
    status: o.http ?? info.http,
    body: {
      error: {
        message: o.message ?? `(#${code}) ${info.title}`,
        type: o.type ?? info.type ?? "OAuthException",
        code,
        ...(o.subcode !== undefined ? { error_subcode: o.subcode } : {}),
        error_data: { messaging_product: "whatsapp", details: o.details ?? info.details },
        fbtrace_id: rng.token(23),
      },
    },
  };
}

/** An error inside a webhook (statuses[].errors[] and friends): message equals title. */
export function webhookError(code: number, details?: string): WebhookError {
  const info = infoFor(code);
  return {
    code,
    title: info.title,
    message: info.title,
    error_data: { details: details ?? info.details },
    href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
  };
}
