import type { OutboundContent } from "@parley/contracts";

/** The sender's own view of a contact, fed by the consent and conversation-windows topics. */
export interface GateView {
  /** The latest consent fact: revoked `all` stops everything, revoked `marketing` stops marketing. */
  readonly consent?: {
    readonly state: "granted" | "revoked";
    readonly scope: "all" | "marketing";
    readonly at: number;
  };
  /** When the customer-service window with this business number closes (epoch ms). */
  readonly windowExpiresAt?: number;
}

export interface GateInput {
  readonly content: OutboundContent;
  readonly category: string;
  readonly validUntil?: string | undefined;
}

export type GateDecision =
  | { readonly kind: "send" }
  | { readonly kind: "expired" }
  | {
      readonly kind: "rejected";
      readonly reason: "opted_out" | "outside_window";
      readonly detail: string;
    };

export interface GateOptions {
  /**
   * Authentication templates go past an opt-out of everything (PARLEY_AUTHENTICATION_EXEMPT,
   * ADR 0012); a marketing opt-out never concerned them.
   */
  readonly authenticationExempt?: boolean;
}

/**
 * The last check before the Graph call: an opt-out or a closed window that arrived after the
 * router's decision stops the send (invariants 8 and 9); a passed validUntil expires it.
 */
export function decideGate(
  input: GateInput,
  view: GateView,
  now: number,
  { authenticationExempt = false }: GateOptions = {},
): GateDecision {
  if (input.validUntil !== undefined && Date.parse(input.validUntil) <= now)
    return { kind: "expired" };
  const consent = view.consent;
  // The router confirmed an authentication category against the template catalog.
  const exempt =
    authenticationExempt &&
    input.category === "authentication" &&
    input.content.type === "template";
  if (
    consent?.state === "revoked" &&
    ((consent.scope === "all" && !exempt) || input.category === "marketing")
  ) {
    return {
      kind: "rejected",
      reason: "opted_out",
      detail: `the contact revoked consent (${consent.scope}) at ${new Date(consent.at).toISOString()}, before the send reached Graph`,
    };
  }
  if (input.content.type !== "template") {
    const expires = view.windowExpiresAt;
    if (expires === undefined || expires <= now) {
      return {
        kind: "rejected",
        reason: "outside_window",
        detail:
          expires === undefined
            ? `free-form ${input.content.type} message and no open customer-service window with this number`
            : `free-form ${input.content.type} message and the customer-service window closed at ${new Date(expires).toISOString()}`,
      };
    }
  }
  return { kind: "send" };
}
