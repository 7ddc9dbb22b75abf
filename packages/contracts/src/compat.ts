import { canonicalJson } from "./send-request.js";

/**
 * Backward compatibility of JSON Schemas, following the rules Confluent Schema Registry documents
 * for JSON Schema (content models: open, partially open, closed). "Backward" means a consumer
 * using the new schema (the reader) can read every record written with an old one (the writer):
 * every value the writer accepts, the reader accepts.
 *
 * Covers the draft-07 vocabulary `z.toJSONSchema` produces: type, const, enum, string, number,
 * object and array keywords, oneOf/anyOf (sum types), and local `$ref`s to `definitions`.
 * Anything it does not understand that changed is reported as incompatible, never ignored.
 */

export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

export interface Incompatibility {
  /** JSON pointer into the reader schema. */
  readonly path: string;
  /** Confluent's difference type name, e.g. TYPE_NARROWED or REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL. */
  readonly kind: string;
  readonly message: string;
}

type Obj = Readonly<Record<string, unknown>>;

/** Keywords that never change which values are valid. */
const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$comment",
  "title",
  "description",
  "default",
  "examples",
  "readOnly",
  "writeOnly",
  "deprecated",
  "definitions",
  "$defs",
]);

const KNOWN = new Set([
  ...ANNOTATIONS,
  "type",
  "const",
  "enum",
  "format",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "patternProperties",
  "minProperties",
  "maxProperties",
  "items",
  "minItems",
  "maxItems",
  "uniqueItems",
  "oneOf",
  "anyOf",
  "$ref",
]);

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const ptr = (path: string, ...parts: (string | number)[]) =>
  parts.reduce<string>(
    (p, s) => `${p}/${String(s).replace(/~/g, "~0").replace(/\//g, "~1")}`,
    path,
  );

/** Structural equality of two JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** A schema that accepts every value: `true`, `{}`, or only annotations. */
function acceptsAll(s: JsonSchema): boolean {
  if (s === true) return true;
  if (s === false) return false;
  return Object.keys(s).every((k) => ANNOTATIONS.has(k));
}

const PRIMITIVES = ["null", "boolean", "object", "array", "number", "integer", "string"];

function typeSet(s: Obj): Set<string> | undefined {
  const t = s["type"];
  if (typeof t === "string") return new Set([t]);
  if (Array.isArray(t)) return new Set(t.filter((x): x is string => typeof x === "string"));
  return undefined;
}

function typeCovers(reader: Set<string>, writerType: string): boolean {
  return reader.has(writerType) || (writerType === "integer" && reader.has("number"));
}

class Checker {
  readonly issues: Incompatibility[] = [];
  constructor(
    private readonly readerRoot: JsonSchema,
    private readonly writerRoot: JsonSchema,
  ) {}

  private report(path: string, kind: string, message: string) {
    this.issues.push({ path: path || "/", kind, message });
  }

  private resolve(root: JsonSchema, s: JsonSchema, seen = 0): JsonSchema {
    if (typeof s === "boolean" || typeof s["$ref"] !== "string" || seen > 32) return s;
    const ref = s["$ref"];
    if (ref === "#") return root;
    const match = /^#\/(definitions|\$defs)\/(.+)$/.exec(ref);
    if (match === null || typeof root === "boolean") return s;
    const defs = root[match[1] ?? ""];
    const target = isObj(defs)
      ? defs[(match[2] ?? "").replace(/~1/g, "/").replace(/~0/g, "~")]
      : undefined;
    return isObj(target) || typeof target === "boolean" ? this.resolve(root, target, seen + 1) : s;
  }

