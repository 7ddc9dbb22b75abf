import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMetrics } from "@parley/telemetry";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./processes.js";
import {
  dashboardQueries,
  definedMetrics,
  expositionMetrics,
  promqlMetricNames,
  ruleQueries,
  seriesNames,
} from "./tracing-metrics.js";

const dashboards = join(repoRoot, "infra/grafana/dashboards");
const rulesFile = join(repoRoot, "infra/prometheus/rules/parley.rules.yml");
/** Series Prometheus itself makes for each target. */
const SYNTHETIC = ["up"];
/** What the rules read from other exporters: the blackbox exporter's probe of the webhook URL. */
const EXTERNAL = ["probe_ssl_earliest_cert_expiry"];
/** Series a rule reads that no service exports yet: none (the sender's in-doubt gauge came). */
const PENDING: string[] = [];

let exported: Set<string>;

beforeAll(async () => {
  // The services' own series (their definitions) and the Node process series every registry has.
  const defaults = expositionMetrics(await createMetrics({ service: "any" }).metrics());
  exported = seriesNames(new Map([...definedMetrics(repoRoot), ...defaults]));
});

describe("reading PromQL", () => {
  it("finds the metric names of an expression, not its functions, labels or keywords", () => {
    expect(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (le, stage) (rate(parley_a_seconds_bucket{stage=~"x|y"}[5m]))) / on (service) group_left max(parley_b) or vector(0) unless parley_c offset 10m',
      ).sort(),
    ).toEqual(["parley_a_seconds_bucket", "parley_b", "parley_c"]);
    expect(
      promqlMetricNames('(min by (instance) (probe_x{job="a"}) - time()) < 14 * 86400'),
    ).toEqual(["probe_x"]);
  });

  it("finds the metrics the services define", () => {
    for (const name of [
      "parley_kafka_consumer_lag_records",
      "parley_kafka_dead_letters_total",
      "parley_webhook_response_seconds_bucket",
      "parley_sender_outcomes_total",
      "parley_router_statuses_total",
      "parley_process_cpu_seconds_total",
    ])
      expect(exported).toContain(name);
  });
});

describe("the Grafana dashboards", () => {
  const queries = dashboardQueries(dashboards);

  it("cover platform health, delivery, throughput, consent and costs", () => {
    const titles = readdirSync(dashboards).map(
      (f) => (JSON.parse(readFileSync(join(dashboards, f), "utf8")) as { title: string }).title,
    );
    expect(titles.sort()).toEqual([
      "Parley: consent",
      "Parley: costs",
      "Parley: delivery",
      "Parley: platform health",
      "Parley: throughput",
    ]);
    expect(queries.length).toBeGreaterThan(40);
  });

  it("query only metrics that a service exports", () => {
    const unknown = queries.flatMap((q) =>
      promqlMetricNames(q.expr)
        .filter((name) => !exported.has(name) && !SYNTHETIC.includes(name))
        .map((name) => `${q.dashboard} / ${q.panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
    expect(queries.every((q) => promqlMetricNames(q.expr).length > 0)).toBe(true);
  });

  it("are what build-dashboards.mjs writes (edit the generator, not the JSON)", () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-dashboards-"));
    try {
      execFileSync(process.execPath, [join(repoRoot, "infra/grafana/build-dashboards.mjs"), dir]);
      for (const file of readdirSync(dashboards)) {
        expect(readFileSync(join(dir, file), "utf8"), file).toBe(
          readFileSync(join(dashboards, file), "utf8"),
        );
      }
      expect(readdirSync(dir).sort()).toEqual(readdirSync(dashboards).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("are provisioned by docker-compose.yml", () => {
    const compose = readFileSync(join(repoRoot, "docker-compose.yml"), "utf8");
    expect(compose).toContain("./infra/grafana/dashboards:/etc/grafana/dashboards/parley:ro");
    const provider = readFileSync(
      join(repoRoot, "infra/docker/grafana/provisioning/dashboards/parley.yaml"),
      "utf8",
    );
    expect(provider).toContain("path: /etc/grafana/dashboards/parley");
  });
});

describe("the alert rules", () => {
  const rules = ruleQueries(rulesFile);

  it("are all read", () => {
    expect(rules.map((r) => r.rule)).toContain("ConsumerLagGrowing");
    expect(rules.length).toBe(readFileSync(rulesFile, "utf8").match(/- alert: /g)?.length);
    expect(rules.every((r) => r.expr.length > 0)).toBe(true);
  });

  it("query only metrics that a service exports, Prometheus makes, or the blackbox exporter probes", () => {
    const known = (name: string) =>
      exported.has(name) || [...SYNTHETIC, ...EXTERNAL, ...PENDING].includes(name);
    const unknown = rules.flatMap((r) =>
      promqlMetricNames(r.expr)
        .filter((name) => !known(name))
        .map((name) => `${r.rule}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it("are loaded by the Docker stack's Prometheus", () => {
    expect(readFileSync(join(repoRoot, "infra/docker/prometheus.yml"), "utf8")).toContain(
      "/etc/prometheus/rules/parley.rules.yml",
    );
    expect(existsSync(rulesFile)).toBe(true);
  });
});
