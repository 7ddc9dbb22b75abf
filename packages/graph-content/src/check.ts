import { MessageValidationError, validateMessage, type OutboundMessage } from "@parley/cloud-api";
import { graphMessageOf, type GraphInteractive, type GraphMessageInput } from "./graph-message.js";

function fail(field: string, problem: string): never {
  throw new MessageValidationError(field, problem);
}

function nonEmpty(field: string, value: string): void {
  if (value.trim().length === 0) fail(field, "is required and must not be blank");
}

/**
 * What `validateMessage` cannot check on an interactive object: it reads `body.text` of every
 * kind (so a missing body must be named here, not met as a TypeError in the Graph client), it
 * returns before header and footer for a location request, and it knows no commerce kind.
 */
function interactiveBeforeValidator(i: GraphInteractive): void {
  if (i.body === undefined) fail("interactive.body.text", "is required and must not be blank");
  if (i.type === "location_request_message") {
    // Reference §1.6: a location request is body only.
    if (i.header !== undefined) fail("interactive.header", "a location request takes no header");
    if (i.footer !== undefined) fail("interactive.footer", "a location request takes no footer");
  }
}

function interactiveAfterValidator(i: GraphInteractive): void {
  switch (i.type) {
    case "product":
      nonEmpty("interactive.action.catalog_id", i.action.catalog_id);
      nonEmpty("interactive.action.product_retailer_id", i.action.product_retailer_id);
      return;
    case "product_list":
      nonEmpty("interactive.action.catalog_id", i.action.catalog_id);
      i.action.sections.forEach((s, n) => {
        s.product_items.forEach((p, m) => {
          nonEmpty(
            `interactive.action.sections[${n}].product_items[${m}].product_retailer_id`,
            p.product_retailer_id,
          );
        });
      });
      return;
    case "catalog_message":
      if (i.action.parameters !== undefined)
        nonEmpty(
          "interactive.action.parameters.thumbnail_product_retailer_id",
          i.action.parameters.thumbnail_product_retailer_id,
        );
      return;
    default:
      return;
  }
}

/**
 * Checks a Graph body built by `graphMessageOf` against Meta's documented rules: the Cloud API
 * client's own `validateMessage` (which it runs again before the call) and the rules for the
 * interactive kinds it does not model. Throws MessageValidationError naming the field.
 */
export function checkGraphMessage(m: OutboundMessage): void {
  const interactive =
    m.type === "interactive" ? (m.interactive as unknown as GraphInteractive) : undefined;
  if (interactive !== undefined) interactiveBeforeValidator(interactive);
  validateMessage(m);
  if (interactive !== undefined) interactiveAfterValidator(interactive);
}

/** The body `graphMessageOf` builds for this send, checked; throws MessageValidationError. */
export function checkedGraphMessage(input: GraphMessageInput): OutboundMessage {
  const message = graphMessageOf(input);
  checkGraphMessage(message);
  return message;
}
