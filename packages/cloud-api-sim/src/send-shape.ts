// The JSON types of a send's fields, checked before anything reads them: Meta answers a wrongly
// typed field with 400, code 100 and a detail naming the field (never a 5xx, which clients
// retry), and a value outside a field's set (an unknown interactive type, recipient_type
// "broadcast") with 131009.

type Shape =
  | "string"
  | "number"
  | "boolean"
  /** Any JSON value (opaque data passed through, e.g. a flow's initial data). */
  | "any"
  | "string|number"
  | { readonly oneOf: readonly string[] }
  | { readonly list: Shape }
  | {
      readonly fields: Readonly<Record<string, Shape>>;
      /** Fields that must be present (131008 when missing). */
      readonly required?: readonly string[];
      /** The field that must be present for a value of `type` (e.g. `image` for an image). */
      readonly byType?: Readonly<Record<string, string>>;
    };

export interface ShapeProblem {
  readonly code: 100 | 131008 | 131009;
  /** The field, as a path: `template.components[0].parameters[1].text`. */
  readonly field: string;
  readonly details: string;
}

const media: Shape = {
  fields: { id: "string", link: "string", caption: "string", filename: "string" },
};
const location: Shape = {
  fields: { latitude: "number", longitude: "number", name: "string", address: "string" },
};
const text: Shape = { fields: { text: "string" } };

const contact: Shape = {
  required: ["name"],
  fields: {
    name: {
      fields: {
        formatted_name: "string",
        first_name: "string",
        last_name: "string",
        middle_name: "string",
        suffix: "string",
        prefix: "string",
      },
    },
    phones: { list: { fields: { phone: "string", type: "string", wa_id: "string" } } },
    emails: { list: { fields: { email: "string", type: "string" } } },
    urls: { list: { fields: { url: "string", type: "string" } } },
    addresses: {
      list: {
        fields: {
          street: "string",
          city: "string",
          state: "string",
          zip: "string",
          country: "string",
          country_code: "string",
          type: "string",
        },
      },
    },
    birthday: "string",
    org: { fields: { company: "string", department: "string", title: "string" } },
  },
};

const templateParameter: Shape = {
  fields: {
    type: "string",
    parameter_name: "string",
    text: "string",
    payload: "string",
    coupon_code: "string",
    currency: { fields: { fallback_value: "string", code: "string", amount_1000: "number" } },
    date_time: { fields: { fallback_value: "string" } },
    image: media,
    video: media,
    document: media,
    location,
    action: { fields: { flow_token: "string", flow_action_data: "any" } },
  },
  required: ["type"],
  byType: {
    text: "text",
    currency: "currency",
    date_time: "date_time",
    image: "image",
    video: "video",
    document: "document",
    location: "location",
  },
};

const template: Shape = {
  fields: {
    name: "string",
    language: { fields: { code: "string", policy: "string" }, required: ["code"] },
    namespace: "string",
    components: {
      list: {
        fields: {
          type: "string",
          sub_type: "string",
          index: "string|number",
          parameters: { list: templateParameter },
        },
        required: ["type", "parameters"],
      },
    },
  },
  required: ["name", "language"],
};

/** Interactive subtypes Meta sends (reference §1.6, plus request_contact_info from the BSUID change). */
export const INTERACTIVE_TYPES = [
  "button",
  "list",
  "cta_url",
  "flow",
  "location_request_message",
  "product",
  "product_list",
  "catalog_message",
  "call_permission_request",
  "request_contact_info",
] as const;

