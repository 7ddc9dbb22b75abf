import { z } from "zod";
import type { MediaResolution, MediaResolver } from "../../sending/ports.js";

const answer = z.object({ graphMediaId: z.string().min(1) });
const problem = z.looseObject({ detail: z.string().optional(), title: z.string().optional() });

/**
 * The media service's `POST /v1/media/{id}/graph-ids/{phoneNumberId}` (ADR 0013, "Outbound"),
 * with the sender's key (scope `send`), bounded by `timeoutMs` (the first send of a file waits
 * for its upload to Graph). Translates the answer only: 200 is the Graph media id; 404 (the
 * object is gone) and 422 (Graph refused the file), or any other 4xx but 401/403, are final;
 * 401/403 (the sender's key), 5xx, no answer or an unexpected body are an outage.
 */
export function createMediaClient({
  url,
  key,
  timeoutMs,
  fetchImpl = fetch,
}: {
  readonly url: string;
  readonly key: string;
  readonly timeoutMs: number;
  readonly fetchImpl?: typeof fetch;
}): MediaResolver {
  const base = url.replace(/\/+$/, "");
  return {
    async resolve(mediaId, number, signal): Promise<MediaResolution> {
      let res: Response;
      try {
        res = await fetchImpl(
          `${base}/v1/media/${encodeURIComponent(mediaId)}/graph-ids/${encodeURIComponent(number)}`,
          {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, accept: "application/json" },
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
          },
        );
      } catch (error) {
        return {
          kind: "unavailable",
          detail: `the media service did not answer: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
      const body: unknown = await res.json().catch(() => undefined);
      if (res.status === 200) {
        const parsed = answer.safeParse(body);
        return parsed.success
          ? { kind: "resolved", graphMediaId: parsed.data.graphMediaId }
          : { kind: "unavailable", detail: "the media service answered 200 with no graphMediaId" };
      }
      const said = problem.safeParse(body);
      const detail = said.success ? (said.data.detail ?? said.data.title ?? "") : "";
      const status = String(res.status);
      if (res.status === 401 || res.status === 403)
        return {
          kind: "unavailable",
          detail: `the media service refused the sender's key (${status}): check MEDIA_API_KEY and its scope send`,
        };
      if (res.status === 404)
        return { kind: "refused", detail: `no such media (404)${detail ? `: ${detail}` : ""}` };
      if (res.status === 422)
        return {
          kind: "refused",
          detail: `Graph refused the file (422)${detail ? `: ${detail}` : ""}`,
        };
      if (res.status >= 400 && res.status < 500)
        return {
          kind: "refused",
          detail: `the media service refused it (${status})${detail ? `: ${detail}` : ""}`,
        };
      return {
        kind: "unavailable",
        detail: `the media service answered ${status}${detail ? `: ${detail}` : ""}`,
      };
    },
  };
}