  /** Appends the issues of reading `writer` data with `reader`; returns whether there were none. */
  check(readerIn: JsonSchema, writerIn: JsonSchema, path: string, depth = 0): boolean {
    const before = this.issues.length;
    if (depth > 64) return true; // recursive schemas: compared deep enough
    const reader = this.resolve(this.readerRoot, readerIn);
    const writer = this.resolve(this.writerRoot, writerIn);
    if (acceptsAll(reader) || writer === false) return true;
    if (reader === false) {
      this.report(path, "SCHEMA_NARROWED", "the new schema accepts nothing");
      return false;
    }
    if (acceptsAll(writer)) {
      if (!sameJson(reader, writer)) {
        this.report(
          path,
          "SCHEMA_NARROWED",
          "the old schema accepted any value here; the new one does not",
        );
      }
      return this.issues.length === before;
    }
    const r = reader as Obj;
    const w = writer as Obj;

    // Sum types (oneOf / anyOf): every old alternative must be readable by the new schema.
    const rSum = (r["oneOf"] ?? r["anyOf"]) as JsonSchema[] | undefined;
    const wSum = (w["oneOf"] ?? w["anyOf"]) as JsonSchema[] | undefined;
    if (wSum !== undefined) {
      const rest = this.without(w, ["oneOf", "anyOf"]);
      wSum.forEach((branch, i) => {
        const merged =
          isObj(branch) && Object.keys(rest).length > 0 ? { ...rest, ...branch } : branch;
        if (!this.readable(r, merged, depth)) {
          this.report(
            ptr(path, "oneOf", i),
            "SUM_TYPE_NARROWED",
            `an old alternative (#${i}) is no longer accepted by any new alternative`,
          );
        }
      });
      return this.issues.length === before;
    }
    if (rSum !== undefined) {
      if (!this.readable(r, w, depth)) {
        this.report(
          path,
          "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
          "no new alternative accepts the old schema",
        );
      }
      return this.issues.length === before;
    }

    for (const k of new Set([...Object.keys(r), ...Object.keys(w)])) {
      if (!KNOWN.has(k) && !sameJson(r[k], w[k])) {
        this.report(
          ptr(path, k),
          "UNKNOWN_KEYWORD_CHANGED",
          `keyword "${k}" changed and is not understood`,
        );
      }
    }

    this.checkType(r, w, path);
    this.checkValues(r, w, path);
    this.checkString(r, w, path);
    this.checkNumber(r, w, path);
    this.checkObject(r, w, path, depth);
    this.checkArray(r, w, path, depth);
    return this.issues.length === before;
  }

  private without(s: Obj, keys: string[]): Obj {
    return Object.fromEntries(Object.entries(s).filter(([k]) => !keys.includes(k)));
  }

  /** Whether `writer` data is readable by `reader` (a sum type: by any of its alternatives). */
  private readable(reader: Obj, writer: JsonSchema, depth: number): boolean {
    const rSum = (reader["oneOf"] ?? reader["anyOf"]) as JsonSchema[] | undefined;
    const alternatives: JsonSchema[] =
      rSum === undefined
        ? [reader]
        : rSum.map((b) => {
            const rest = this.without(reader, ["oneOf", "anyOf"]);
            return isObj(b) && Object.keys(rest).length > 0 ? { ...rest, ...b } : b;
          });
    return alternatives.some((alt) => {
      const probe = new Checker(this.readerRoot, this.writerRoot);
      return probe.check(alt, writer, "", depth + 1);
    });
  }

  private checkType(r: Obj, w: Obj, path: string) {
    const rt = typeSet(r);
    if (rt === undefined) return;
    const wt = typeSet(w) ?? new Set(PRIMITIVES);
    for (const t of wt) {
      if (!typeCovers(rt, t)) {
        this.report(
          ptr(path, "type"),
          "TYPE_NARROWED",
          `values of type ${t} are no longer accepted`,
        );
      }
    }
  }

  private checkValues(r: Obj, w: Obj, path: string) {
    const allowed = (s: Obj): unknown[] | undefined =>
      "const" in s ? [s["const"]] : Array.isArray(s["enum"]) ? (s["enum"] as unknown[]) : undefined;
    const ra = allowed(r);
    if (ra === undefined) return;
    const wa = allowed(w);
    if (wa === undefined) {
      this.report(path, "ENUM_ARRAY_NARROWED", "a const or enum restriction was added");
      return;
    }
    for (const v of wa) {
      if (!ra.some((x) => sameJson(x, v))) {
        this.report(
          ptr(path, "enum"),
          "ENUM_ARRAY_NARROWED",
          `value ${JSON.stringify(v)} is no longer allowed`,
        );
      }
    }
  }

