import { z } from "zod";
import { chartTarget, eventFields, text } from "./acrWebhookPayload";
import { PUBLISHABLE_ACTIONS } from "./actions";
import { ACR_EVENT_TYPES, type AcrEventType } from "./eventGridTrust";

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

/** The action the `data` of each ACR event type carries. */
const ACTION_OF_TYPE = {
  "Microsoft.ContainerRegistry.ImagePushed": "push",
  "Microsoft.ContainerRegistry.ImageDeleted": "delete",
  "Microsoft.ContainerRegistry.ChartPushed": "chart_push",
  "Microsoft.ContainerRegistry.ChartDeleted": "chart_delete",
} as const satisfies Record<AcrEventType, string>;

const DOCUMENTED_ACTIONS = new Set<string>([...PUBLISHABLE_ACTIONS, "ping"]);

function dataSchemaOf(type: AcrEventType) {
  const action = ACTION_OF_TYPE[type];
  return eventGridDataSchema.refine(
    (data) => data.action === action || !DOCUMENTED_ACTIONS.has(data.action),
    { path: ["action"], message: `must be ${action} in a ${type} event` },
  );
}

const DATA_SCHEMAS = Object.fromEntries(
  ACR_EVENT_TYPES.map((type) => [type, dataSchemaOf(type)]),
) as Record<AcrEventType, ReturnType<typeof dataSchemaOf>>;

/**
 * The `data` of an event of `type`. Another action ACR documents contradicts the type (a delete
 * typed ImagePushed; quarantine and ping have no Event Grid event) and would be recorded, matched
 * and recovered as what the type says it is not: refused. An action ACR adds later is kept, as a
 * webhook's is.
 */
export function eventGridDataSchemaFor(type: AcrEventType) {
  return DATA_SCHEMAS[type];
}
