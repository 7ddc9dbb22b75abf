import type { Decider } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import type { AudienceFormat } from "../audience/read.js";
import type { CampaignDefinition } from "./campaign.js";

export type CampaignStatus = "draft" | "running" | "paused" | "cancelled" | "completed";

/** Why a campaign paused itself (ADR 0015, "Control"), or `operator`. */
export type PauseReason =
  | "operator"
  | "template_paused"
  | "template_disabled"
  | "template_failures"
  | "quality_dropped"
  | "token_refused"
  | "failure_rate";

export interface CampaignState {
  readonly id: string;
  readonly definition?: CampaignDefinition;
  readonly status?: CampaignStatus;
  readonly audience?: {
    readonly format: AudienceFormat;
    readonly ref: string;
    readonly bytes: number;
  };
  readonly pausedBy?: {
    readonly reason: PauseReason;
    readonly detail: string;
    readonly at: string;
  };
  readonly changedAt?: string;
}

export type CampaignCommand =
  | { readonly type: "Create"; readonly definition: CampaignDefinition }
  | {
      readonly type: "AttachAudience";
      readonly format: AudienceFormat;
      readonly ref: string;
      readonly bytes: number;
    }
  | { readonly type: "Start" }
  | { readonly type: "Pause"; readonly reason: PauseReason; readonly detail: string }
  | { readonly type: "Resume" }
  | { readonly type: "Cancel" }
  | { readonly type: "Complete" };

/** What happened to a campaign; internal records of its state (nothing is published). */
export type CampaignEvent =
  | {
      readonly type: "CampaignCreated";
      readonly definition: CampaignDefinition;
      readonly at: string;
    }
  | {
      readonly type: "AudienceAttached";
      readonly format: AudienceFormat;
      readonly ref: string;
      readonly bytes: number;
      readonly at: string;
    }
  | { readonly type: "CampaignStarted"; readonly at: string }
  | {
      readonly type: "CampaignPaused";
      readonly reason: PauseReason;
      readonly detail: string;
      readonly at: string;
    }
  | { readonly type: "CampaignResumed"; readonly at: string }
  | { readonly type: "CampaignCancelled"; readonly at: string }
  | { readonly type: "CampaignCompleted"; readonly at: string };

/** A command the campaign's state does not allow (HTTP 409); never worth a retry. */
export class CampaignStateError extends ParleyError {
  override readonly name = "CampaignStateError";
  constructor(
    message: string,
    readonly status: CampaignStatus | "absent",
  ) {
    super(message, { retry: "never" });
  }
}

const refuse = (state: CampaignState, what: string): never => {
  throw new CampaignStateError(
    `campaign ${state.id} is ${state.status ?? "absent"}: cannot ${what}`,
    state.status ?? "absent",
  );
};

/**
 * A campaign's lifecycle (ADR 0015): draft -> running <-> paused -> completed, or cancelled from
 * any state but completed. A command that repeats the current state (pause a paused campaign,
 * create the same definition again) decides nothing, so an API retry or a redelivered trigger is
 * harmless; an automatic pause of a paused campaign keeps the first reason.
 */
export const campaignDecider: Decider<
  CampaignState,
  CampaignCommand,
  CampaignEvent,
  { readonly now: Date }
> = {
  initialState: (id) => ({ id }),
  decide(command, state, { now }) {
    const at = now.toISOString();
    const status = state.status;
    switch (command.type) {
      case "Create":
        if (status === undefined)
          return [{ type: "CampaignCreated", definition: command.definition, at }];
        if (JSON.stringify(state.definition) === JSON.stringify(command.definition)) return [];
        return refuse(state, "be created again with another definition");
      case "AttachAudience":
        if (status !== "draft") return refuse(state, "take an audience (only a draft can)");
        return [
          {
            type: "AudienceAttached",
            format: command.format,
            ref: command.ref,
            bytes: command.bytes,
            at,
          },
        ];
      case "Start":
        if (status === "running") return [];
        if (status !== "draft") return refuse(state, "start");
        if (state.audience === undefined) return refuse(state, "start without an audience");
        return [{ type: "CampaignStarted", at }];
      case "Pause":
        if (status === "paused") return [];
        if (status !== "running") return refuse(state, "pause");
        return [{ type: "CampaignPaused", reason: command.reason, detail: command.detail, at }];
      case "Resume":
        if (status === "running") return [];
        if (status !== "paused") return refuse(state, "resume");
        return [{ type: "CampaignResumed", at }];
      case "Cancel":
        if (status === "cancelled") return [];
        if (status === undefined || status === "completed") return refuse(state, "cancel");
        return [{ type: "CampaignCancelled", at }];
      case "Complete":
        if (status === "completed") return [];
        if (status !== "running") return refuse(state, "complete");
        return [{ type: "CampaignCompleted", at }];
    }
  },
  evolve(state, event) {
    const changedAt = event.at;
    switch (event.type) {
      case "CampaignCreated":
        return { id: state.id, definition: event.definition, status: "draft", changedAt };
      case "AudienceAttached":
        return {
          ...state,
          audience: { format: event.format, ref: event.ref, bytes: event.bytes },
          changedAt,
        };
      case "CampaignStarted":
      case "CampaignResumed": {
        const { pausedBy: _p, ...rest } = state;
        return { ...rest, status: "running", changedAt };
      }
      case "CampaignPaused":
        return {
          ...state,
          status: "paused",
          pausedBy: { reason: event.reason, detail: event.detail, at: event.at },
          changedAt,
        };
      case "CampaignCancelled":
        return { ...state, status: "cancelled", changedAt };
      case "CampaignCompleted":
        return { ...state, status: "completed", changedAt };
    }
  },
  isPublished: (_event): _event is never => false,
};

