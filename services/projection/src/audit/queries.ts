import type { GenerationInfo } from "../generations/ports.js";
import { encodeCursor } from "../queries/params.js";
import { UnknownGenerationError, type Page } from "../queries/queries.js";
import { phone, type Audience } from "../queries/views.js";
import type { AuditEntry } from "./entry.js";
import type { AuditListParams } from "./params.js";
import type { AuditLog, AuditQuery } from "./ports.js";

/** An audit entry as the API answers it (phone numbers in its target masked without pii). */
export interface AuditView {
  readonly eventId: string;
  readonly at: string;
  readonly action: string;
  readonly service: string;
  readonly actor: { readonly id: string; readonly method: string; readonly role?: string };
  readonly method?: string;
  readonly route?: string;
  readonly status?: number;
  readonly target: Readonly<Record<string, string>>;
  readonly details?: AuditEntry["details"];
  readonly correlationId: string;
}

export function auditView(entry: AuditEntry, audience: Audience): AuditView {
  const target: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry.target))
    target[name] = phone(value, audience) ?? value;
  return {
    eventId: entry._id,
    at: entry.at,
    action: entry.action,
    service: entry.service,
    actor: {
      id: entry.actorId,
      method: entry.authMethod,
      ...(entry.role === undefined ? {} : { role: entry.role }),
    },
    ...(entry.method === undefined ? {} : { method: entry.method }),
    ...(entry.route === undefined ? {} : { route: entry.route }),
    ...(entry.status === undefined ? {} : { status: entry.status }),
    target,
    ...(entry.details === undefined ? {} : { details: entry.details }),
    correlationId: entry.correlationId,
  };
}

/** The filters of the parameters, as the port takes them. */
export function auditQueryOf(p: AuditListParams): AuditQuery {
  const wildcard = p.action?.endsWith(".*") === true;
  return {
    ...(p.actor === undefined ? {} : { actorId: p.actor }),
    ...(p.action === undefined
      ? {}
      : wildcard
        ? { area: p.action.slice(0, -2) }
        : { action: p.action }),
    ...(p.service === undefined ? {} : { service: p.service }),
    ...(p.target === undefined ? {} : { target: p.target }),
    ...(p.from === undefined ? {} : { from: p.from }),
    ...(p.to === undefined ? {} : { to: p.to }),
    ...(p.cursor === undefined ? {} : { cursor: p.cursor }),
    limit: p.limit,
  };
}

export interface AuditQueries {
  list(p: AuditListParams, audience: Audience): Promise<Page<AuditView>>;
}

/** `GET /v1/audit` over the active generation (or the one asked for). */
export function createAuditQueries({
  log,
  generations,
  active,
}: {
  readonly log: Pick<AuditLog, "list">;
  readonly generations: { get(generation: number): Promise<GenerationInfo | undefined> };
  readonly active: () => number;
}): AuditQueries {
  return {
    async list(p, audience) {
      let generation = active();
      if (p.generation !== undefined) {
        if ((await generations.get(p.generation)) === undefined)
          throw new UnknownGenerationError(p.generation);
        generation = p.generation;
      }
      const found = await log.list(generation, auditQueryOf(p));
      const items = found.slice(0, p.limit);
      const last = items.at(-1);
      return {
        items: items.map((e) => auditView(e, audience)),
        ...(found.length > p.limit && last !== undefined
          ? { next: encodeCursor({ at: last.at, id: last._id }) }
          : {}),
      };
    },
  };
}