const actions: Readonly<Record<(typeof INTERACTIVE_TYPES)[number], Shape>> = {
  button: {
    fields: {
      buttons: {
        list: {
          fields: { type: "string", reply: { fields: { id: "string", title: "string" } } },
          required: ["reply"],
        },
      },
    },
    required: ["buttons"],
  },
  list: {
    fields: {
      button: "string",
      sections: {
        list: {
          fields: {
            title: "string",
            rows: { list: { fields: { id: "string", title: "string", description: "string" } } },
          },
          required: ["rows"],
        },
      },
    },
    required: ["sections"],
  },
  cta_url: {
    fields: { name: "string", parameters: { fields: { display_text: "string", url: "string" } } },
    required: ["parameters"],
  },
  flow: {
    fields: {
      name: "string",
      parameters: {
        fields: {
          flow_message_version: "string",
          flow_id: "string",
          flow_name: "string",
          flow_cta: "string",
          flow_token: "string",
          mode: { oneOf: ["draft", "published"] },
          flow_action: { oneOf: ["navigate", "data_exchange"] },
          flow_action_payload: { fields: { screen: "string", data: "any" } },
        },
      },
    },
    required: ["parameters"],
  },
  location_request_message: { fields: { name: "string" } },
  product: { fields: { catalog_id: "string", product_retailer_id: "string" } },
  product_list: {
    fields: {
      catalog_id: "string",
      sections: {
        list: {
          fields: {
            title: "string",
            product_items: { list: { fields: { product_retailer_id: "string" } } },
          },
          required: ["product_items"],
        },
      },
    },
    required: ["sections"],
  },
  catalog_message: {
    fields: { name: "string", parameters: { fields: { thumbnail_product_retailer_id: "string" } } },
  },
  call_permission_request: { fields: { name: "string" } },
  request_contact_info: { fields: { name: "string" } },
};

const interactiveCommon: Readonly<Record<string, Shape>> = {
  type: { oneOf: INTERACTIVE_TYPES },
  header: {
    fields: {
      type: { oneOf: ["text", "image", "video", "document"] },
      text: "string",
      image: media,
      video: media,
      document: media,
    },
    required: ["type"],
    byType: { text: "text", image: "image", video: "video", document: "document" },
  },
  body: text,
  footer: text,
};

/** The fields of the envelope and of each message type's object. */
const envelope: Readonly<Record<string, Shape>> = {
  messaging_product: "string",
  recipient_type: { oneOf: ["individual", "group"] },
  to: "string",
  recipient: "string",
  type: {
    oneOf: [
      "text",
      "image",
      "video",
      "audio",
      "document",
      "sticker",
      "location",
      "contacts",
      "interactive",
      "template",
      "reaction",
    ],
  },
  context: { fields: { message_id: "string" } },
  biz_opaque_callback_data: "string",
  recipient_identity_key_hash: "string",
  text: { fields: { body: "string", preview_url: "boolean" } },
  image: media,
  video: media,
  audio: media,
  document: media,
  sticker: media,
  location,
  contacts: { list: contact },
  reaction: { fields: { message_id: "string", emoji: "string" } },
  template,
};

const markRead: Readonly<Record<string, Shape>> = {
  status: { oneOf: ["read"] },
  message_id: "string",
  typing_indicator: { fields: { type: { oneOf: ["text"] } } },
};

function describe(s: Shape): string {
  if (s === "string|number") return "a string or a number";
  if (s === "any") return "any value";
  if (typeof s === "string") return s === "string" ? "a string" : `a ${s}`;
  if ("oneOf" in s) return `one of ${s.oneOf.join(", ")}`;
  if ("list" in s) return "an array";
  return "a JSON object";
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

/**
 * Graph reads an object or array parameter given as a JSON string as that value (parameters may
 * arrive form-encoded; whatsapp-api-js sends `contacts` so): such a string is parsed in place.
 */
function decoded(v: unknown, s: Shape): unknown {
  if (typeof v !== "string" || typeof s === "string" || "oneOf" in s) return v;
  const t = v.trimStart();
  if (!(t.startsWith("[") || t.startsWith("{"))) return v;
  try {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) === "list" in s ? parsed : v;
  } catch {
    return v;
  }
}

