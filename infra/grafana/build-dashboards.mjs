// Writes Parley's Grafana dashboards (infra/grafana/dashboards/*.json) from the definitions
// below: `node infra/grafana/build-dashboards.mjs`. The JSON is committed and provisioned by
// docker-compose.yml (infra/docker/grafana/provisioning/dashboards/parley.yaml); edit here, not
// in Grafana, and run it again. e2e/src/tracing-dashboards.unit.spec.ts checks that every query
// names a metric a service exports.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "prettier";

const out = process.argv[2] ?? fileURLToPath(new URL("./dashboards", import.meta.url));
const datasource = { type: "prometheus", uid: "prometheus" };

/** A time-series panel; `queries` are [expr, legend] pairs. */
const series = (title, unit, queries, { description, stack = false } = {}) => ({
  type: "timeseries",
  title,
  ...(description === undefined ? {} : { description }),
  datasource,
  fieldConfig: {
    defaults: {
      unit,
      custom: { fillOpacity: stack ? 30 : 10, stacking: { mode: stack ? "normal" : "none" } },
    },
    overrides: [],
  },
  options: { legend: { displayMode: "table", placement: "bottom", calcs: ["lastNotNull", "max"] } },
  targets: queries.map(([expr, legendFormat], i) => ({
    datasource,
    expr,
    legendFormat,
    refId: String.fromCharCode(65 + i),
  })),
});

/** A single-value panel. */
const stat = (title, unit, expr, legendFormat, { thresholds = [] } = {}) => ({
  type: "stat",
  title,
  datasource,
  fieldConfig: {
    defaults: {
      unit,
      thresholds: {
        mode: "absolute",
        steps: [{ color: "green", value: null }, ...thresholds],
      },
    },
    overrides: [],
  },
  options: { reduceOptions: { calcs: ["lastNotNull"] }, colorMode: "background" },
  targets: [{ datasource, expr, legendFormat, refId: "A" }],
});

const row = (title) => ({ type: "row", title, collapsed: false, panels: [] });

/** Lays panels out left to right: rows full width, series half, stats a quarter. */
function layout(panels) {
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  return panels.map((panel, i) => {
    const w = panel.type === "row" ? 24 : panel.type === "stat" ? 6 : 12;
    const h = panel.type === "row" ? 1 : panel.type === "stat" ? 4 : 8;
    if (x + w > 24) {
      x = 0;
      y += lineHeight;
      lineHeight = 0;
    }
    const placed = { id: i + 1, gridPos: { x, y, w, h }, ...panel };
    x += w;
    lineHeight = Math.max(lineHeight, h);
    return placed;
  });
}

const dashboard = (uid, title, description, panels) => ({
  uid,
  title,
  description,
  tags: ["parley"],
  timezone: "utc",
  schemaVersion: 41,
  version: 1,
  editable: false,
  refresh: "30s",
  time: { from: "now-1h", to: "now" },
  links: [
    {
      title: "Parley dashboards",
      type: "dashboards",
      tags: ["parley"],
      asDropdown: true,
    },
  ],
  panels: layout(panels),
});

const perService = (expr) => [expr, "{{service}}"];

