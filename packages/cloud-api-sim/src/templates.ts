import {
  charLength,
  type MessageTemplate,
  type ParameterFormat,
  type TemplateCategory,
  type TemplateDefinitionComponent,
  type TemplateObject,
  type TemplateParameter,
  type TemplateStatus,
} from "@parley/cloud-api";

export interface SimTemplate {
  id: string;
  wabaId: string;
  name: string;
  language: string;
  category: TemplateCategory;
  status: TemplateStatus;
  parameterFormat: ParameterFormat;
  components: readonly TemplateDefinitionComponent[];
  quality: "GREEN" | "YELLOW" | "RED" | "UNKNOWN";
  /** Pacing: sends answer `held_for_quality_assessment`, then are released or dropped (132015). */
  pacing?: { readonly outcome: "release" | "drop"; readonly afterMs: number };
}

export function toGraph(t: SimTemplate): MessageTemplate {
  return {
    id: t.id,
    name: t.name,
    language: t.language,
    status: t.status,
    category: t.category,
    parameter_format: t.parameterFormat,
    components: t.components,
    quality_score: { score: t.quality },
  };
}

const VAR = /\{\{\s*([a-z0-9_]+)\s*\}\}/g;

// Template texts and variable names are few and fixed, and every template send needs both:
// parse each text once and compile each placeholder pattern once. Bounded all the same.
const CACHE_LIMIT = 10_000;
const variableCache = new Map<string, readonly string[]>();
const placeholderCache = new Map<string, RegExp>();

function variables(text: string | undefined): readonly string[] {
  if (text === undefined) return [];
  let vars = variableCache.get(text);
  if (vars === undefined) {
    vars = [...text.matchAll(VAR)].map((m) => m[1] ?? "");
    if (variableCache.size >= CACHE_LIMIT) variableCache.clear();
    variableCache.set(text, vars);
  }
  return vars;
}

/** `{{ name }}` with any inner spaces, global; replaceAll resets lastIndex, so reuse is safe. */
function placeholder(name: string): RegExp {
  let re = placeholderCache.get(name);
  if (re === undefined) {
    re = new RegExp(`\\{\\{\\s*${name}\\s*\\}\\}`, "g");
    if (placeholderCache.size >= CACHE_LIMIT) placeholderCache.clear();
    placeholderCache.set(name, re);
  }
  return re;
}

function paramText(p: TemplateParameter): string | undefined {
  if (p.type === "text") return p.text;
  if (p.type === "currency") return p.currency.fallback_value;
  if (p.type === "date_time") return p.date_time.fallback_value;
  return undefined;
}

function paramName(p: TemplateParameter): string | undefined {
  return p.type === "text" || p.type === "currency" || p.type === "date_time"
    ? p.parameter_name
    : undefined;
}

export type TemplateCheck =
  | { readonly ok: true; readonly template: SimTemplate }
  | { readonly ok: false; readonly code: number; readonly details?: string };

/** Meta's synchronous template checks, in the order Meta reports them. */
export function checkTemplateSend(
  find: (name: string, language: string) => SimTemplate | undefined,
  t: TemplateObject,
): TemplateCheck {
  const tpl = find(t.name, t.language.code);
  if (!tpl)
    return {
      ok: false,
      code: 132001,
      details: `template name (${t.name}) does not exist in ${t.language.code}`,
    };
  if (tpl.status === "PAUSED") return { ok: false, code: 132015 };
  if (tpl.status === "DISABLED") return { ok: false, code: 132016 };
  if (tpl.status !== "APPROVED")
    return { ok: false, code: 132001, details: `template ${t.name} is ${tpl.status}` };

  const sent = t.components ?? [];
  const checkText = (kind: "HEADER" | "BODY", max: number): TemplateCheck | undefined => {
    const def = tpl.components.find((c) => c.type === kind);
    const expected = def && (kind === "BODY" || def.format === "TEXT") ? variables(def.text) : [];
    const comp = sent.find((c) => c.type === kind.toLowerCase());
    const params = comp?.parameters.filter((p) => paramText(p) !== undefined) ?? [];
    if (params.length !== expected.length) {
      return {
        ok: false,
        code: 132000,
        details: `${kind.toLowerCase()}: expected ${expected.length} parameters, got ${params.length}`,
      };
    }
    let filled = def?.text ?? "";
    if (tpl.parameterFormat === "NAMED") {
      for (const p of params) {
        const name = paramName(p);
        if (name === undefined || !expected.includes(name)) {
          return {
            ok: false,
            code: 132012,
            details: `${kind.toLowerCase()}: parameter_name ${name ?? "(missing)"} is not in the template`,
          };
        }
        filled = filled.replaceAll(placeholder(name), paramText(p) ?? "");
      }
    } else {
      for (const [i, p] of params.entries()) {
        if (paramName(p) !== undefined)
          return { ok: false, code: 132012, details: "positional template given named parameters" };
        filled = filled.replaceAll(placeholder(String(i + 1)), paramText(p) ?? "");
      }
    }
    if (charLength(filled) > max) return { ok: false, code: 132005 };
    return undefined;
  };
  return checkText("HEADER", 60) ?? checkText("BODY", 1024) ?? { ok: true, template: tpl };
}
