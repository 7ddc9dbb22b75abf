/** `YYYY-MM-DDTHH:mm:ss.sssZ`, as Date#toISOString writes: ordered as text as it is in time. */
const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Whether an instant is after `bound` (ms; at or after it with `inclusive`): compared as text
 * with the bound's canonical form when the instant has that form too (no parse: the states'
 * retention runs over every remembered identity on every decision), by Date.parse otherwise
 * (other offsets and precisions; a text that is no time is never after).
 */
export function instantsAfter(bound: number, { inclusive = false } = {}): (at: string) => boolean {
  const date = new Date(bound);
  const text = Number.isNaN(date.getTime()) ? undefined : date.toISOString();
  const canonical = text?.length === 24 ? text : undefined;
  return (at) => {
    if (canonical !== undefined && at.length === 24 && CANONICAL_INSTANT.test(at)) {
      return inclusive ? at >= canonical : at > canonical;
    }
    const t = Date.parse(at);
    return inclusive ? t >= bound : t > bound;
  };
}

/** The list itself when every item passes (no copy), else the items that pass. */
export function keepAll<T>(list: readonly T[], pass: (item: T) => boolean): readonly T[] {
  return list.every(pass) ? list : list.filter(pass);
}
