/** A JSON object (not an array, not null): what a parsed body or payload must be to have fields. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