  private lowerBound(r: Obj, w: Obj, key: string, path: string, kind: string) {
    const rv = r[key];
    if (typeof rv !== "number") return;
    const wv = w[key];
    if (typeof wv !== "number")
      this.report(ptr(path, key), `${kind}_ADDED`, `${key} ${rv} was added`);
    else if (rv > wv)
      this.report(ptr(path, key), `${kind}_INCREASED`, `${key} rose from ${wv} to ${rv}`);
  }

  private upperBound(r: Obj, w: Obj, key: string, path: string, kind: string) {
    const rv = r[key];
    if (typeof rv !== "number") return;
    const wv = w[key];
    if (typeof wv !== "number")
      this.report(ptr(path, key), `${kind}_ADDED`, `${key} ${rv} was added`);
    else if (rv < wv)
      this.report(ptr(path, key), `${kind}_DECREASED`, `${key} fell from ${wv} to ${rv}`);
  }

  private checkString(r: Obj, w: Obj, path: string) {
    this.lowerBound(r, w, "minLength", path, "MIN_LENGTH");
    this.upperBound(r, w, "maxLength", path, "MAX_LENGTH");
    for (const key of ["pattern", "format"]) {
      if (r[key] !== undefined && !sameJson(r[key], w[key])) {
        this.report(
          ptr(path, key),
          w[key] === undefined ? `${key.toUpperCase()}_ADDED` : `${key.toUpperCase()}_CHANGED`,
          `${key} ${JSON.stringify(r[key])} differs from ${JSON.stringify(w[key])}`,
        );
      }
    }
  }

  private checkNumber(r: Obj, w: Obj, path: string) {
    this.lowerBound(r, w, "minimum", path, "MINIMUM");
    this.upperBound(r, w, "maximum", path, "MAXIMUM");
    this.lowerBound(r, w, "exclusiveMinimum", path, "EXCLUSIVE_MINIMUM");
    this.upperBound(r, w, "exclusiveMaximum", path, "EXCLUSIVE_MAXIMUM");
    const rm = r["multipleOf"];
    if (typeof rm === "number") {
      const wm = w["multipleOf"];
      if (typeof wm !== "number" || !Number.isInteger(wm / rm)) {
        this.report(
          ptr(path, "multipleOf"),
          "MULTIPLE_OF_CHANGED",
          "multipleOf no longer divides the old one",
        );
      }
    }
  }

