// Reading Meta's JSON defensively: every accessor answers undefined (or empty) for a missing or
// mistyped value, so unknown and malformed fields never throw inside the parser.

import { isJsonObject } from "@parley/contracts";

export type Json = Readonly<Record<string, unknown>>;

export const isObject: (v: unknown) => v is Json = isJsonObject;

export const obj = (v: unknown): Json | undefined => (isObject(v) ? v : undefined);

/** Strings as they are; numbers as their decimal text (Meta sends some ids as numbers). */
export const str = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;

/** A non-empty string, or undefined. */
export const text = (v: unknown): string | undefined => {
  const s = str(v);
  return s === undefined || s === "" ? undefined : s;
};

export const num = (v: unknown): number | undefined => {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
};

export const int = (v: unknown): number | undefined => {
  const n = num(v);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
};

export const bool = (v: unknown): boolean | undefined => (typeof v === "boolean" ? v : undefined);

export const objects = (v: unknown): readonly Json[] =>
  Array.isArray(v) ? v.filter(isObject) : [];

/** Unix seconds (string or number) to an ISO instant. */
export const unixToIso = (v: unknown): string | undefined => {
  const seconds = num(v);
  if (seconds === undefined) return undefined;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
};

type Compact<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

/** Drops undefined properties (exactOptionalPropertyTypes: absent, never undefined). */
export function compact<T extends Record<string, unknown>>(o: T): Compact<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Compact<T>;
}
