// Template management (reference §6): the message_templates edge, status changes with their
// webhooks, and pacing: held sends released, or dropped with the template paused.
import type { CreateTemplateRequest, TemplateStatus } from "@parley/cloud-api";
import { numericId } from "./ids.js";
import type { Quotas } from "./quotas.js";
import type { Responder } from "./responses.js";
import { isObject, type Engine, type NumberState, type OutRecord } from "./state.js";
import type { Statuses } from "./statuses.js";
import { toGraph, type SimTemplate } from "./templates.js";
import type { SimRequest, SimResponse } from "./types.js";

/** First and second pause lengths (reference §6, [U]); the third pause disables the template. */
const PAUSE_MS = [3 * 3_600_000, 6 * 3_600_000] as const;

export interface TemplateApi {
  endpoint(wabaId: string, req: SimRequest, version: string): SimResponse;
  setStatus(
    t: SimTemplate,
    status: TemplateStatus,
    otherInfo?: { title: string; description: string },
  ): void;
  find(wabaId: string, name: string, language: string): SimTemplate | undefined;
  /**
   * A paced template's send is held: after the template's `afterMs` it is released (statuses
   * follow) or, if pacing drops, the template is paused and every message held for it fails
   * with 132015.
   */
  hold(t: SimTemplate, m: OutRecord, pn: NumberState, o: { inWindow: boolean }): void;
}

