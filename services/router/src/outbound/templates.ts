import { charLength, limits } from "@parley/cloud-api";
import { ParleyError } from "@parley/errors";
import type { MessageCategory, RejectionReason, TemplateContent } from "@parley/contracts";

/**
 * A WABA's template catalog as the router keeps it (synced from Graph), and the pure check of a
 * template send against it: exists in that language, APPROVED, and the parameters the template's
 * text asks for (count, named or positional, media headers, button variables). Meta would refuse
 * the same mistakes with 132000/132001/132005/132012/132015/132016, after a Graph call.
 */

export interface CatalogComponent {
  readonly type: string;
  readonly format?: string | undefined;
  readonly text?: string | undefined;
  readonly buttons?:
    readonly { readonly type: string; readonly url?: string | undefined }[] | undefined;
}

export interface CatalogTemplate {
  readonly id: string;
  readonly name: string;
  readonly language: string;
  /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ... as Graph reports it. */
  readonly status: string;
  /** MARKETING, UTILITY or AUTHENTICATION. */
  readonly category: string;
  readonly parameterFormat: "POSITIONAL" | "NAMED";
  readonly components: readonly CatalogComponent[];
}

export interface TemplateCatalog {
  readonly wabaId: string;
  /** When the catalog was last read from Graph (or patched from a webhook). */
  readonly syncedAt: string;
  readonly templates: readonly CatalogTemplate[];
}

export type TemplateCheck =
  | { readonly ok: true; readonly template: CatalogTemplate; readonly category: MessageCategory }
  | { readonly ok: false; readonly reason: RejectionReason; readonly detail: string };

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** Distinct placeholders of a template text, in order of first appearance. */
export function placeholdersOf(text: string | undefined): string[] {
  if (text === undefined) return [];
  const seen: string[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (name !== undefined && !seen.includes(name)) seen.push(name);
  }
  return seen;
}

const categoryOf = (category: string): MessageCategory | undefined => {
  switch (category.toUpperCase()) {
    case "MARKETING":
      return "marketing";
    case "UTILITY":
      return "utility";
    case "AUTHENTICATION":
      return "authentication";
    default:
      return undefined;
  }
};

type RequestComponent = NonNullable<TemplateContent["components"]>[number];
type RequestParameter = RequestComponent["parameters"][number];

const TEXTUAL = new Set(["text", "currency", "date_time"]);

const textOf = (p: RequestParameter): string | undefined => {
  switch (p.type) {
    case "text":
      return p.text;
    case "currency":
      return p.currency.fallbackValue;
    case "date_time":
      return p.dateTime.fallbackValue;
    default:
      return undefined;
  }
};

const nameOf = (p: RequestParameter): string | undefined =>
  p.type === "text" || p.type === "currency" || p.type === "date_time"
    ? p.parameterName
    : undefined;

/** A parameter problem, caught in `checkTemplate` and turned into a rejection. */
class Mismatch extends ParleyError {
  override readonly name = "Mismatch";
  constructor(readonly detail: string) {
    super(detail, { retry: "never" });
  }
}

/** Checks the parameters given for one text component against the placeholders it has. */
function checkTextParameters(
  where: string,
  expected: readonly string[],
  given: readonly RequestParameter[],
  format: CatalogTemplate["parameterFormat"],
): Map<string, string> {
  const values = new Map<string, string>();
  if (given.length !== expected.length) {
    throw new Mismatch(
      `${where} takes ${expected.length} parameter(s), the request gives ${given.length}`,
    );
  }
  given.forEach((p, i) => {
    if (!TEXTUAL.has(p.type)) {
      throw new Mismatch(
        `${where} parameter ${i + 1} is ${p.type}; text, currency or date_time expected`,
      );
    }
    const name = nameOf(p);
    if (format === "NAMED") {
      if (name === undefined) {
        throw new Mismatch(
          `${where} uses named parameters ({{${expected.join("}}, {{")}}}); parameter ${i + 1} has no parameterName`,
        );
      }
      if (!expected.includes(name)) {
        throw new Mismatch(
          `${where} has no parameter named "${name}" (it has ${expected.join(", ")})`,
        );
      }
      if (values.has(name)) throw new Mismatch(`${where} parameter "${name}" is given twice`);
      values.set(name, textOf(p) ?? "");
    } else {
      if (name !== undefined) {
        throw new Mismatch(
          `${where} uses positional parameters ({{1}}...); parameter ${i + 1} is named "${name}"`,
        );
      }
      values.set(expected[i] ?? String(i + 1), textOf(p) ?? "");
    }
  });
  return values;
}

const MEDIA_FORMATS: Readonly<Record<string, string>> = {
  IMAGE: "image",
  VIDEO: "video",
  GIF: "video",
  DOCUMENT: "document",
  LOCATION: "location",
};

