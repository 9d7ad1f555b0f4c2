import type { AcrWebhookPayload } from "./acrWebhookPayload";
import {
  type ArtifactClassification,
  type ArtifactKind,
  artifactTypeOf,
  classifyArtifact,
} from "./artifactKind";
import { isoTime } from "./isoTime";

/** `acr-log`: a webhook delivery the bridge missed, imported from ACR's own delivery log. */
export type EventOrigin = "webhook" | "eventgrid" | "acr-log";

/** One registry event, whichever side (ACR webhook or Event Grid) it came from. */
export interface RegistryEvent {
  eventId: string;
  action: string;
  /** The original timestamp string, with all its fractional digits and its offset. */
  timestamp: string;
  /** Milliseconds since the epoch, for ordering and windows. */
  occurredAt: number;
  registry: string;
  repository?: string;
  tag?: string;
  digest?: string;
  mediaType?: string;
  region?: string;
  /** The connected registry (on-premises or edge) that sent it; such events have no webhook. */
  connectedRegistry?: string;
  origin: EventOrigin;
  /** The payload exactly as received, unknown fields included. */
  payload: Record<string, unknown>;
  /**
   * Set only when the caller knows more than the event carries (a `patch`, whose base tag was
   * seen before); otherwise derived from the event by `eventAttributes`.
   */
  artifactKind?: ArtifactKind;
}

/** The fields consumers filter on: message properties, and fields of the delivery record. */
const ATTRIBUTE_FIELDS = [
  "action",
  "registry",
  "repository",
  "tag",
  "digest",
  "mediaType",
  "region",
  "connectedRegistry",
  "origin",
] as const satisfies readonly (keyof RegistryEvent)[];

export type EventAttributes = Pick<RegistryEvent, (typeof ATTRIBUTE_FIELDS)[number]> &
  ArtifactClassification;

/** An event, or a recorded delivery (whose classification, once recorded, is kept as it was). */
export type EventAttributeSource = Omit<EventAttributes, keyof ArtifactClassification> &
  Partial<ArtifactClassification> & { payload?: Record<string, unknown> };

export function eventAttributes(source: EventAttributeSource): EventAttributes {
  const fields = Object.fromEntries(
    ATTRIBUTE_FIELDS.map((field) => [field, source[field]]),
  ) as Pick<RegistryEvent, (typeof ATTRIBUTE_FIELDS)[number]>;
  const { action, tag, mediaType } = source;
  const classification =
    source.artifactKind !== undefined
      ? { artifactKind: source.artifactKind, tagged: tag ? ("true" as const) : ("false" as const) }
      : classifyArtifact({ action, tag, mediaType, artifactType: artifactTypeOf(source.payload) });
  return { ...fields, ...classification };
}

export interface WebhookContext {
  registry: string;
  region?: string;
  receivedAt: number;
  /** Used when the payload carries no id (a bare `{"action":"ping"}`). */
  fallbackEventId: string;
}

export function registryEventFromWebhook(
  payload: AcrWebhookPayload,
  context: WebhookContext,
): RegistryEvent {
  const target = payload.target;
  return {
    eventId: payload.id ?? context.fallbackEventId,
    action: payload.action,
    timestamp: payload.timestamp ?? isoTime(context.receivedAt),
    occurredAt: payload.timestamp ? Date.parse(payload.timestamp) : context.receivedAt,
    registry: context.registry,
    repository: target?.repository,
    tag: target?.tag,
    digest: target?.digest,
    mediaType: target?.mediaType,
    region: context.region,
    origin: "webhook",
    payload,
  };
}
