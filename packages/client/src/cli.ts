#!/usr/bin/env node
// `parley tail`: follow a send request's outcome and delivery statuses as they arrive, decoded
// through the schema registry. Reads KAFKA_BROKERS, SCHEMA_REGISTRY_URL and PARLEY_TOPIC_PREFIX
// (bin/parley sets them from the running `make dev` stack), and the services' Kafka and registry
// security variables (KAFKA_TLS*, KAFKA_SASL_*, SCHEMA_REGISTRY_*: docs/security.md).
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { contactIdOf, createCatalog } from "@parley/contracts";
import {
  ConfigError,
  kafkaSecurityFields,
  loadConfig,
  registrySecurityFields,
} from "@parley/config";
import {
  createEventConsumer,
  createKafka,
  createRegistry,
  createSerde,
  kafkaSecurityOf,
  registryOptionsOf,
} from "@parley/kafka";
import { z } from "zod";
import { createParleyClient } from "./create-client.js";
import { describeFollowed, followRequest, type FollowUntil } from "./follow.js";

/** The services' Kafka and registry security variables, checked as the services check them. */
function securityFromEnv(schemaRegistryUrl: string) {
  try {
    const config = loadConfig(
      z.object({
        SCHEMA_REGISTRY_URL: z.string(),
        ...kafkaSecurityFields,
        ...registrySecurityFields,
      }),
      { service: "parley", env: { ...process.env, SCHEMA_REGISTRY_URL: schemaRegistryUrl } },
    );
    return { security: kafkaSecurityOf(config), registry: registryOptionsOf(config) };
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

const USAGE = `usage: parley tail --request <requestId> [--until outcome|sent|delivered|read] [--timeout <seconds>]
       parley tail            (every outcome and status, until Ctrl-C)
       parley inbound --wamid <wamid> | --contact <contactId> [--since <seconds>] [--count <n>]
                      [--timeout <seconds>]

Prints each send outcome and delivery status of the request as it arrives (a repeated
idempotency key's SendDeduplicated is followed to the original request), and exits 0 once the
request got as far as --until (default: delivered) or ended (rejected, expired, failed); exits 1
if --timeout (default 60 s) passes first. \`inbound\` waits for one inbound message (--wamid),
or prints the messages a contact sent (recorded in the last --since seconds, default 120) and
exits after --count of them (default 1).
Needs KAFKA_BROKERS and SCHEMA_REGISTRY_URL (bin/parley reads them from the make dev stack).`;

function fail(message: string): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(2);
}

async function tail(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      request: { type: "string" },
      until: { type: "string", default: "delivered" },
      timeout: { type: "string", default: "60" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const until = values.until as FollowUntil;
  if (!["outcome", "sent", "delivered", "read"].includes(until))
    fail(`--until must be outcome, sent, delivered or read\n${USAGE}`);
  const timeoutS = Number(values.timeout);
  if (!(timeoutS > 0)) fail("--timeout must be a positive number of seconds");
  const brokers = process.env["KAFKA_BROKERS"];
  const schemaRegistryUrl = process.env["SCHEMA_REGISTRY_URL"];
  if (brokers === undefined || schemaRegistryUrl === undefined)
    fail("set KAFKA_BROKERS and SCHEMA_REGISTRY_URL (bin/parley reads them from make dev's stack)");

  const { security, registry } = securityFromEnv(schemaRegistryUrl);
  const client = createParleyClient({
    brokers,
    schemaRegistryUrl,
    security,
    registry,
    clientId: "parley-tail",
    prefix: process.env["PARLEY_TOPIC_PREFIX"] ?? "",
  });
  const follower = values.request === undefined ? undefined : followRequest(values.request, until);
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  // A group of its own, read from the start of the retained history: the request may have been
  // decided before this command started. Nothing is dead-lettered: a tail never fails a record.
  const session = randomUUID().slice(0, 8);
  const common = { fromBeginning: true, ensureDeadLetterTopic: false } as const;
  await client.onOutcome(
    (event) => {
      const shown = follower ? follower.outcome(event) : [{ kind: "outcome" as const, event }];
      for (const item of shown) print(describeFollowed(item));
      if (follower?.done === true) finish(0);
    },
    { ...common, group: `parley-tail-outcomes-${session}` },
  );
  await client.onStatus(
    (event) => {
      const shown = follower ? follower.status(event) : [{ kind: "status" as const, event }];
      for (const item of shown) print(describeFollowed(item));
      if (follower?.done === true) finish(0);
    },
    { ...common, group: `parley-tail-statuses-${session}` },
  );
  const timer =
    follower === undefined
      ? undefined
      : setTimeout(() => {
          process.stderr.write(
            `parley: request ${values.request ?? ""} did not get as far as "${until}" within ${String(timeoutS)} s\n`,
          );
          finish(1);
        }, timeoutS * 1000);
  process.once("SIGINT", () => {
    finish(0);
  });
  const code = await finished;
  clearTimeout(timer);
  await client.close();
  return code;
}

/** The messages one contact sent, read from inbound-messages (a tool for people, not a consumer). */
async function inbound(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      contact: { type: "string" },
      wamid: { type: "string" },
      since: { type: "string", default: "120" },
      count: { type: "string", default: "1" },
      timeout: { type: "string", default: "60" },
    },
  });
  const { contact, wamid } = values;
  if (contact === undefined && (wamid === undefined || wamid === ""))
    fail(`--wamid or --contact is required\n${USAGE}`);
  const contactId = contact === undefined ? undefined : contactIdOf(contact);
  const sinceMs = wamid === undefined ? Date.now() - Number(values.since) * 1000 : 0;
  const count = Number(values.count);
  const timeoutS = Number(values.timeout);
  if (!(count > 0) || !(timeoutS > 0) || Number.isNaN(sinceMs))
    fail("--since, --count and --timeout must be positive numbers");
  const brokers = process.env["KAFKA_BROKERS"];
  const schemaRegistryUrl = process.env["SCHEMA_REGISTRY_URL"];
  if (brokers === undefined || schemaRegistryUrl === undefined)
    fail("set KAFKA_BROKERS and SCHEMA_REGISTRY_URL (bin/parley reads them from make dev's stack)");
  const catalog = createCatalog({ prefix: process.env["PARLEY_TOPIC_PREFIX"] ?? "" });
  const { security, registry } = securityFromEnv(schemaRegistryUrl);
  const kafka = createKafka({ brokers: brokers.split(","), clientId: "parley-inbound", security });
  const serde = createSerde({ registry: createRegistry({ ...registry, url: schemaRegistryUrl }) });
  let seen = 0;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const runner = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: `parley-inbound-${randomUUID().slice(0, 8)}`,
    topics: [catalog.topic("inbound-messages")],
    tuning: { fromBeginning: true },
    handle: (record) => {
      const event = record.value;
      const wanted =
        wamid === undefined
          ? record.key === contactId && Date.parse(event.recordedAt) >= sinceMs
          : event.data.wamid === wamid;
      if (!wanted) return Promise.resolve();
      const m = event.data.message;
      const text = m.type === "text" ? ` text=${JSON.stringify(m.text.body)}` : "";
      process.stdout.write(
        `${event.occurredAt}  InboundMessageReceived  contact=${event.data.contactId}  type=${m.type}${text}  wamid=${event.data.wamid}\n`,
      );
      if (++seen >= count) finish(0);
      return Promise.resolve();
    },
  });
  const timer = setTimeout(() => {
    process.stderr.write(
      `parley: ${wamid === undefined ? `${String(count - seen)} more message(s) from ${contactId ?? ""}` : `message ${wamid}`} not seen within ${String(timeoutS)} s\n`,
    );
    finish(1);
  }, timeoutS * 1000);
  process.once("SIGINT", () => {
    finish(0);
  });
  await runner.start();
  const code = await finished;
  clearTimeout(timer);
  await runner.stop();
  return code;
}

const [command, ...rest] = process.argv.slice(2);
if (command === "tail") {
  process.exitCode = await tail(rest);
} else if (command === "inbound") {
  process.exitCode = await inbound(rest);
} else {
  process.stderr.write(`${USAGE}\n`);
  process.exitCode = command === undefined || command === "help" ? 0 : 2;
}
