import { createConnection, createServer, type Server, type Socket } from "node:net";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addOrderUpdateTemplate,
  requestTemplateRounds,
  startPathStack,
  type PathStack,
} from "./path-stack.js";
import { freePort, stopService, type ServiceProcess } from "./processes.js";

// The projection e2e's CI run of 2026-12-07: the sender took its dispatches and for 90 s sent
// none, logged nothing, and its stop never ended (`sender-dispatch` never stopped). One MongoDB
// reply that never comes, to a read every dispatch of the number waits for, does exactly that:
// here the sender reaches MongoDB through a proxy that swallows the reply to the first `find` on
// `sender_attempts` that filters on `calledAt` (the lane's rate seed). Since ADR 0006 "Reads
// every dispatch of a number waits for are bounded" the dispatches are retried past
// SENDER_STORE_READ_BOUND_MS and sent once each, and the stop ends. Before it, this spec got no
// outcome in 60 s and the sender's dispatch consumer never stopped.
const OPS_TOKEN = "e2e-lost-reply-ops-token";
const GRAPH_TOKEN = "e2e-lost-reply-graph-token";
const WABA = "102290129340577";
const NUMBER = "106540352242977";
const CONTACTS = 4;
const BOUND_MS = 2_000;

let parley: PathStack;
let sender: ServiceProcess;
let proxy: Server;
const dropped: number[] = [];

/** Calls `onMessage` with each whole wire message (int32 little-endian length first). */
function framed(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const length = pending.readInt32LE(0);
      onMessage(pending.subarray(0, length));
      pending = pending.subarray(length);
    }
  };
}

/** An OP_MSG's command name and its string value (`find` and its collection), if it has one. */
function commandOf(message: Buffer): { name: string; value: string } | undefined {
  // Header (16 bytes), opCode 2013 (OP_MSG), flag bits, section kind 0, the body's length.
  if (message.readInt32LE(12) !== 2013 || message[20] !== 0) return undefined;
  const type = message[25];
  const nameEnd = message.indexOf(0, 26);
  const name = message.toString("utf8", 26, nameEnd);
  if (type !== 0x02) return { name, value: "" };
  const length = message.readInt32LE(nameEnd + 1);
  return { name, value: message.toString("utf8", nameEnd + 5, nameEnd + 4 + length) };
}

/** A MongoDB-wire proxy that forwards everything but the reply to the first seed read. */
function lostReplyProxy(upstreamPort: number, port: number): Promise<Server> {
  let lost: number | undefined;
  const server = createServer((client: Socket) => {
    const upstream = createConnection({ host: "127.0.0.1", port: upstreamPort });
    client.on(
      "data",
      framed((message) => {
        const command = commandOf(message);
        // A seed read filters on the call instants (the sweeps read other fields).
        if (
          lost === undefined &&
          command?.name === "find" &&
          command.value === "sender_attempts" &&
          message.includes("calledAt")
        )
          lost = message.readInt32LE(4);
        upstream.write(message);
      }),
    );
    upstream.on(
      "data",
      framed((message) => {
        // responseTo: the request this message answers.
        if (message.readInt32LE(8) === lost) dropped.push(Date.now());
        else client.write(message);
      }),
    );
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on("error", close);
      socket.on("close", close);
    }
  });
  return new Promise((resolve) =>
    server.listen(port, "127.0.0.1", () => {
      resolve(server);
    }),
  );
}

beforeAll(async () => {
  parley = await startPathStack({
    name: "lost-reply",
    opsToken: OPS_TOKEN,
    appSecret: "e2e-lost-reply-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, accessToken: GRAPH_TOKEN }],
    }),
    read: ["send-outcomes"],
    simulator: {
      seed: "e2e-lost-reply",
      businesses: [
        { wabaId: WABA, phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100977" }] },
      ],
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
    },
  });
  addOrderUpdateTemplate(parley.sim, WABA);
  const proxyPort = await freePort();
  proxy = await lostReplyProxy(Number(new URL(parley.stack.mongoUrl).port), proxyPort);
  await parley.start("ingress");
  await parley.start("router");
  sender = await parley.start("sender", {
    MONGO_URL: `mongodb://127.0.0.1:${String(proxyPort)}/?directConnection=true&retryWrites=false`,
    SENDER_STORE_READ_BOUND_MS: String(BOUND_MS),
  });
}, 420_000);

afterAll(async () => {
  await parley.stop();
  await new Promise((resolve) => proxy.close(resolve));
}, 120_000);

describe("a MongoDB reply lost on its way to the sender's rate seed", () => {
  it("holds the number's sends for the bound only: each is sent once, and the sender still stops", async () => {
    const requests = await requestTemplateRounds(parley.client, {
      keyPrefix: "lost-reply",
      firstContact: 16_505_770_000,
      contacts: CONTACTS,
      rounds: 1,
      phoneNumberId: NUMBER,
    });
    await waitFor(() => requests.every((r) => parley.terminalOf(r).length > 0), {
      timeoutMs: 60_000,
      description: "an outcome for every request",
    });
    expect(dropped.length).toBe(1);
    for (const r of requests) {
      expect(parley.terminalOf(r).map((e) => e.type)).toEqual(["SendAccepted"]);
      const calls = parley.sim
        .messages({ phoneNumberId: NUMBER })
        .filter((m) => m.callbackData === r);
      expect(calls.length).toBe(1);
    }
    // The lost reply's read is still unanswered: the stop must not wait for it (it did: SIGKILL).
    expect(await stopService(sender, "SIGTERM", 20_000)).toBe(0);
  }, 120_000);
});
