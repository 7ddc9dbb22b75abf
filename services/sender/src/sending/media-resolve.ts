import type { EventData } from "@parley/contracts";
import type { DispatchEvent } from "../domain/dispatch.js";
import { parleyMediaIds } from "../domain/media.js";
import { sleep } from "./abort-hub.js";
import type { MediaResolver } from "./ports.js";
import { StoppedError } from "./sleep.js";

export interface MediaResolveDeps {
  /** The media service; none: a Parley media id cannot be sent. */
  readonly media: MediaResolver | undefined;
  /** The back-off while the media service is unavailable (default 1 s doubling to 30 s). */
  readonly retry: { readonly initialMs: number; readonly maxMs: number } | undefined;
  readonly logger: {
    warn(fields: Record<string, unknown>, message: string): void;
  };
}

/**
 * The Graph media id of each Parley upload the content names, for this number (ADR 0013,
 * "Outbound"). A refusal (object gone, file refused by Graph, no media service configured)
 * fails the request without a call; an outage is waited out (never a failure, never a call),
 * until the dispatch stops.
 */
export async function resolveMedia(
  { media, retry = { initialMs: 1_000, maxMs: 30_000 }, logger }: MediaResolveDeps,
  d: EventData<"DispatchMessage">,
  number: string,
  signal: AbortSignal,
): Promise<DispatchEvent> {
  const ids = parleyMediaIds(d.content);
  if (media === undefined)
    return {
      type: "MediaRefused",
      detail: `${ids.join(", ")}: a Parley media id needs the media service, and none is configured (MEDIA_API_URL)`,
    };
  const graphIds: Record<string, string> = {};
  for (const id of ids) {
    for (let tries = 0; ; tries++) {
      const r = await media.resolve(id, number, signal);
      if (r.kind === "resolved") {
        graphIds[id] = r.graphMediaId;
        break;
      }
      if (r.kind === "refused") return { type: "MediaRefused", detail: `${id}: ${r.detail}` };
      const delayMs = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(tries, 20));
      logger.warn(
        { requestId: d.requestId, businessNumber: number, mediaId: id, delayMs, err: r.detail },
        "media service unavailable: the send waits for it (never failed, never sent without its media)",
      );
      if (!(await sleep(delayMs, signal))) throw new StoppedError();
    }
  }
  return { type: "MediaResolved", graphIds };
}