/** The first problem with `v` against `s`, depth first, or undefined. Bounded by the body. */
function check(v: unknown, s: Shape, field: string): ShapeProblem | undefined {
  const wrong = (): ShapeProblem => ({
    code: 100,
    field,
    details: `Invalid parameter: ${field} must be ${describe(s)}, got ${jsonType(v)}.`,
  });
  if (s === "any") return undefined;
  if (s === "string|number")
    return typeof v === "string" || (typeof v === "number" && Number.isFinite(v))
      ? undefined
      : wrong();
  if (s === "number") return typeof v === "number" && Number.isFinite(v) ? undefined : wrong();
  if (typeof s === "string") return typeof v === s ? undefined : wrong();
  if ("oneOf" in s) {
    if (typeof v !== "string") return wrong();
    return s.oneOf.includes(v)
      ? undefined
      : {
          code: 131009,
          field,
          details: `Parameter value is not valid: ${field} must be one of ${s.oneOf.join(", ")}, got "${v.slice(0, 40)}".`,
        };
  }
  if ("list" in s) {
    if (!Array.isArray(v)) return wrong();
    for (let i = 0; i < v.length; i++) {
      const item = decoded(v[i], s.list);
      if (item !== v[i]) v[i] = item;
      const p = check(item, s.list, `${field}[${String(i)}]`);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return wrong();
  const o = v as Record<string, unknown>;
  const typed = checkFields(o, s.fields, field);
  if (typed) return typed;
  const missing = (name: string): ShapeProblem => {
    const path = field === "" ? name : `${field}.${name}`;
    return { code: 131008, field: path, details: `The parameter ${path} is required.` };
  };
  if (s.required !== undefined)
    for (const name of s.required)
      if (o[name] === undefined || o[name] === null) return missing(name);
  const type = o["type"];
  const byType = typeof type === "string" ? s.byType?.[type] : undefined;
  if (byType !== undefined && (o[byType] === undefined || o[byType] === null))
    return missing(byType);
  return undefined;
}

/** Each field table as a map, built once: every send looks its fields up in the envelope's. */
const tables = new Map<Readonly<Record<string, Shape>>, ReadonlyMap<string, Shape>>();

/** Whether a scalar or enum value fits (the common case, checked without building its path). */
function fits(v: unknown, s: Shape): boolean {
  switch (s) {
    case "string":
      return typeof v === "string";
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "boolean":
      return typeof v === "boolean";
    case "any":
      return true;
    case "string|number":
      return typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
    default:
      return "oneOf" in s && typeof v === "string" && s.oneOf.includes(v);
  }
}

function checkFields(
  v: Record<string, unknown>,
  fields: Readonly<Record<string, Shape>>,
  prefix: string,
): ShapeProblem | undefined {
  let table = tables.get(fields);
  if (table === undefined) {
    table = new Map(Object.entries(fields));
    tables.set(fields, table);
  }
  // The body's own keys (a few) rather than every known field (dozens): this runs for every send.
  for (const name of Object.keys(v)) {
    const shape = table.get(name);
    if (shape === undefined) continue;
    let value = v[name];
    if (value === undefined) continue;
    if (fits(value, shape)) continue;
    if (typeof value === "string") {
      value = decoded(value, shape);
      if (value !== v[name]) v[name] = value;
    }
    const p = check(value, shape, prefix === "" ? name : `${prefix}.${name}`);
    if (p) return p;
  }
  return undefined;
}

/**
 * Checks the JSON types of a send body's known fields (absent fields are left to the content
 * checks that follow; unknown fields are ignored). Mark-as-read bodies have their own fields.
 */
export function sendShapeProblem(body: Record<string, unknown>): ShapeProblem | undefined {
  if (body["status"] !== undefined) {
    return checkFields(body, markRead, "");
  }
  const p = checkFields(body, envelope, "");
  if (p) return p;
  const interactive = body["interactive"];
  if (interactive === undefined) return undefined;
  const common = check(
    interactive,
    { fields: interactiveCommon, required: ["type", "action"] },
    "interactive",
  );
  if (common) return common;
  const i = interactive as Record<string, unknown>;
  const type = i["type"] as (typeof INTERACTIVE_TYPES)[number] | undefined;
  if (type === undefined || i["action"] === undefined) return undefined;
  return check(i["action"], actions[type], "interactive.action");
}
