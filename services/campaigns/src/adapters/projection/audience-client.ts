import { ParleyError, sleep } from "@parley/errors";
import {
  paramsOfMember,
  searchOf,
  type AudienceQuery,
  type MemberValues,
} from "../../audience/query.js";
import type { AudienceRow } from "../../domain/plan.js";

/** The projection refused the campaigns service's query (its key, its scope, the query). */
export class AudienceQueryRefusedError extends ParleyError {
  override readonly name = "AudienceQueryRefusedError";
  constructor(status: number, detail: string) {
    super(`the projection's query API refused the audience query (${status}): ${detail}`, {
      retry: "never",
    });
  }
}

/** The projection's query API did not answer (down, 503, rate-limited past the retries). */
export class AudienceQueryUnavailableError extends ParleyError {
  override readonly name = "AudienceQueryUnavailableError";
  constructor(detail: string) {
    super(`the projection's query API is unavailable: ${detail}`, { retry: "outage" });
  }
}

interface Page {
  readonly items: readonly MemberValues[];
  readonly next?: string;
}

/**
 * The members of a query audience as audience rows, read from the projection's query API
 * (`GET /v1/audience`) a page at a time with its cursor: at most one page in memory, never the
 * whole audience. 429 and 503 wait (Retry-After, at most `maxWaitMs` each) and ask again; 4xx
 * is refused for good. Rows are numbered in the API's order (contact id): the plan's cursor.
 */
export function createProjectionAudience({
  url,
  token,
  pageSize = 1_000,
  attempts = 30,
  maxWaitMs = 5_000,
  timeoutMs = 30_000,
}: {
  url: string;
  token: string;
  pageSize?: number;
  attempts?: number;
  maxWaitMs?: number;
  timeoutMs?: number;
}) {
  const fetchPage = async (search: URLSearchParams): Promise<Page> => {
    let last = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${url.replace(/\/$/, "")}/v1/audience?${search.toString()}`, {
          headers: { authorization: `Bearer ${token}`, accept: "application/json" },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
        await sleep(Math.min(maxWaitMs, 200 * attempt));
        continue;
      }
      if (res.status === 200) return (await res.json()) as Page;
      const body = await res.text();
      if (res.status === 429 || res.status >= 500) {
        last = `${res.status} ${body.slice(0, 200)}`;
        const after = Number(res.headers.get("retry-after") ?? "1");
        await sleep(Math.min(maxWaitMs, Number.isFinite(after) ? after * 1_000 : 1_000));
        continue;
      }
      throw new AudienceQueryRefusedError(res.status, body.slice(0, 500));
    }
    throw new AudienceQueryUnavailableError(last);
  };

  return async function* rows(query: AudienceQuery & { at: string }): AsyncGenerator<AudienceRow> {
    const base = searchOf(query);
    base.set("limit", String(pageSize));
    const params = query.params ?? {};
    const perMember = query.paramsFrom !== undefined;
    let cursor: string | undefined;
    let index = 0;
    for (;;) {
      const search = new URLSearchParams(base);
      if (cursor !== undefined) search.set("cursor", cursor);
      const page = await fetchPage(search);
      for (const m of page.items) {
        yield {
          ok: true,
          index,
          line: index + 1,
          phone: m.contactId,
          params: perMember ? paramsOfMember(query, m) : params,
          ...(query.timeZone === undefined ? {} : { timeZone: query.timeZone }),
        };
        index++;
      }
      if (page.next === undefined) return;
      cursor = page.next;
    }
  };
}
export type ProjectionAudience = ReturnType<typeof createProjectionAudience>;
