/** RFC 9457 problem details, the body of every error answer of the query API. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  /** Each refused query parameter and why. */
  readonly errors?: readonly { readonly parameter: string; readonly detail: string }[];
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The problem types of the query API (docs/projection-api.md, "Errors"); one per distinct fix. */
export const problemTypes = {
  invalidParameter: "urn:parley:problem:invalid-parameter",
  unauthorized: "urn:parley:problem:unauthorized",
  forbidden: "urn:parley:problem:insufficient-scope",
  notFound: "urn:parley:problem:not-found",
  methodNotAllowed: "urn:parley:problem:method-not-allowed",
  rateLimited: "urn:parley:problem:rate-limited",
  unavailable: "urn:parley:problem:unavailable",
} as const;

export const problems = {
  invalidParameters: (errors: readonly { parameter: string; detail: string }[]): Problem => ({
    type: problemTypes.invalidParameter,
    title: "Invalid query parameters",
    status: 400,
    detail:
      errors.length === 1 ? "1 parameter refused" : `${String(errors.length)} parameters refused`,
    errors,
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
  methodNotAllowed: (): Problem => ({
    type: problemTypes.methodNotAllowed,
    title: "Method Not Allowed",
    status: 405,
    detail: "allowed: GET, HEAD",
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
  internal: (): Problem => ({ type: "about:blank", title: "Internal Server Error", status: 500 }),
};
