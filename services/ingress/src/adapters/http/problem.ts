/** One reason a request was refused: where (a JSON pointer into the body, or a header) and why. */
export interface ProblemError {
  /** RFC 6901 pointer into the JSON body, e.g. `/content/text/body`; `""` is the whole body. */
  readonly pointer?: string;
  /** The request header at fault, e.g. `Idempotency-Key`. */
  readonly header?: string;
  readonly detail: string;
}

/** RFC 9457 problem details, the body of every error answer of the send API. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly errors?: readonly ProblemError[];
  /** The original request id, on an idempotency conflict. */
  readonly requestId?: string;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The problem types of the send API (docs/send-api.md, "Errors"); one per distinct fix. */
export const problemTypes = {
  invalidRequest: "urn:parley:problem:invalid-request",
  malformedJson: "urn:parley:problem:malformed-json",
  unauthorized: "urn:parley:problem:unauthorized",
  forbidden: "urn:parley:problem:insufficient-scope",
  notFound: "urn:parley:problem:not-found",
  methodNotAllowed: "urn:parley:problem:method-not-allowed",
  idempotencyConflict: "urn:parley:problem:idempotency-key-conflict",
  tooLarge: "urn:parley:problem:body-too-large",
  unsupportedMediaType: "urn:parley:problem:unsupported-media-type",
  rateLimited: "urn:parley:problem:rate-limited",
  unavailable: "urn:parley:problem:unavailable",
} as const;

/** `["content", "components", 0, "text"]` → `/content/components/0/text` (RFC 6901 escaping). */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path
    .map((part) => `/${String(part).replaceAll("~", "~0").replaceAll("/", "~1")}`)
    .join("");
}

export const problems = {
  invalidRequest: (errors: readonly ProblemError[]): Problem => ({
    type: problemTypes.invalidRequest,
    title: "Invalid send request",
    status: 400,
    detail: `${errors.length === 1 ? "1 issue" : `${errors.length} issues`}; nothing was published`,
    errors,
  }),
  malformedJson: (): Problem => ({
    type: problemTypes.malformedJson,
    title: "Malformed JSON",
    status: 400,
    detail: "the body is not valid JSON",
  }),
  unauthorized: (detail: string): Problem => ({
    type: problemTypes.unauthorized,
    title: "Unauthorized",
    status: 401,
    detail,
  }),
  forbidden: (scope: string): Problem => ({
    type: problemTypes.forbidden,
    title: "Insufficient scope",
    status: 403,
    detail: `this API key lacks the scope ${scope}`,
  }),
  notFound: (detail: string): Problem => ({
    type: problemTypes.notFound,
    title: "Not Found",
    status: 404,
    detail,
  }),
  methodNotAllowed: (allow: string): Problem => ({
    type: problemTypes.methodNotAllowed,
    title: "Method Not Allowed",
    status: 405,
    detail: `allowed: ${allow}`,
  }),
  idempotencyConflict: (requestId: string): Problem => ({
    type: problemTypes.idempotencyConflict,
    title: "Idempotency key reused with a different request",
    status: 409,
    detail:
      "this Idempotency-Key was first used for a different request body; use a new key for a new send",
    requestId,
  }),
  tooLarge: (limitBytes: number): Problem => ({
    type: problemTypes.tooLarge,
    title: "Content Too Large",
    status: 413,
    detail: `the body limit is ${limitBytes} bytes`,
  }),
  unsupportedMediaType: (detail: string): Problem => ({
    type: problemTypes.unsupportedMediaType,
    title: "Unsupported Media Type",
    status: 415,
    detail,
  }),
  rateLimited: (): Problem => ({
    type: problemTypes.rateLimited,
    title: "Too Many Requests",
    status: 429,
    detail: "this API key is over its request rate; retry after the Retry-After delay",
  }),
  unavailable: (detail: string): Problem => ({
    type: problemTypes.unavailable,
    title: "Service Unavailable",
    status: 503,
    detail,
  }),
};
