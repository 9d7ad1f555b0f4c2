import { z } from "zod";
import { chartTarget, eventFields, text } from "./acrWebhookPayload";

/**
 * The `data` of an ACR Event Grid event: the webhook's distribution-style record plus `location`
 * (the region of the replica that took the request) and, for connected registries,
 * `connectedRegistry`.
 * Schema: https://learn.microsoft.com/azure/event-grid/event-schema-container-registry
 *
 * Microsoft guarantees `id`, `timestamp`, `action`, `location`, `target.mediaType` and
 * `target.repository`, yet its own examples lack `location`: as with webhooks, only `id`,
 * `timestamp` and `action` are required. Present fields must have their documented type;
 * unknown fields are kept.
 */
const connectedRegistry = z.looseObject({ name: text(256).optional() });

export const eventGridDataSchema = z.looseObject({
  ...eventFields,
  action: text(64).min(1),
  target: chartTarget.optional(),
  location: text(64).optional(),
  connectedRegistry: connectedRegistry.optional(),
  // ACR's own quickstart spells it so.
  connectedregistry: connectedRegistry.optional(),
});

export type EventGridData = z.infer<typeof eventGridDataSchema>;
