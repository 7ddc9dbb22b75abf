// POST /{phone-number-id}/messages: a send (every message type), mark-as-read and the typing
// indicator, with Meta's synchronous checks in Meta's order and the asynchronous outcomes.
import { MessageValidationError, validateMessage, type OutboundMessage } from "@parley/cloud-api";
import { wamid } from "./ids.js";
import type { ScriptedFault } from "./options.js";
import type { Quotas } from "./quotas.js";
import type { Recipients } from "./recipients.js";
import type { Responder } from "./responses.js";
import { sendShapeProblem } from "./send-shape.js";
import {
  bounded,
  DAY,
  isObject,
  OutRecord,
  trimFront,
  type Engine,
  type NumberState,
} from "./state.js";
import type { Statuses } from "./statuses.js";
import type { TemplateApi } from "./template-api.js";
import { checkTemplateSend, type SimTemplate } from "./templates.js";
import type { SimResponse } from "./types.js";

export type FailAsync = Extract<ScriptedFault, { kind: "fail-async" }>;

export interface SendApi {
  send(
    pn: NumberState,
    raw: Buffer,
    version: string,
    afterAccept: boolean,
    failAsync?: FailAsync,
  ): SimResponse;
}

export function createSendApi(
  engine: Engine,
  r: Responder,
  quotas: Quotas,
  recipients: Recipients,
  statuses: Statuses,
  templateApi: TemplateApi,
): SendApi {
  const { clock, config, messages, inbound, media, rng } = engine;

  function mediaRefProblem(pn: NumberState, msg: OutboundMessage): string | undefined {
    const ref: unknown = (msg as unknown as Record<string, unknown>)[msg.type];
    if (!isObject(ref) || typeof ref["id"] !== "string") return undefined;
    const item = media.get(ref["id"]);
    if (!item || item.expiresAt <= clock.now())
      return `media id ${ref["id"]} does not exist or has expired`;
    if (item.phoneNumberId !== pn.id)
      return `media id ${ref["id"]} belongs to another phone number`;
    return undefined;
  }

  function reactionTargetOk(target: string, now: number): boolean {
    const inb = inbound.get(target);
    if (inb) return now - inb.at <= 30 * DAY;
    const out = messages.get(target);
    return out !== undefined && out.type !== "reaction" && now - out.acceptedAt <= 30 * DAY;
  }

  function markRead(
    pn: NumberState,
    body: Record<string, unknown>,
    version: string,
    usage: Record<string, string>,
  ): SimResponse {
    const id = body["message_id"];
    const now = clock.now();
    const rec = typeof id === "string" ? inbound.get(id) : undefined;
    if (!rec || rec.phoneNumberId !== pn.id || now - rec.at > 30 * DAY) {
      return r.reject(
        pn,
        131009,
        undefined,
        { details: "Message ID is not valid or not an inbound message." },
        version,
        now,
        usage,
      );
    }
    const typing = isObject(body["typing_indicator"]);
    // Reading one message reads every earlier one in the thread.
    for (const rr of inbound.values()) {
      if (
        rr.waId === rec.waId &&
        rr.phoneNumberId === pn.id &&
        rr.at <= rec.at &&
        rr.readAt === undefined
      )
        rr.readAt = now;
    }
    engine.reads.push({ wamid: rec.wamid, at: now, typing });
    trimFront(engine.reads, 10_000);
    return r.answer(200, { success: true }, version, usage);
  }

  /** The outcome of an accepted send: statuses, or a failure Meta reports by webhook. */
  function afterAccepted(
    m: OutRecord,
    pn: NumberState,
    msg: OutboundMessage,
    template: SimTemplate | undefined,
    now: number,
    failAsync: FailAsync | undefined,
  ): void {
    const waId = m.waId;
    const inWindow = quotas.windowOpen(pn, waId, now);
    const firstDelay = statuses.firstDelay();
    if (failAsync)
      statuses.fail(m, pn, failAsync.code, failAsync.afterMs ?? firstDelay, failAsync.details);
    else if (config.nonWhatsApp.has(waId)) statuses.fail(m, pn, 131026, firstDelay);
    else if (msg.type !== "template" && !inWindow) statuses.fail(m, pn, 131047, firstDelay);
    else if (mediaRefProblem(pn, msg) !== undefined)
      statuses.fail(m, pn, 131053, firstDelay, mediaRefProblem(pn, msg));
    else if (msg.type === "reaction" && !reactionTargetOk(msg.reaction.message_id, now)) {
      statuses.fail(
        m,
        pn,
        131009,
        firstDelay,
        "The reaction target is unknown, older than 30 days, or a reaction.",
      );
    } else if (template !== undefined && !inWindow && !quotas.takeReach(waId, now)) {
      statuses.fail(
        m,
        pn,
        config.messagingLimitErrorCode,
        firstDelay,
        `Messaging limit reached: ${String(config.messagingLimit)} unique users outside the customer service window in 24 hours.`,
      );
    } else if (
      template?.category === "MARKETING" &&
      !inWindow &&
      !quotas.takeMarketing(waId, now)
    ) {
      statuses.fail(
        m,
        pn,
        131049,
        firstDelay,
        "This message was not delivered to maintain healthy ecosystem engagement.",
      );
    } else if (template?.pacing !== undefined) {
      templateApi.hold(template, m, pn, { inWindow });
    } else {
      statuses.schedule(m, pn, {
        onlySent: msg.type === "reaction",
        inWindow,
        category: template ? template.category.toLowerCase() : undefined,
      });
    }
  }

  return {
    send(pn, raw, version, afterAccept, failAsync) {
      // The text is kept as the record of the send (one string, parsed again only when inspected).
      const text = raw.toString("utf8");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const now = clock.now();
      // Every answer of the messages edge carries the WABA's usage (reference §0).
      const usage = quotas.usageHeader(pn.wabaId);
      const reject = (
        code: number,
        to: string | undefined,
        o: { details?: string; subcode?: number } = {},
      ): SimResponse => r.reject(pn, code, to, o, version, now, usage);
      if (!isObject(body))
        return reject(100, undefined, { details: "Request body must be a JSON object" });
      if (body["messaging_product"] !== "whatsapp") {
        return reject(100, undefined, {
          details: "The parameter messaging_product is required and must be whatsapp.",
        });
      }
      const shape = sendShapeProblem(body);
      if (shape !== undefined) return reject(shape.code, undefined, { details: shape.details });
      if (body["status"] === "read") return markRead(pn, body, version, usage);
      if (pn.maintenanceUntil > now) return reject(131057, undefined);
      // Recorded at the instant the window was judged, so a test can recount that window.
      if (!quotas.takeThroughput(pn, now)) return reject(130429, undefined);

      // `to` wins over `recipient` (a BSUID) when both are given (see docs/cloud-api-simulator.md).
      let to = body["to"];
      const bsuid =
        to === undefined && typeof body["recipient"] === "string" ? body["recipient"] : undefined;
      if (bsuid !== undefined) to = bsuid;
      else if (body["recipient"] !== undefined) delete body["recipient"];
      if (typeof to !== "string" || to.length === 0)
        return reject(131008, undefined, { details: "The parameter to is required." });
      if (typeof body["type"] !== "string") body["type"] = "text";
      try {
        validateMessage(body as unknown as OutboundMessage);
      } catch (e) {
        if (e instanceof MessageValidationError)
          return reject(e.problem.includes("required") ? 131008 : 131009, to, {
            details: e.message,
          });
        throw e;
      }
      const msg = body as unknown as OutboundMessage;
      if (msg.recipient_type === "group")
        return reject(131009, to, { details: "Group messaging is not simulated." });
      const recipient =
        bsuid === undefined ? recipients.resolve(pn, to) : recipients.byUserId(bsuid);
      if (!recipient)
        return reject(100, bsuid === undefined ? to : undefined, {
          details:
            bsuid === undefined
              ? "Invalid parameter: to is not a valid phone number."
              : "Invalid parameter: recipient is not a known business-scoped user id.",
        });
      const { waId } = recipient;
      if (waId === pn.display) return reject(131021, to);
      if (pn.allowList && !pn.allowList.has(bsuid === undefined ? to.replace(/\D/g, "") : waId))
        return reject(131030, to);

      let template: SimTemplate | undefined;
      if (msg.type === "template") {
        const check = checkTemplateSend(
          (name, language) => templateApi.find(pn.wabaId, name, language),
          msg.template,
        );
        if (!check.ok)
          return reject(
            check.code,
            to,
            check.details !== undefined ? { details: check.details } : {},
          );
        template = check.template;
        // Authentication codes go to a phone number: a BSUID recipient is refused (simulator choice).
        if (bsuid !== undefined && template.category === "AUTHENTICATION")
          return reject(131062, undefined, {
            details: "Authentication templates cannot be sent to a business-scoped user id.",
          });
      }
      // Pair pacing and the service window are both per (number, recipient).
      if (!quotas.takePair(pn, waId, now)) return reject(131056, to);

      const id = wamid(waId, true, rng.ids);
      const m = new OutRecord(
        id,
        pn.id,
        to,
        waId,
        msg.type,
        text,
        now,
        msg.biz_opaque_callback_data,
      );
      if (bsuid !== undefined) m.userId = bsuid;
      messages.set(id, m);
      bounded(messages, config.retainMessages);
      quotas.noteAccepted(pn, now);
      afterAccepted(m, pn, msg, template, now, failAsync);

      if (afterAccept) return { kind: "hang", hangMs: engine.faults.hangMs };
      // The same bytes JSON.stringify gives for
      // {messaging_product, contacts: [{input, wa_id}], messages: [{id, message_status?}]}:
      // wa_id is digits and the wamid base64, so only `to` needs escaping. message_status only
      // for a template under pacing (reference §1.10).
      const status =
        template?.pacing !== undefined ? `,"message_status":"held_for_quality_assessment"` : "";
      const contact =
        bsuid === undefined
          ? `{"input":${JSON.stringify(to)},"wa_id":"${waId}"}`
          : `{"input":${JSON.stringify(to)},"user_id":${JSON.stringify(bsuid)}}`;
      return r.answerText(
        200,
        `{"messaging_product":"whatsapp","contacts":[${contact}],"messages":[{"id":"${id}"${status}}]}`,
        version,
        usage,
      );
    },
  };
}
