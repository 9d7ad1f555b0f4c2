import { CLOUD_EVENT_TYPE_PREFIX, type CloudEvent } from "./cloudEvent";
import { eventAttributes, type RegistryEvent } from "./registryEvent";
import { shortHash } from "./shortHash";

/** What goes on a topic, free of any SDK type; the publisher adapter maps it 1:1. */
export interface TopicMessage {
  messageId: string;
  contentType: "application/cloudevents+json";
  /** Absent when there is nothing to name: CloudEvents allows no empty subject. */
  subject?: string;
  body: CloudEvent;
  applicationProperties: Record<string, string>;
}

/**
 * Stable for the logical event, so Service Bus duplicate detection drops every re-send: a repeated
 * delivery, a second regional webhook, or the Event Grid twin of the same push. Whether ACR's
 * webhook id equals Event Grid's is undocumented, so the id is derived from what both sides carry;
 * an event without a digest falls back to its own id.
 */
export function messageIdFor(event: RegistryEvent, occurrence = 1): string {
  const identity = event.digest
    ? [
        "content",
        event.registry,
        event.action,
        event.repository ?? "",
        event.digest,
        event.tag ?? "",
      ]
    : ["id", event.eventId];
  // The first occurrence keeps the plain content id; a recurrence gets an id of its own.
  if (occurrence > 1) identity.push(`occurrence ${occurrence}`);
  return shortHash(identity);
}

/** Empty (left out) when the event names no repository: `:tag` or `@digest` alone names nothing. */
export function subjectFor({ repository, tag, digest }: RegistryEvent): string {
  if (!repository) return "";
  if (tag) return `${repository}:${tag}`;
  if (digest) return `${repository}@${digest}`;
  return repository;
}

/**
 * `knownTags`: for a delete, which carries no tag, the tags the bridge last saw pushed for its
 * digest (property `tags`, comma-separated).
 */
export function topicMessageFor(
  event: RegistryEvent,
  knownTags: readonly string[] = [],
  occurrence = 1,
): TopicMessage {
  const message = cloudEventMessage({
    id: messageIdFor(event, occurrence),
    registry: event.registry,
    type: event.action,
    subject: subjectFor(event),
    time: event.timestamp,
    data: event.payload,
    properties: { ...eventAttributes(event) },
  });
  return withKnownTags(message, knownTags);
}

/** The message with a delete's known tags, for a message decided before they were read. */
export function withKnownTags(message: TopicMessage, knownTags: readonly string[]): TopicMessage {
  if (knownTags.length === 0) return message;
  const applicationProperties = { ...message.applicationProperties, tags: knownTags.join(",") };
  return { ...message, applicationProperties };
}

export interface CloudEventContent {
  id: string;
  registry: string;
  /** Appended to `com.azure.acr.`. */
  type: string;
  subject: string;
  time: string;
  data: Record<string, unknown>;
  properties: Record<string, string | undefined>;
}

/**
 * The one envelope every topic message has: CloudEvents 1.0, the id doubling as message id. An
 * empty subject is left out, as CloudEvents requires.
 */
export function cloudEventMessage(content: CloudEventContent): TopicMessage {
  const subject = content.subject === "" ? {} : { subject: content.subject };
  return {
    messageId: content.id,
    contentType: "application/cloudevents+json",
    ...subject,
    body: {
      specversion: "1.0",
      id: content.id,
      source: `https://${content.registry}`,
      type: `${CLOUD_EVENT_TYPE_PREFIX}${content.type}`,
      ...subject,
      time: content.time,
      datacontenttype: "application/json",
      data: content.data,
    },
    applicationProperties: withValuesOnly(content.properties),
  };
}

/**
 * Service Bus application properties cannot be undefined; an empty one (ACR sends `"tag": ""`)
 * is left out too, so that `tag IS NULL` and `--tag` globs see it as the tagless event it is.
 */
function withValuesOnly(properties: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(properties).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "",
    ),
  );
}
