// The whole integration of a domain service ("orders") with Parley.
import { createParleyClient } from "@parley/client";
import { serverEnv } from "./env.js";

const client = createParleyClient({ ...serverEnv(), clientId: "orders" });
// The final word of each request (ADR 0009), from the send-outcomes topic. A group of this run's
// own that reads the retained outcomes from the start: a repeat of a key finds the outcome its
// original request got, however long ago (a long-running service keeps one group instead).
const tracker = await client.trackOutcomes({
  group: `orders-outcomes-${String(process.pid)}`,
  fromBeginning: true,
  ensureDeadLetterTopic: false,
});
const { requestId } = await client.requestSend({
  idempotencyKey: "orders:42:shipped", // the same key on a retry: one message, one outcome
  recipient: { phone: "+16505551000" }, // contactId is derived from it
  sender: { kind: "alias", alias: "orders" },
  content: { type: "text", text: { body: "Your order 42 has shipped." } },
  category: "utility",
});
console.log("requested", requestId);
// A second run repeats the key: its own outcome is SendDeduplicated, and the answer is the first
// request's, which the tracker follows.
const final = await tracker.awaitFinal(requestId, { timeoutMs: 60_000 });
console.log(
  "final",
  final.status,
  "outcome" in final ? final.outcome.type : "",
  "wamid" in final ? final.wamid : "",
);
await client.close();
