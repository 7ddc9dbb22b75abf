import { z } from "zod";
import {
  OutcomesUnavailableError,
  type ProjectedRequest,
  type RequestOutcomes,
} from "../../sending/outcomes.js";

const status = z.object({
  status: z.string(),
  at: z.string(),
  errors: z.array(z.object({ code: z.number(), title: z.string().optional() })).optional(),
});
const answer = z.object({
  status: z.string(),
  final: z.looseObject({ status: z.string() }),
  original: z.object({ requestId: z.string(), final: z.looseObject({}) }).optional(),
  messages: z.array(
    z.object({ wamid: z.string(), status: z.string().optional(), timeline: z.array(status) }),
  ),
});

/**
 * The projection's query API as the send API's GET uses it (ADR 0011): `GET
 * /v1/requests/{requestId}` with ingress's own service key (scopes `read` and `pii`: the caller
 * made the request), bounded by `timeoutMs`. 404 is "not projected yet"; anything else that is
 * not a 200 with the expected shape is the projection being unavailable.
 */
export function createProjectionClient({
  url,
  key,
  timeoutMs,
  fetchImpl = fetch,
}: {
  readonly url: string;
  readonly key: string;
  readonly timeoutMs: number;
  readonly fetchImpl?: typeof fetch;
}): RequestOutcomes {
  const base = url.replace(/\/+$/, "");
  return {
    async lookup(requestId): Promise<ProjectedRequest | undefined> {
      let res: Response;
      try {
        res = await fetchImpl(`${base}/v1/requests/${encodeURIComponent(requestId)}`, {
          headers: { authorization: `Bearer ${key}`, accept: "application/json" },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new OutcomesUnavailableError(
          `the projection's query API did not answer: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new OutcomesUnavailableError(
          `the projection's query API answered ${String(res.status)}`,
        );
      }
      const parsed = answer.safeParse(await res.json().catch(() => undefined));
      if (!parsed.success)
        throw new OutcomesUnavailableError(
          "the projection's query API answered an unexpected body",
        );
      return parsed.data;
    },
  };
}
