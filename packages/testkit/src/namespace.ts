import { randomBytes } from "node:crypto";

/** Names that belong to one spec only, so specs never share topics, groups or databases. */
export interface Namespace {
  readonly id: string;
  topic(name: string): string;
  group(name: string): string;
  transactionalId(name: string): string;
  /** MongoDB database names are limited to 63 bytes and cannot contain '.'. */
  database(name?: string): string;
}

export function createNamespace(label = "t"): Namespace {
  const safe =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .slice(0, 20) || "t";
  const id = `${safe}-${randomBytes(4).toString("hex")}`;
  return {
    id,
    topic: (name) => `${id}.${name}`,
    group: (name) => `${id}.${name}`,
    transactionalId: (name) => `${id}.${name}`,
    database: (name = "db") => `${id}_${name}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 63),
  };
}
