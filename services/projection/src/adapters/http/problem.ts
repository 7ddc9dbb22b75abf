import { apiProblems, type Problem } from "@parley/runtime";

export type { Problem };

/** The query API's own problem types beside the chassis's (docs/projection-api.md, "Errors"). */
export const problemTypes = {
  invalidParameter: "urn:parley:problem:invalid-parameter",
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
  notFound: apiProblems.notFound,
  methodNotAllowed: (): Problem => ({
    type: problemTypes.methodNotAllowed,
    title: "Method Not Allowed",
    status: 405,
    detail: "allowed: GET, HEAD",
  }),
  rateLimited: apiProblems.rateLimited,
  unavailable: apiProblems.unavailable,
  internal: apiProblems.internal,
};
