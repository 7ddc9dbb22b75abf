import type { Decider } from "@parley/decider";
import { appliedEvent, stateAfter } from "./applied.js";
import type { Applied, Observed } from "./facts.js";
import {
  canonicalTime,
  clip,
  compareStamps,
  earliest,
  insertBounded,
  latest,
  type Stamp,
} from "./order.js";

/** A template status change as Meta reported it. */
export interface TemplateStatusFacts extends Stamp {
  readonly event: string;
  readonly reason?: string;
}

export interface TemplateState {
  /** `<wabaId>|<templateId>`. */
  readonly key: string;
  readonly wabaId: string;
  readonly templateId: string;
  readonly name?: Stamp & { readonly value: string; readonly language: string };
  readonly status?: TemplateStatusFacts;
  /** The first review decision (APPROVED or REJECTED): what the approval rate counts. */
  readonly firstDecision?: TemplateStatusFacts;
  readonly category?: Stamp & { readonly value: string };
  readonly quality?: Stamp & { readonly value: string };
  readonly history: readonly TemplateStatusFacts[];
}

export type TemplateCommand = Observed;
export type TemplateEvent = Applied<TemplateCommand>;

export const TEMPLATE_LIMITS = { history: 50 } as const;

/** The key of a template: its WABA and id, each URI-encoded. */
export const templateKey = (wabaId: string, templateId: string): string =>
  `${encodeURIComponent(wabaId)}|${encodeURIComponent(templateId)}`;

const decode = (part: string | undefined): string => {
  try {
    return decodeURIComponent(part ?? "");
  } catch {
    return part ?? "";
  }
};

const DECISIONS: ReadonlySet<string> = new Set(["APPROVED", "REJECTED"]);

const stampOf = (event: { readonly occurredAt: string; readonly eventId: string }): Stamp => ({
  at: canonicalTime(event.occurredAt),
  eventId: event.eventId,
});

/** The template's state after one observed event; the same object when unchanged. */
export function applyToTemplate(state: TemplateState, { event }: Observed): TemplateState {
  if (
    event.type !== "TemplateStatusUpdated" &&
    event.type !== "TemplateCategoryUpdated" &&
    event.type !== "TemplateQualityUpdated"
  )
    return state;
  const stamp = stampOf(event);
  let next = state;
  const name = latest(state.name, {
    ...stamp,
    value: clip(event.data.templateName, 512),
    language: clip(event.data.language, 32),
  });
  if (name !== state.name) next = { ...next, name };
  switch (event.type) {
    case "TemplateStatusUpdated": {
      const facts: TemplateStatusFacts = {
        ...stamp,
        event: clip(event.data.event.toUpperCase(), 64),
        ...(event.data.reason === undefined ? {} : { reason: clip(event.data.reason, 500) }),
      };
      const status = latest(state.status, facts);
      if (status !== state.status) next = { ...next, status };
      if (DECISIONS.has(facts.event)) {
        const firstDecision = earliest(state.firstDecision, facts);
        if (firstDecision !== state.firstDecision) next = { ...next, firstDecision };
      }
      const history = insertBounded(state.history, facts, {
        compare: compareStamps,
        idOf: (h) => h.eventId,
        max: TEMPLATE_LIMITS.history,
      });
      if (history !== state.history) next = { ...next, history };
      if (event.data.category !== undefined) {
        const category = latest(state.category, { ...stamp, value: clip(event.data.category, 64) });
        if (category !== state.category) next = { ...next, category };
      }
      break;
    }
    case "TemplateCategoryUpdated": {
      const category = latest(state.category, {
        ...stamp,
        value: clip(event.data.newCategory, 64),
      });
      if (category !== state.category) next = { ...next, category };
      break;
    }
    case "TemplateQualityUpdated": {
      const quality = latest(state.quality, {
        ...stamp,
        value: clip(event.data.newQualityScore, 64),
      });
      if (quality !== state.quality) next = { ...next, quality };
      break;
    }
  }
  return next;
}

/**
 * Why: the template approval rate operators are asked for (first review decisions per WABA), and
 * each template's current status, category and quality as Meta last reported them.
 */
export const templateDecider: Decider<TemplateState, TemplateCommand, TemplateEvent, void, never> =
  {
    initialState: (key) => {
      const [wabaId, templateId] = key.split("|");
      return { key, wabaId: decode(wabaId), templateId: decode(templateId), history: [] };
    },
    decide(command, state) {
      const next = applyToTemplate(state, command);
      return next === state ? [] : [appliedEvent(command, state, next)];
    },
    evolve: (state, event) => stateAfter(state, event, () => applyToTemplate(state, event.command)),
    isPublished: (_event): _event is never => false,
  };