/** A Meta signal a running campaign may be paused for (`autoPauseOf`). */
export type CampaignSignal = Parameters<typeof autoPauseOf>[0];

/**
 * A 132015/132016 `SendFailed` that names no template (an async failure stored by a sender from
 * before 2026-12-07, whose attempt records kept no template) but names its campaign by the `campaign:<id>:<contact>` key, named after that campaign's
 * template: the failure is the template's at Meta, so every running campaign using it pauses with
 * the template in its reason, as on the synchronous path. Any other signal, or a campaign unknown
 * (`definitionOf` answers undefined), is answered unchanged.
 */
export function nameTemplateOfFailure(
  signal: CampaignSignal,
  definitionOf: (campaignId: string) => CampaignDefinition | undefined,
): CampaignSignal {
  if (signal.kind !== "send_failed") return signal;
  if (signal.code !== 132015 && signal.code !== 132016) return signal;
  if (signal.template !== undefined || signal.campaignId === undefined) return signal;
  const template = definitionOf(signal.campaignId)?.template.name;
  return template === undefined ? signal : { ...signal, template };
}

/** The pause a Meta signal asks of a running campaign using `template`, or undefined. */
export function autoPauseOf(
  signal:
    | { readonly kind: "template_status"; readonly template: string; readonly status: string }
    | {
        readonly kind: "send_failed";
        /** The template the failure names (SendFailed `template`, on template errors). */
        readonly template?: string | undefined;
        /** The campaign the failed send belongs to (its `campaign:<id>:<contact>` key). */
        readonly campaignId?: string | undefined;
        readonly code: number;
      }
    | { readonly kind: "number_quality"; readonly phoneNumberId: string; readonly rating: string }
    | {
        readonly kind: "failure_rate";
        readonly failed: number;
        readonly settled: number;
        readonly threshold: number;
      },
  definition: CampaignDefinition,
): { readonly reason: PauseReason; readonly detail: string } | undefined {
  switch (signal.kind) {
    case "template_status":
      if (signal.template !== definition.template.name) return undefined;
      if (signal.status === "PAUSED")
        return { reason: "template_paused", detail: `Meta paused ${signal.template}` };
      if (signal.status === "DISABLED")
        return { reason: "template_disabled", detail: `Meta disabled ${signal.template}` };
      return undefined;
    case "send_failed":
      if (signal.code === 132015 || signal.code === 132016) {
        // Named, the template is stopped at Meta for every campaign using it; unnamed (an older
        // sender, an async failure whose dispatch is gone), the campaign the key names, or else
        // every running campaign (the template cannot be told).
        if (signal.template !== undefined) {
          if (signal.template !== definition.template.name) return undefined;
          return {
            reason: "template_failures",
            detail: `Meta ${signal.code === 132016 ? "disabled" : "paused"} template ${signal.template} (a send failed with ${signal.code})`,
          };
        }
        if (signal.campaignId !== undefined && signal.campaignId !== definition.id)
          return undefined;
        return {
          reason: "template_failures",
          detail: `a send failed with ${signal.code} (template paused or disabled)`,
        };
      }
      if (signal.code === 190 || signal.code === 0)
        return { reason: "token_refused", detail: `Graph refused the token (${signal.code})` };
      return undefined;
    case "number_quality":
      if (!definition.numbers.includes(signal.phoneNumberId)) return undefined;
      return signal.rating === "RED" || signal.rating === "FLAGGED"
        ? {
            reason: "quality_dropped",
            detail: `number ${signal.phoneNumberId} quality ${signal.rating}`,
          }
        : undefined;
    case "failure_rate":
      // At least 50 settled sends before the rate means anything.
      return signal.settled >= 50 && signal.failed / signal.settled > signal.threshold
        ? {
            reason: "failure_rate",
            detail: `${signal.failed} of ${signal.settled} sends failed (over ${Math.round(signal.threshold * 100)} %)`,
          }
        : undefined;
  }
}