const dashboards = [
  dashboard(
    "parley-platform",
    "Parley: platform health",
    "The golden signals of each service (traffic, errors, latency, saturation), consumer lag and dead letters.",
    [
      row("Services"),
      stat("Services up", "none", 'sum(up{job="parley"})', "up", {
        thresholds: [
          { color: "red", value: 0 },
          { color: "green", value: 6 },
        ],
      }),
      stat("Dead letters (1 h)", "none", "sum(increase(parley_kafka_dead_letters_total[1h]))", "", {
        thresholds: [{ color: "orange", value: 1 }],
      }),
      stat("Consumer lag", "none", "sum(parley_kafka_consumer_lag_records)", "records", {
        thresholds: [{ color: "orange", value: 1000 }],
      }),
      stat(
        "Signature failures (5 min)",
        "none",
        "sum(increase(parley_webhook_signature_failures_total[5m]))",
        "",
        {
          thresholds: [{ color: "red", value: 5 }],
        },
      ),
      row("Traffic and errors"),
      series("Webhook requests by outcome", "reqps", [
        ["sum by (outcome) (rate(parley_webhook_requests_total[5m]))", "{{outcome}}"],
      ]),
      series("Send API requests by outcome", "reqps", [
        ["sum by (outcome) (rate(parley_send_api_requests_total[5m]))", "{{outcome}}"],
      ]),
      series("Router: facts and published events", "ops", [
        ["sum by (outcome) (rate(parley_router_inbound_facts_total[5m]))", "facts {{outcome}}"],
        [
          "sum by (outcome) (rate(parley_router_outbound_requests_total[5m]))",
          "send requests {{outcome}}",
        ],
      ]),
      series("Projection records", "ops", [
        ["sum by (outcome) (rate(parley_projection_records_total[5m]))", "{{outcome}}"],
      ]),
      row("Latency"),
      series("Webhook acknowledgement (POST)", "s", [
        [
          'histogram_quantile(0.5, sum by (le) (rate(parley_webhook_response_seconds_bucket{method="POST"}[5m])))',
          "p50",
        ],
        [
          'histogram_quantile(0.99, sum by (le) (rate(parley_webhook_response_seconds_bucket{method="POST"}[5m])))',
          "p99",
        ],
        [
          'sum(rate(parley_webhook_response_seconds_sum{method="POST"}[5m])) / sum(rate(parley_webhook_response_seconds_count{method="POST"}[5m]))',
          "average (alert over 500 ms)",
        ],
      ]),
      series("Kafka appends (webhooks and send API)", "s", [
        [
          "histogram_quantile(0.99, sum by (le) (rate(parley_webhook_append_seconds_bucket[5m])))",
          "webhook p99",
        ],
        [
          "histogram_quantile(0.99, sum by (le) (rate(parley_send_api_publish_seconds_bucket[5m])))",
          "send API p99",
        ],
      ]),
      series("Router stages (p99)", "s", [
        [
          "histogram_quantile(0.99, sum by (le, stage) (rate(parley_router_inbound_stage_seconds_bucket[5m])))",
          "inbound {{stage}}",
        ],
        [
          "histogram_quantile(0.99, sum by (le, stage) (rate(parley_router_outbound_stage_seconds_bucket[5m])))",
          "outbound {{stage}}",
        ],
      ]),
      series("Sender and projection stages (p99)", "s", [
        [
          "histogram_quantile(0.99, sum by (le, stage) (rate(parley_sender_stage_seconds_bucket[5m])))",
          "sender {{stage}}",
        ],
        [
          "histogram_quantile(0.99, sum by (le, stage) (rate(parley_projection_stage_seconds_bucket[5m])))",
          "projection {{stage}}",
        ],
      ]),
      row("Kafka"),
      series("Consumer lag by group and topic", "none", [
        ["sum by (group, topic) (parley_kafka_consumer_lag_records)", "{{group}} {{topic}}"],
      ]),
      series("Dead letters by group and reason", "none", [
        [
          "sum by (group, reason) (increase(parley_kafka_dead_letters_total[10m]))",
          "{{group}} {{reason}}",
        ],
      ]),
      row("Saturation"),
      series("CPU", "percentunit", [
        perService("sum by (service) (rate(parley_process_cpu_seconds_total[1m]))"),
      ]),
      series("Resident memory", "bytes", [
        perService("sum by (service) (parley_process_resident_memory_bytes)"),
      ]),
      series("Event loop delay (p99)", "s", [
        perService("max by (service) (parley_nodejs_eventloop_lag_p99_seconds)"),
      ]),
      series("Work in flight", "none", [
        ["sum(parley_webhook_appends_in_flight)", "webhook appends"],
        ["sum(parley_sender_in_flight)", "sender dispatches"],
        ["sum(parley_media_downloads_in_flight)", "media downloads"],
      ]),
      row("Media"),
      series("Inbound media: webhook to stored (fetch latency)", "s", [
        [
          'histogram_quantile(0.5, sum by (le) (rate(parley_media_fetch_seconds_bucket{outcome="stored"}[5m])))',
          "p50",
        ],
        [
          'histogram_quantile(0.99, sum by (le) (rate(parley_media_fetch_seconds_bucket{outcome="stored"}[5m])))',
          "p99 (target 30 s)",
        ],
      ]),
      series(
        "Inbound media failures by reason",
        "ops",
        [["sum by (reason) (rate(parley_media_fetch_failures_total[5m]))", "{{reason}}"]],
        { stack: true },
      ),
      series("Bytes stored by origin", "Bps", [
        ["sum by (origin) (rate(parley_media_stored_bytes_total[5m]))", "{{origin}}"],
      ]),
      series("Downloads in flight, retries and deletions", "none", [
        ["sum(parley_media_downloads_in_flight)", "in flight"],
        [
          'sum by (step, outcome) (increase(parley_media_fetch_attempts_total{outcome!="ok"}[5m]))',
          "{{step}} {{outcome}} (5 min)",
        ],
        [
          "sum by (reason) (increase(parley_media_deleted_objects_total[5m]))",
          "deleted: {{reason}} (5 min)",
        ],
      ]),
    ],
  ),
  dashboard(
    "parley-delivery",
    "Parley: delivery",
    "What happens to the messages: send outcomes, Meta's statuses, failure rates and error codes, per business number.",
    [
      row("Outcomes"),
      stat(
        "Failure rate (10 min)",
        "percentunit",
        'sum(rate(parley_sender_outcomes_total{type="SendFailed"}[10m])) / sum(rate(parley_sender_outcomes_total{type=~"SendAccepted|SendFailed"}[10m]))',
        "",
        { thresholds: [{ color: "red", value: 0.01 }] },
      ),
      stat("Paused numbers", "none", "sum(parley_sender_number_paused)", "", {
        thresholds: [{ color: "red", value: 1 }],
      }),
      stat("Parked dispatches", "none", "sum(parley_sender_parked_dispatches)", "", {
        thresholds: [{ color: "orange", value: 1 }],
      }),
      stat(
        "Delivered (1 h)",
        "none",
        'sum(increase(parley_router_statuses_total{status="delivered"}[1h]))',
        "",
      ),
      series(
        "Send outcomes",
        "ops",
        [["sum by (type) (rate(parley_sender_outcomes_total[5m]))", "{{type}}"]],
        { stack: true },
      ),
      series(
        "Router decisions on send requests",
        "ops",
        [["sum by (outcome) (rate(parley_router_outbound_requests_total[5m]))", "{{outcome}}"]],
        { stack: true },
      ),
      row("Meta's statuses"),
      series("Statuses: sent, delivered, read, failed", "ops", [
        ["sum by (status) (rate(parley_router_statuses_total[5m]))", "{{status}}"],
      ]),
      series("Delivered and read over sent", "percentunit", [
        [
          'sum(rate(parley_router_statuses_total{status="delivered"}[15m])) / sum(rate(parley_router_statuses_total{status="sent"}[15m]))',
          "delivered / sent",
        ],
        [
          'sum(rate(parley_router_statuses_total{status="read"}[15m])) / sum(rate(parley_router_statuses_total{status="delivered"}[15m]))',
          "read / delivered",
        ],
      ]),
      series("Send failures by Graph error code", "ops", [
        [
          'sum by (code) (rate(parley_router_send_outcomes_total{type="SendFailed"}[5m]))',
          "{{code}}",
        ],
      ]),
      series(
        "Outcomes by type, every producer (router's view)",
        "ops",
        [["sum by (type) (rate(parley_router_send_outcomes_total[5m]))", "{{type}}"]],
        { stack: true },
      ),
      series("Failed statuses by Graph error code", "ops", [
        ["sum by (code) (rate(parley_router_status_errors_total[5m]))", "{{code}}"],
      ]),
      series("Webhook-level errors by code", "ops", [
        ["sum by (code) (rate(parley_router_webhook_errors_total[5m]))", "{{code}}"],
      ]),
      row("Per business number"),
      series("Outcomes per number", "ops", [
        [
          "sum by (business_number, type) (rate(parley_sender_outcomes_total[5m]))",
          "{{business_number}} {{type}}",
        ],
      ]),
      series("Graph call latency per number (p95)", "s", [
        [
          "histogram_quantile(0.95, sum by (le, business_number) (rate(parley_sender_graph_call_duration_seconds_bucket[5m])))",
          "{{business_number}}",
        ],
      ]),
      series("Paused and held numbers", "none", [
        ["max by (business_number) (parley_sender_number_paused)", "paused {{business_number}}"],
        ["max by (business_number) (parley_sender_number_held)", "held (code) {{business_number}}"],
      ]),
      series("Parked dispatches per number", "none", [
        ["sum by (business_number) (parley_sender_parked_dispatches)", "{{business_number}}"],
      ]),
    ],
  ),
  dashboard(
    "parley-throughput",
    "Parley: throughput",
    "Each business number's send rate against its cap, and what the sender waited for.",
    [
      row("Rate against cap"),
      series("Sends per second and cap, per number", "ops", [
        [
          'sum by (business_number) (rate(parley_sender_outcomes_total{type=~"SendAccepted|SendFailed"}[1m]))',
          "sent {{business_number}}",
        ],
        ["max by (business_number) (parley_sender_number_mps)", "cap {{business_number}}"],
      ]),
      series("Utilisation of the cap, per number", "percentunit", [
        [
          'sum by (business_number) (rate(parley_sender_outcomes_total{type=~"SendAccepted|SendFailed"}[1m])) / max by (business_number) (parley_sender_number_mps)',
          "{{business_number}}",
        ],
      ]),
      row("Waits"),
      series("Limiter waits (p95) by kind", "s", [
        [
          "histogram_quantile(0.95, sum by (le, kind) (rate(parley_sender_limiter_wait_seconds_bucket[5m])))",
          "{{kind}}",
        ],
      ]),
      series("Limiter waits per second by kind", "ops", [
        ["sum by (kind) (rate(parley_sender_limiter_wait_seconds_count[5m]))", "{{kind}}"],
      ]),
      series("Dispatch lag", "none", [
        ['sum by (topic) (parley_kafka_consumer_lag_records{service="sender"})', "{{topic}}"],
      ]),
      series("Sender in flight", "none", [["sum(parley_sender_in_flight)", "in flight"]]),
    ],
  ),
  dashboard(
    "parley-consent",
    "Parley: consent",
    "Opt-ins and opt-outs: the consent facts the router reads from Meta's webhooks, and the send requests refused for them.",
    [
      series("Consent events from webhooks", "ops", [
        [
          'sum by (type) (rate(parley_router_inbound_events_total{type=~"ConsentGranted|ConsentRevoked|UserPreferencesUpdated"}[5m]))',
          "{{type}}",
        ],
      ]),
      series("Consent events (24 h)", "none", [
        [
          'sum by (type) (increase(parley_router_inbound_events_total{type=~"ConsentGranted|ConsentRevoked|UserPreferencesUpdated"}[24h]))',
          "{{type}}",
        ],
      ]),
      series(
        "Send requests the router decided on, by outcome",
        "ops",
        [["sum by (outcome) (rate(parley_router_outbound_requests_total[5m]))", "{{outcome}}"]],
        { stack: true },
      ),
      series("Sends rejected by the sender", "ops", [
        ['sum(rate(parley_sender_outcomes_total{type="SendRejected"}[5m]))', "SendRejected"],
      ]),
    ],
  ),
  dashboard(
    "parley-costs",
    "Parley: costs",
    "Delivered messages Meta prices, by pricing category (router, from the statuses' pricing). Multiply by the rate card (packages/pricing/rate-card.example.json); the projection's read side has the priced totals.",
    [
      series(
        "Billable messages per hour by category",
        "none",
        [
          [
            "sum by (category) (increase(parley_router_billable_messages_total[1h]))",
            "{{category}}",
          ],
        ],
        { stack: true },
      ),
      series("Billable messages (24 h) by category", "none", [
        [
          "sum by (category) (increase(parley_router_billable_messages_total[24h]))",
          "{{category}}",
        ],
      ]),
    ],
  ),
];

mkdirSync(out, { recursive: true });
for (const d of dashboards) {
  const file = join(out, `${d.uid}.json`);
  writeFileSync(file, await format(JSON.stringify(d), { parser: "json", filepath: file }));
}
console.log(`wrote ${dashboards.length} dashboards to ${out}`);
