// Status webhooks of an accepted send: sent, delivered, read or failed, with pricing and
// contacts as Meta posts them (reference §4.3, §4.5).
import type { DeliveryStatus, StatusUpdate, WebhookContact } from "@parley/cloud-api";
import { webhookError } from "./graph-errors.js";
import { between, type Engine, type NumberState, type OutRecord } from "./state.js";
import type { WebhookUpdate } from "./webhooks.js";

export interface Statuses {
  /** Plans sent, delivered and read (or sent only) and posts their webhooks as they fall due. */
  schedule(
    m: OutRecord,
    pn: NumberState,
    o: { onlySent: boolean; inWindow: boolean; category: string | undefined },
  ): void;
  /** The message fails `afterMs` from now with `code` (a `failed` status with errors[]). */
  fail(m: OutRecord, pn: NumberState, code: number, afterMs: number, details?: string): void;
  /** The delay of the first status, drawn from the profile. */
  firstDelay(): number;
}

export function createStatuses(engine: Engine): Statuses {
  const { clock, emitter, rng, users } = engine;

  function webhook(
    m: OutRecord,
    pn: NumberState,
    status: DeliveryStatus,
    at: number,
    extra: Partial<StatusUpdate> = {},
  ): WebhookUpdate {
    const s: StatusUpdate = {
      id: m.wamid,
      status,
      timestamp: String(Math.floor(at / 1000)),
      // Sent by BSUID: Meta leaves out recipient_id and names the user by BSUID (reference §4.5).
      ...(m.userId === undefined ? { recipient_id: m.waId } : { recipient_user_id: m.userId }),
      ...(m.callbackData !== undefined ? { biz_opaque_callback_data: m.callbackData } : {}),
      ...extra,
    };
    // Since the BSUID change statuses carry contacts[], except `failed` (reference §4.3): the
    // wa_id only when the send used the phone number, the BSUID always.
    const user = users.get(m.waId);
    const contact: WebhookContact | undefined =
      status === "failed"
        ? undefined
        : {
            ...(m.userId === undefined ? { wa_id: m.waId } : {}),
            ...(user !== undefined
              ? { user_id: user.userId }
              : m.userId !== undefined
                ? { user_id: m.userId }
                : {}),
          };
    return {
      kind: "status",
      wabaId: pn.wabaId,
      phoneNumberId: pn.id,
      displayPhoneNumber: pn.display,
      status: s,
      ...(contact !== undefined ? { contact } : {}),
    };
  }

  function pricingFor(
    inWindow: boolean,
    category: string | undefined,
  ): NonNullable<StatusUpdate["pricing"]> {
    // Per-message pricing (2025-07 to 2026-10): service and utility-in-window are free.
    const cat = category ?? "service";
    const free = cat === "service" || (cat === "utility" && inWindow);
    return {
      billable: !free,
      pricing_model: "PMP",
      type: free ? "free_customer_service" : "regular",
      category: cat,
    };
  }

  return {
    firstDelay: () => between(rng.status, engine.profile.sentDelayMs),
    fail(m, pn, code, afterMs, details) {
      const at = clock.now() + afterMs;
      m.failedAt = at;
      m.failureCode = code;
      if (!emitter.accepting()) return; // webhooks off: nothing to build
      emitter.schedule(webhook(m, pn, "failed", at, { errors: [webhookError(code, details)] }), at);
    },
    schedule(m, pn, o) {
      const profile = engine.profile;
      // Recipients nobody configured read like a default user; no user object per recipient.
      const readReceipts = users.get(m.waId)?.readReceipts ?? true;
      const now = clock.now();
      const sentAt = now + between(rng.status, profile.sentDelayMs);
      const events: { status: DeliveryStatus; at: number }[] = [{ status: "sent", at: sentAt }];
      if (!o.onlySent) {
        const deliveredAt = sentAt + between(rng.status, profile.deliveredDelayMs);
        const read = readReceipts && rng.status.chance(profile.readProbability);
        const readAt = deliveredAt + between(rng.status, profile.readDelayMs);
        const skipDelivered = read && rng.status.chance(profile.skipDeliveredProbability);
        if (!skipDelivered) events.push({ status: "delivered", at: deliveredAt });
        if (read) events.push({ status: "read", at: skipDelivered ? deliveredAt : readAt });
      }
      // With webhooks off the updates are not built, but the random draws below still happen, so
      // a seed gives the same ids, delays and statuses either way.
      const hooks = emitter.accepting();
      const pricing = hooks ? pricingFor(o.inWindow, o.category) : undefined;
      let pricedFollowUp = false;
      const posts: { update: WebhookUpdate | undefined; at: number }[] = [];
      for (const e of events) {
        m.plan(e.status, e.at);
        let update: WebhookUpdate | undefined;
        if (pricing !== undefined) {
          let extra: Partial<StatusUpdate> = {};
          if (e.status === "sent") extra = { pricing };
          else if (!pricedFollowUp) {
            extra = { pricing };
            pricedFollowUp = true;
          }
          update = webhook(m, pn, e.status, e.at, extra);
        }
        posts.push({ update, at: e.at });
      }
      // Out of order: the last status's webhook overtakes the one before it.
      if (posts.length >= 2 && rng.status.chance(profile.outOfOrderProbability)) {
        const a = posts[posts.length - 2];
        const b = posts[posts.length - 1];
        if (a && b) [a.at, b.at] = [b.at, a.at - 1];
      }
      for (const p of posts) {
        if (p.update !== undefined) emitter.schedule(p.update, p.at);
        if (rng.status.chance(profile.duplicateProbability)) {
          const again = p.at + between(rng.status, [50, 5_000]);
          if (p.update !== undefined) emitter.schedule(p.update, again);
        }
      }
    },
  };
}
