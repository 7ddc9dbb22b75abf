import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Catalog, TopicSpec } from "../catalog.js";
import {
  backwardTransitiveIncompatibilities,
  sameJson,
  type Incompatibility,
  type JsonSchema,
} from "../compat.js";
import { registeredSchema } from "../registered.js";

export const SNAPSHOT_COMMAND = "pnpm --filter @parley/contracts snapshot";

/** The published versions of a subject, oldest first (`<dir>/<subject>/v<N>.json`). */
export function readSnapshots(dir: string, subject: string): JsonSchema[] {
  const subjectDir = join(dir, subject);
  if (!existsSync(subjectDir)) return [];
  const versions = readdirSync(subjectDir)
    .map((f) => /^v(\d+)\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  versions.forEach((v, i) => {
    if (v !== i + 1)
      throw new Error(`${subjectDir}: versions must run v1..vN without gaps; v${i + 1} is missing`);
  });
  return versions.map(
    (v) => JSON.parse(readFileSync(join(subjectDir, `v${v}.json`), "utf8")) as JsonSchema,
  );
}

export interface SubjectState {
  readonly topic: TopicSpec;
  readonly current: JsonSchema;
  readonly history: readonly JsonSchema[];
  /** The current schema equals the last snapshot. */
  readonly upToDate: boolean;
  readonly incompatible: readonly {
    readonly version: number;
    readonly issues: readonly Incompatibility[];
  }[];
}

/** Compares every registered topic's generated schema with its snapshots. */
export function subjectStates(catalog: Catalog, dir: string): SubjectState[] {
  return catalog.topics.map((topic) => {
    const current = JSON.parse(registeredSchema(topic).schema) as JsonSchema;
    const history = readSnapshots(dir, topic.subject);
    const last = history.at(-1);
    return {
      topic,
      current,
      history,
      upToDate: last !== undefined && sameJson(last, current),
      incompatible: backwardTransitiveIncompatibilities(current, history),
    };
  });
}

export function describeIncompatibility(state: SubjectState): string {
  return state.incompatible
    .map(
      ({ version, issues }) =>
        `${state.topic.subject}: not backward compatible with v${version}:\n${issues
          .map((i) => `  - ${i.kind} at ${i.path}: ${i.message}`)
          .join("\n")}`,
    )
    .join("\n");
}

/** Writes v<N+1> for every subject whose schema changed compatibly; refuses incompatible ones. */
export function publishSnapshots(
  catalog: Catalog,
  dir: string,
): { written: string[]; refused: string[] } {
  const written: string[] = [];
  const refused: string[] = [];
  for (const state of subjectStates(catalog, dir)) {
    if (state.upToDate) continue;
    if (state.incompatible.length > 0) {
      refused.push(describeIncompatibility(state));
      continue;
    }
    const subjectDir = join(dir, state.topic.subject);
    mkdirSync(subjectDir, { recursive: true });
    const file = join(subjectDir, `v${state.history.length + 1}.json`);
    writeFileSync(file, `${JSON.stringify(state.current, null, 2)}\n`);
    written.push(file);
  }
  return { written, refused };
}
