import { apiProblems, type Problem } from "@parley/runtime";

/** The consent API's own problem types beside the chassis's (docs/consent-api.md, "Errors"). */
export const problems = {
  invalid: (errors: readonly { field: string; detail: string }[]): Problem => ({
    type: "urn:parley:problem:invalid-request",
    title: "Invalid request",
    status: 400,
    detail: errors.length === 1 ? "1 field refused" : `${String(errors.length)} fields refused`,
    errors,
  }),
  notFound: apiProblems.notFound,
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
  unavailable: apiProblems.unavailable,
  internal: apiProblems.internal,
};
