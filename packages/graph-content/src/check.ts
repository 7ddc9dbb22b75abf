import { validateMessage, type OutboundMessage } from "@parley/cloud-api";
import { graphMessageOf, type GraphMessageInput } from "./graph-message.js";

/**
 * Checks a Graph body built by `graphMessageOf` against Meta's documented rules, with the Cloud
 * API client's own validator (which the client runs again before the call, and the simulator on
 * receipt). Throws MessageValidationError naming the field.
 */
export function checkGraphMessage(m: OutboundMessage): void {
  validateMessage(m);
}

/** The body `graphMessageOf` builds for this send, checked; throws MessageValidationError. */
export function checkedGraphMessage(input: GraphMessageInput): OutboundMessage {
  const message = graphMessageOf(input);
  checkGraphMessage(message);
  return message;
}