export function createTemplateApi(
  engine: Engine,
  r: Responder,
  quotas: Quotas,
  statuses: Statuses,
): TemplateApi {
  const { clock, emitter, templates, config, rng } = engine;
  const creations = new Map<string, number[]>();
  /** Held sends per template (`wabaId:name:language`), in send order. */
  const held = new Map<string, { m: OutRecord; pn: NumberState; inWindow: boolean }[]>();
  const pauses = new Map<string, number>();

  function key(t: SimTemplate): string {
    return `${t.wabaId}:${t.name}:${t.language}`;
  }

  function setStatus(
    t: SimTemplate,
    status: TemplateStatus,
    otherInfo?: { title: string; description: string },
  ): void {
    t.status = status;
    emitter.schedule(
      {
        kind: "field",
        wabaId: t.wabaId,
        field: "message_template_status_update",
        value: {
          event: status,
          message_template_id: Number(t.id),
          message_template_name: t.name,
          message_template_language: t.language,
          message_template_category: t.category,
          reason: "NONE",
          ...(otherInfo !== undefined ? { other_info: otherInfo } : {}),
        },
      },
      clock.now(),
    );
  }

  function setQuality(t: SimTemplate, score: SimTemplate["quality"]): void {
    const previous = t.quality;
    if (previous === score) return;
    t.quality = score;
    emitter.schedule(
      {
        kind: "field",
        wabaId: t.wabaId,
        field: "message_template_quality_update",
        value: {
          previous_quality_score: previous,
          new_quality_score: score,
          message_template_id: Number(t.id),
          message_template_name: t.name,
          message_template_language: t.language,
        },
      },
      clock.now(),
    );
  }

  /** Bad early feedback: the template pauses (or is disabled on the third pause). */
  function pause(t: SimTemplate): void {
    if (t.status !== "APPROVED") return;
    const n = (pauses.get(key(t)) ?? 0) + 1;
    pauses.set(key(t), n);
    setQuality(t, "RED");
    const length = PAUSE_MS[n - 1];
    if (length === undefined) {
      setStatus(t, "DISABLED");
      return;
    }
    setStatus(t, "PAUSED", {
      title: n === 1 ? "FIRST_PAUSE" : "SECOND_PAUSE",
      description: `Paused for ${String(length / 3_600_000)} hours after low-quality feedback on held messages.`,
    });
    engine.later(length, () => {
      if (t.status !== "PAUSED") return;
      setStatus(t, "REINSTATED");
      t.status = "APPROVED";
      setQuality(t, "YELLOW");
    });
  }

  function settle(t: SimTemplate): void {
    const k = key(t);
    const list = held.get(k) ?? [];
    held.delete(k);
    const pacing = t.pacing;
    if (pacing?.outcome === "drop") {
      pause(t);
      for (const h of list) statuses.fail(h.m, h.pn, 132015, 0);
      return;
    }
    for (const h of list) {
      statuses.schedule(h.m, h.pn, {
        onlySent: false,
        inWindow: h.inWindow,
        category: t.category.toLowerCase(),
      });
    }
  }

  function create(
    wabaId: string,
    req: SimRequest,
    version: string,
    usage: Record<string, string>,
  ): SimResponse {
    let def: unknown;
    try {
      def = JSON.parse(req.body.toString("utf8"));
    } catch {
      return r.error(100, version, { details: "The request body is not JSON." }, usage);
    }
    if (!isObject(def))
      return r.error(100, version, { details: "The request body must be a JSON object." }, usage);
    const d = def as Partial<Record<keyof CreateTemplateRequest, unknown>>;
    if (typeof d.name !== "string" || !/^[a-z0-9_]{1,512}$/.test(d.name))
      return r.error(
        100,
        version,
        { details: "Invalid parameter: name must be lowercase alphanumerics and underscores." },
        usage,
      );
    if (d.category !== "MARKETING" && d.category !== "UTILITY" && d.category !== "AUTHENTICATION")
      return r.error(
        100,
        version,
        { details: "Invalid parameter: category must be MARKETING, UTILITY or AUTHENTICATION." },
        usage,
      );
    if (typeof d.language !== "string")
      return r.error(
        d.language === undefined ? 131008 : 100,
        version,
        { details: "Invalid parameter: language must be a string." },
        usage,
      );
    if (
      d.parameter_format !== undefined &&
      d.parameter_format !== "POSITIONAL" &&
      d.parameter_format !== "NAMED"
    )
      return r.error(
        100,
        version,
        { details: "Invalid parameter: parameter_format must be POSITIONAL or NAMED." },
        usage,
      );
    if (!Array.isArray(d.components))
      return r.error(
        d.components === undefined ? 131008 : 100,
        version,
        { details: "Invalid parameter: components must be an array." },
        usage,
      );
    for (const [i, c] of d.components.entries()) {
      const bad = !isObject(c)
        ? ""
        : typeof c["type"] !== "string"
          ? ".type"
          : c["text"] !== undefined && typeof c["text"] !== "string"
            ? ".text"
            : c["format"] !== undefined && typeof c["format"] !== "string"
              ? ".format"
              : undefined;
      if (bad !== undefined)
        return r.error(
          100,
          version,
          { details: `Invalid parameter: components[${String(i)}]${bad} has the wrong type.` },
          usage,
        );
    }
    // At most templateCreationsPerHour creations per WABA in a moving hour (reference §3.5).
    const now = clock.now();
    const created = (creations.get(wabaId) ?? []).filter((t) => t > now - 3_600_000);
    creations.set(wabaId, created);
    if (created.length >= config.templateCreationsPerHour) {
      return r.error(
        80007,
        version,
        {
          details: `Template creation limit reached: ${String(config.templateCreationsPerHour)} per WhatsApp Business Account per hour.`,
        },
        usage,
      );
    }
    if (templates.has(`${wabaId}:${d.name}:${d.language}`))
      return r.error(
        100,
        version,
        { subcode: 2388023, details: "Content in this language already exists" },
        usage,
      );
    const t: SimTemplate = {
      id: numericId(rng.ids),
      wabaId,
      name: d.name,
      language: d.language,
      category: d.category,
      status: "PENDING",
      parameterFormat: d.parameter_format ?? "POSITIONAL",
      components: d.components as SimTemplate["components"],
      quality: "UNKNOWN",
    };
    templates.set(key(t), t);
    created.push(now);
    engine.later(config.templateReviewMs, () => {
      if (t.status === "PENDING") setStatus(t, "APPROVED");
    });
    return r.answer(200, { id: t.id, status: t.status, category: t.category }, version, usage);
  }

  return {
    setStatus,
    find: (wabaId, name, language) => templates.get(`${wabaId}:${name}:${language}`),
    hold(t, m, pn, o) {
      const k = key(t);
      let list = held.get(k);
      if (list === undefined) {
        list = [];
        held.set(k, list);
        const afterMs = t.pacing?.afterMs ?? 0;
        engine.later(afterMs, () => {
          settle(t);
        });
      }
      list.push({ m, pn, inWindow: o.inWindow });
    },
    endpoint(wabaId, req, version) {
      if (!quotas.countManagementCall(wabaId))
        return r.error(80007, version, {}, quotas.usageHeader(wabaId));
      const usage = quotas.usageHeader(wabaId);
      const own = [...templates.values()].filter((t) => t.wabaId === wabaId);
      if (req.method === "GET") {
        const status = req.query.get("status");
        const name = req.query.get("name");
        const list = own.filter(
          (t) => (status === null || t.status === status) && (name === null || t.name === name),
        );
        const limit = Math.max(1, Math.min(1000, Number(req.query.get("limit") ?? "25") || 25));
        const after = req.query.get("after");
        const start =
          after === null ? 0 : Number(Buffer.from(after, "base64url").toString("utf8")) + 1;
        if (!Number.isInteger(start) || start < 0)
          return r.error(100, version, { details: "Invalid cursor" }, usage);
        const page = list.slice(start, start + limit);
        const cursor = (i: number): string => Buffer.from(String(i)).toString("base64url");
        const last = start + page.length - 1;
        const hasMore = start + page.length < list.length;
        const next = new URLSearchParams(req.query);
        next.set("after", cursor(last));
        next.delete("access_token");
        return r.answer(
          200,
          {
            data: page.map(toGraph),
            paging: {
              ...(page.length > 0
                ? { cursors: { before: cursor(start), after: cursor(last) } }
                : {}),
              ...(hasMore
                ? {
                    next: `${engine.baseUrl}/${version}/${wabaId}/message_templates?${next.toString()}`,
                  }
                : {}),
            },
          },
          version,
          usage,
        );
      }
      if (req.method === "POST") return create(wabaId, req, version, usage);
      if (req.method === "DELETE") {
        const name = req.query.get("name");
        const hsmId = req.query.get("hsm_id");
        const doomed = own.filter((t) => t.name === name && (hsmId === null || t.id === hsmId));
        if (doomed.length === 0)
          return r.error(100, version, { details: `Template ${name ?? ""} not found` }, usage);
        for (const t of doomed) templates.delete(key(t));
        return r.answer(200, { success: true }, version, usage);
      }
      return r.error(
        100,
        version,
        {
          subcode: 33,
          message: `Unsupported ${req.method.toLowerCase()} request.`,
        },
        usage,
      );
    },
  };
}
