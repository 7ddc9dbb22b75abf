import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// What the dashboards and alert rules query, and what the services export: shared by the
// dashboards' unit test (against the metric definitions) and the tracing e2e (against the
// running services' /metrics).

/** PromQL words that are not metric names. */
const KEYWORDS = new Set([
  "by",
  "without",
  "and",
  "or",
  "unless",
  "offset",
  "bool",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (functions, labels, strings and keywords left out). */
export function promqlMetricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, word, call] = match;
    if (word === undefined || call !== undefined || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** Metric names and types of a Prometheus text exposition, from its `# TYPE` lines. */
export function expositionMetrics(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (m[1] !== undefined && m[2] !== undefined) types.set(m[1], m[2]);
  }
  return types;
}

/** The series names a set of metric families produces (a histogram's _bucket, _sum, _count). */
export function seriesNames(families: ReadonlyMap<string, string>): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of families) {
    names.add(name);
    if (type === "histogram" || type === "summary") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    }
  }
  return names;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && entry.name !== "dist") yield* sourceFiles(path);
    } else if (entry.name.endsWith(".ts") && !entry.name.includes(".spec.")) yield path;
  }
}

/**
 * The metric families the services define with @parley/telemetry's factories
 * (`metrics.counter({ name: "..." })` and so on) in packages/ and services/, prefixed `parley_`.
 */
export function definedMetrics(repoRoot: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const group of ["packages", "services"]) {
    for (const name of readdirSync(join(repoRoot, group))) {
      let files: string[];
      try {
        files = [...sourceFiles(join(repoRoot, group, name, "src"))];
      } catch {
        continue;
      }
      for (const file of files) {
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(
          /\.(counter|gauge|histogram)(?:<[^>(]*>)?\(\s*\{\s*name:\s*"([a-z0-9_]+)"/g,
        )) {
          if (m[1] !== undefined && m[2] !== undefined) families.set(`parley_${m[2]}`, m[1]);
        }
      }
    }
  }
  return families;
}

export interface DashboardQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
}

interface Panel {
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly Panel[];
}

/** Every panel query of the dashboards in `dir` (nested rows included). */
export function dashboardQueries(dir: string): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
      title: string;
      panels: Panel[];
    };
    const visit = (panel: Panel): void => {
      for (const target of panel.targets ?? []) {
        queries.push({
          dashboard: dashboard.title,
          panel: panel.title ?? "",
          expr: target.expr ?? "",
        });
      }
      for (const inner of panel.panels ?? []) visit(inner);
    };
    for (const panel of dashboard.panels) visit(panel);
  }
  return queries;
}

/** Every `expr` of a Prometheus rules file, with its alert or record name. */
export function ruleQueries(file: string): { readonly rule: string; readonly expr: string }[] {
  const text = readFileSync(file, "utf8");
  const rules: { rule: string; expr: string }[] = [];
  const blocks = text.split(/^\s*- (?=alert:|record:)/m).slice(1);
  for (const block of blocks) {
    const rule = /^(?:alert|record): (\S+)/.exec(block)?.[1] ?? "?";
    const folded = /\n\s*expr: >-\n((?:\s{10,}.*\n?)+)/.exec(block)?.[1];
    const inline = /\n\s*expr: (?!>-)(.+)/.exec(block)?.[1];
    rules.push({ rule, expr: (folded ?? inline ?? "").replace(/\s+/g, " ").trim() });
  }
  return rules;
}
