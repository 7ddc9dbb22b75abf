import type { EventData } from "@parley/contracts";

/**
 * Parley uploads named in a message (ADR 0013, "Outbound"): a media reference whose `id`
 * starts with `up_` is an object of the media API, turned into the sending number's Graph media
 * id just before the call. Graph's own ids are digits, so the two never collide. Pure.
 */
type Content = EventData<"DispatchMessage">["content"];

/** The prefix of a Parley media id. */
export const PARLEY_MEDIA_PREFIX = "up_";

/** The keys whose value is a media reference, wherever they sit in a message (body, header, parameter). */
const MEDIA_KEYS = new Set(["image", "video", "audio", "document", "sticker"]);

const isParleyId = (v: unknown): v is string =>
  typeof v === "string" && v.startsWith(PARLEY_MEDIA_PREFIX);

/** Walks `value`, giving each media reference found to `visit`; returns what `visit` makes of it. */
function mapRefs(value: unknown, visit: (ref: Record<string, unknown>) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => mapRefs(v, visit));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>))
    out[k] =
      MEDIA_KEYS.has(k) && typeof v === "object" && v !== null && !Array.isArray(v)
        ? visit(v as Record<string, unknown>)
        : mapRefs(v, visit);
  return out;
}

/** The distinct Parley media ids the content names, in order of appearance. */
export function parleyMediaIds(content: Content): string[] {
  const ids: string[] = [];
  mapRefs(content, (ref) => {
    if (isParleyId(ref["id"]) && !ids.includes(ref["id"])) ids.push(ref["id"]);
    return ref;
  });
  return ids;
}

/** The content with each Parley media id replaced by its Graph media id (others untouched). */
export function withGraphMediaIds(
  content: Content,
  graphIds: Readonly<Record<string, string>>,
): Content {
  return mapRefs(content, (ref) => {
    const id = ref["id"];
    const graphId = isParleyId(id) ? graphIds[id] : undefined;
    return graphId === undefined ? ref : { ...ref, id: graphId };
  }) as Content;
}
