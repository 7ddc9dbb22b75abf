import type { Response } from "express";

/** RFC 9457 problem details, the body of every error answer of every Parley API. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  /** Members an API adds (its `errors` list, a `requestId`). */
  readonly [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Sends a problem (or, once a streamed answer has begun, cuts the connection: no half bodies). */
export function sendProblem(res: Response, problem: Problem): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/** The problems every API shares; one type per distinct fix (docs/access-control.md). */
export const apiProblems = {
  unauthorized: (detail: string): Problem => ({
    type: "urn:parley:problem:unauthorized",
    title: "Unauthorized",
    status: 401,
    detail,
  }),
  forbidden: (scope: string, who: string): Problem => ({
    type: "urn:parley:problem:insufficient-scope",
    title: "Insufficient scope",
    status: 403,
    detail: `${who} lacks the scope ${scope}`,
    scope,
  }),
  notFound: (detail: string): Problem => ({
    type: "urn:parley:problem:not-found",
    title: "Not Found",
    status: 404,
    detail,
  }),
  rateLimited: (): Problem => ({
    type: "urn:parley:problem:rate-limited",
    title: "Too Many Requests",
    status: 429,
    detail: "this API key is over its request rate; retry after the Retry-After delay",
  }),
  unavailable: (detail: string): Problem => ({
    type: "urn:parley:problem:unavailable",
    title: "Service Unavailable",
    status: 503,
    detail,
  }),
  internal: (): Problem => ({ type: "about:blank", title: "Internal Server Error", status: 500 }),
};