function checkHeader(template: CatalogTemplate, given: RequestComponent | undefined): void {
  const header = template.components.find((c) => c.type.toUpperCase() === "HEADER");
  const params = given?.parameters ?? [];
  const format = header?.format?.toUpperCase();
  const mediaType = format === undefined ? undefined : MEDIA_FORMATS[format];
  if (header !== undefined && mediaType !== undefined) {
    const first = params[0];
    if (params.length !== 1 || first?.type !== mediaType) {
      throw new Mismatch(
        `the header is ${format ?? ""} and needs exactly one ${mediaType} parameter`,
      );
    }
    return;
  }
  const expected = placeholdersOf(header?.text);
  if (expected.length === 0 && params.length > 0) {
    throw new Mismatch(
      `the template's header takes no parameters, the request gives ${params.length}`,
    );
  }
  if (expected.length > 0)
    checkTextParameters("the header", expected, params, template.parameterFormat);
}

function checkBody(template: CatalogTemplate, given: RequestComponent | undefined): void {
  const body = template.components.find((c) => c.type.toUpperCase() === "BODY");
  const expected = placeholdersOf(body?.text);
  const values = checkTextParameters(
    "the body",
    expected,
    given?.parameters ?? [],
    template.parameterFormat,
  );
  if (body?.text !== undefined) {
    const filled = body.text.replace(PLACEHOLDER, (_, name: string) => values.get(name) ?? "");
    const length = charLength(filled);
    if (length > limits.templateBody) {
      throw new Mismatch(
        `the body is ${length} characters once filled in, the limit is ${limits.templateBody}`,
      );
    }
  }
}

function checkButtons(template: CatalogTemplate, given: readonly RequestComponent[]): void {
  const buttons =
    template.components.find((c) => c.type.toUpperCase() === "BUTTONS")?.buttons ?? [];
  const byIndex = new Map<number, RequestComponent>();
  for (const c of given) {
    if (c.type !== "button") continue;
    if (byIndex.has(c.index)) throw new Mismatch(`button ${c.index} is given twice`);
    const button = buttons[c.index];
    if (button === undefined) {
      throw new Mismatch(`the template has no button ${c.index} (it has ${buttons.length})`);
    }
    byIndex.set(c.index, c);
  }
  buttons.forEach((button, index) => {
    const type = button.type.toUpperCase();
    const c = byIndex.get(index);
    const needsUrlVariable =
      (type === "URL" && placeholdersOf(button.url).length > 0) || type === "OTP";
    if (needsUrlVariable && (c === undefined || c.parameters.length !== 1)) {
      throw new Mismatch(
        `button ${index} (${type}) has a variable and needs exactly one parameter`,
      );
    }
    if (type === "COPY_CODE" && c?.parameters[0]?.type !== "coupon_code") {
      throw new Mismatch(`button ${index} (COPY_CODE) needs one coupon_code parameter`);
    }
  });
}

/**
 * Whether `content` can be sent with `catalog`: the template exists in that language, is
 * APPROVED, and gets the parameters its text asks for. On success, the category Meta will
 * charge it under.
 */
export function checkTemplate(content: TemplateContent, catalog: TemplateCatalog): TemplateCheck {
  const sameName = catalog.templates.filter((t) => t.name === content.name);
  const template = sameName.find((t) => t.language === content.language.code);
  if (template === undefined) {
    const others = sameName.map((t) => t.language);
    return {
      ok: false,
      reason: "template_not_approved",
      detail:
        others.length === 0
          ? `no template "${content.name}" in WhatsApp Business Account ${catalog.wabaId} (catalog synced ${catalog.syncedAt})`
          : `template "${content.name}" has no ${content.language.code} translation (it has ${others.join(", ")})`,
    };
  }
  if (template.status.toUpperCase() !== "APPROVED") {
    return {
      ok: false,
      reason: "template_not_approved",
      detail: `template "${template.name}" (${template.language}) is ${template.status}, not APPROVED`,
    };
  }
  const category = categoryOf(template.category);
  if (category === undefined) {
    return {
      ok: false,
      reason: "template_not_approved",
      detail: `template "${template.name}" (${template.language}) has an unknown category ${template.category}`,
    };
  }
  const components = content.components ?? [];
  try {
    for (const kind of ["header", "body"] as const) {
      if (components.filter((c) => c.type === kind).length > 1) {
        throw new Mismatch(`the ${kind} component is given twice`);
      }
    }
    checkHeader(
      template,
      components.find((c) => c.type === "header"),
    );
    checkBody(
      template,
      components.find((c) => c.type === "body"),
    );
    checkButtons(template, components);
  } catch (error) {
    if (!(error instanceof Mismatch)) throw error;
    return {
      ok: false,
      reason: "invalid_request",
      detail: `template "${template.name}" (${template.language}, ${template.parameterFormat.toLowerCase()} parameters): ${error.detail}`,
    };
  }
  return { ok: true, template, category };
}
