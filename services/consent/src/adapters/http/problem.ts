/** RFC 9457 problem details, the body of every error answer of the consent API. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  /** Each refused field and why. */
  readonly errors?: readonly { readonly field: string; readonly detail: string }[];
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The problem types of the consent API (docs/consent-api.md, "Errors"); one per distinct fix. */
export const problems = {
  invalid: (errors: readonly { field: string; detail: string }[]): Problem => ({
    type: "urn:parley:problem:invalid-request",
    title: "Invalid request",
    status: 400,
    detail: errors.length === 1 ? "1 field refused" : `${String(errors.length)} fields refused`,
    errors,
  }),
  unauthorized: (detail: string): Problem => ({
    type: "urn:parley:problem:unauthorized",
    title: "Unauthorized",
    status: 401,
    detail,
  }),
  forbidden: (scope: string): Problem => ({
    type: "urn:parley:problem:insufficient-scope",
    title: "Insufficient scope",
    status: 403,
    detail: `this API key lacks the scope ${scope}`,
  }),
  notFound: (detail: string): Problem => ({
    type: "urn:parley:problem:not-found",
    title: "Not Found",
    status: 404,
    detail,
  }),
  erased: (detail: string): Problem => ({
    type: "urn:parley:problem:contact-erased",
    title: "Contact erased",
    status: 409,
    detail,
  }),
  tooLarge: (limit: number): Problem => ({
    type: "urn:parley:problem:too-large",
    title: "Payload Too Large",
    status: 413,
    detail: `the body is over ${String(limit)} bytes`,
  }),
  unavailable: (detail: string): Problem => ({
    type: "urn:parley:problem:unavailable",
    title: "Service Unavailable",
    status: 503,
    detail,
  }),
  internal: (): Problem => ({ type: "about:blank", title: "Internal Server Error", status: 500 }),
};
