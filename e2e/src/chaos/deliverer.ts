// The simulator's webhook POSTs, made here so that every one is recorded with its answer (the
// simulator keeps only its last 10,000; a full chaos run makes several hundred thousand).
import type { WebhookDeliverer } from "@parley/cloud-api-sim";
import type { Delivery } from "./checker.js";
import { webhookItems } from "./history.js";

export function recordingDeliverer(timeoutMs: number): {
  readonly deliver: WebhookDeliverer;
  readonly deliveries: Delivery[];
  close(): Promise<void>;
} {
  const deliveries: Delivery[] = [];
  let n = 0;
  const record = (body: string, outcome: Delivery["outcome"]) => {
    let items: Delivery["items"] = [];
    try {
      items = webhookItems(JSON.parse(body));
    } catch {
      // Not JSON: nothing the checker could match.
    }
    deliveries.push({ deliveryId: ++n, attempt: 0, outcome, items });
  };
  return {
    deliveries,
    async deliver(url, body, headers) {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer();
        record(body, res.status);
        return res.status;
      } catch (error) {
        record(body, "network-error");
        throw error;
      }
    },
    close: () => Promise.resolve(),
  };
}
