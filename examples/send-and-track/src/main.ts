// The whole integration of a domain service ("orders") with Parley.
import { createParleyClient } from "@parley/client";
import { serverEnv } from "./env.js";

const client = createParleyClient({ ...serverEnv(), clientId: "orders" });
await client.onOutcome(
  (outcome) => {
    console.log(outcome.type, outcome.data.requestId); // SendAccepted, SendRejected, SendFailed...
  },
  { group: "orders-outcomes" },
);
await client.onStatus(
  (status) => {
    console.log(status.data.status, status.data.wamid); // sent, delivered, read, failed...
  },
  { group: "orders-statuses" },
);
const { requestId } = await client.requestSend({
  idempotencyKey: "orders:42:shipped", // the same key on a retry: one message, one outcome
  contactId: "16505551234",
  recipient: { phone: "16505551234" },
  sender: { kind: "alias", alias: "orders" },
  content: { type: "text", text: { body: "Your order 42 has shipped." } },
  category: "utility",
});
console.log("requested", requestId, "- waiting for its outcome and statuses; Ctrl-C stops");
process.once("SIGINT", () => void client.close());