  private checkObject(r: Obj, w: Obj, path: string, depth: number) {
    const rProps = (isObj(r["properties"]) ? r["properties"] : {}) as Record<string, JsonSchema>;
    const wProps = (isObj(w["properties"]) ? w["properties"] : {}) as Record<string, JsonSchema>;
    const rAdditional = (r["additionalProperties"] ?? true) as JsonSchema;
    const wAdditional = (w["additionalProperties"] ?? true) as JsonSchema;
    const rRequired = new Set((r["required"] as string[] | undefined) ?? []);
    const wRequired = new Set((w["required"] as string[] | undefined) ?? []);
    const wClosed = wAdditional === false;

    for (const [name, rp] of Object.entries(rProps)) {
      const wp = wProps[name];
      const at = ptr(path, "properties", name);
      if (wp !== undefined) {
        this.check(rp, wp, at, depth + 1);
      } else if (wClosed) {
        // Old records never carry it: adding a property to a closed model is safe.
      } else if (acceptsAll(wAdditional)) {
        if (!acceptsAll(rp)) {
          this.report(
            at,
            "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
            `property "${name}" added to an open content model`,
          );
        }
      } else if (!this.check(rp, wAdditional, at, depth + 1)) {
        this.report(
          at,
          "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
          `property "${name}" narrows additionalProperties`,
        );
      }
    }
    for (const [name, wp] of Object.entries(wProps)) {
      if (name in rProps) continue;
      const at = ptr(path, "properties", name);
      if (rAdditional === false) {
        this.report(
          at,
          "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
          `property "${name}" removed from a closed content model`,
        );
      } else if (!acceptsAll(rAdditional) && !this.check(rAdditional, wp, at, depth + 1)) {
        this.report(
          at,
          "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
          `property "${name}" removed and not covered by additionalProperties`,
        );
      }
    }
    for (const name of rRequired) {
      if (wRequired.has(name)) continue;
      const rp = rProps[name];
      const hasDefault = isObj(rp) && "default" in rp;
      if (!hasDefault) {
        this.report(
          ptr(path, "required"),
          "REQUIRED_PROPERTY_ADDED",
          `property "${name}" is now required`,
        );
      }
    }
    if (r["additionalProperties"] !== undefined || w["additionalProperties"] !== undefined) {
      if (!acceptsAll(rAdditional)) {
        if (rAdditional === false && wAdditional !== false) {
          this.report(
            ptr(path, "additionalProperties"),
            "ADDITIONAL_PROPERTIES_REMOVED",
            "the content model was closed",
          );
        } else if (rAdditional !== false && wAdditional !== false) {
          this.check(rAdditional, wAdditional, ptr(path, "additionalProperties"), depth + 1);
        }
      }
    }
    if (r["propertyNames"] !== undefined) {
      this.check(
        r["propertyNames"] as JsonSchema,
        (w["propertyNames"] ?? { type: "string" }) as JsonSchema,
        ptr(path, "propertyNames"),
        depth + 1,
      );
    }
    if (
      r["patternProperties"] !== undefined &&
      !sameJson(r["patternProperties"], w["patternProperties"])
    ) {
      this.report(
        ptr(path, "patternProperties"),
        "PATTERN_PROPERTIES_CHANGED",
        "patternProperties changed",
      );
    }
    this.lowerBound(r, w, "minProperties", path, "MIN_PROPERTIES");
    this.upperBound(r, w, "maxProperties", path, "MAX_PROPERTIES");
  }

  private checkArray(r: Obj, w: Obj, path: string, depth: number) {
    const ri = r["items"];
    if (ri !== undefined) {
      if (Array.isArray(ri) || Array.isArray(w["items"])) {
        if (!sameJson(ri, w["items"]))
          this.report(ptr(path, "items"), "ITEMS_CHANGED", "tuple items changed");
      } else {
        this.check(
          ri as JsonSchema,
          (w["items"] ?? true) as JsonSchema,
          ptr(path, "items"),
          depth + 1,
        );
      }
    }
    this.lowerBound(r, w, "minItems", path, "MIN_ITEMS");
    this.upperBound(r, w, "maxItems", path, "MAX_ITEMS");
    if (r["uniqueItems"] === true && w["uniqueItems"] !== true) {
      this.report(ptr(path, "uniqueItems"), "UNIQUE_ITEMS_ADDED", "uniqueItems was added");
    }
  }
}

/** Why data written with `writer` may not be readable with `reader`; empty when backward compatible. */
export function backwardIncompatibilities(
  reader: JsonSchema,
  writer: JsonSchema,
): Incompatibility[] {
  const checker = new Checker(reader, writer);
  checker.check(reader, writer, "");
  return checker.issues;
}

/**
 * BACKWARD_TRANSITIVE: the candidate must read data written with every earlier version.
 * Returns the problems per earlier version (1-based), empty when compatible with all.
 */
export function backwardTransitiveIncompatibilities(
  candidate: JsonSchema,
  history: readonly JsonSchema[],
): { readonly version: number; readonly issues: readonly Incompatibility[] }[] {
  return history
    .map((old, i) => ({ version: i + 1, issues: backwardIncompatibilities(candidate, old) }))
    .filter((r) => r.issues.length > 0);
}
