import type { EventGridData } from "./eventGridData";
import type { AcrEventType } from "./eventGridTrust";
import { connectedRegistryOf, loginServerFromResourceId } from "./eventGridTrust";
import { normalizeRegion } from "./region";
import type { RegistryEvent } from "./registryEvent";
import { firstLoginServer } from "./registryIdentity";

export type EventGridSchema = "eventgrid" | "cloudevents";

/** An ACR event from a trusted registry, its `data` validated. */
export interface AcrEventGridEvent {
  /** The Event Grid envelope's id, which differs from `data.id`. */
  envelopeId: string;
  type: AcrEventType;
  /** The `topic` (Event Grid schema) or `source` (CloudEvents): the registry's resource id. */
  source: string;
  schema: EventGridSchema;
  data: EventGridData;
}

export interface EventGridContext {
  /** Used when neither `request.host` nor the resource id names the registry. */
  configuredLoginServer?: string;
}

/**
 * The registry is `request.host` when the event carries one; chart events carry no `request`,
 * so then the login server derived from the resource id (the configured default when it is that
 * registry's, as a webhook's chart event is recorded under it), else the configured default.
 */
export function registryEventFromEventGrid(
  event: AcrEventGridEvent,
  context: EventGridContext,
): RegistryEvent {
  const { data } = event;
  const registry = firstLoginServer([
    data.request?.host,
    loginServerFromResourceId(event.source, context.configuredLoginServer),
    context.configuredLoginServer,
  ]);
  return {
    eventId: data.id,
    action: data.action,
    timestamp: data.timestamp,
    occurredAt: Date.parse(data.timestamp),
    registry,
    repository: data.target?.repository,
    tag: data.target?.tag,
    digest: data.target?.digest,
    mediaType: data.target?.mediaType,
    region: data.location === undefined ? undefined : normalizeRegion(data.location),
    connectedRegistry:
      data.connectedRegistry?.name ??
      data.connectedregistry?.name ??
      connectedRegistryOf(event.source),
    origin: "eventgrid",
    payload: data,
  };
}
