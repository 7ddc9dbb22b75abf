// What makes two webhook facts "the same" (invariant 3), declared once: the parser derives event
// ids from these names, the decider dedupes on them.

/** An inbound message is identified by its wamid alone. */
export const inboundIdentity = (wamid: string): string => `inbound:${wamid}`;

/** A status by (wamid, status), per participant for group sends. */
export const statusIdentity = (wamid: string, status: string, participant?: string): string =>
  participant === undefined
    ? `status:${wamid}:${status}`
    : `status:${wamid}:${status}:${participant}`;
