import { z } from "zod";
import { schemaByAction } from "../core/acrWebhookPayload";
import { PUBLISHABLE_ACTIONS, type PublishableAction } from "../core/actions";
import { CLOUD_EVENT_TYPE_PREFIX } from "../core/cloudEvent";
import { DISCREPANCY_KINDS } from "../core/crossCheck";
import { discrepancySchema } from "../core/discrepancy";
import type { RoutingTable } from "../core/routing";
import { actionExamples, discrepancyExamples } from "./catalogExamples";
import { type CatalogMessage, envelope } from "./catalogMessage";
import { discrepancyMessageProperties, eventMessageProperties } from "./messageProperties";
import { operationalMessages } from "./operationalMessages";

/** Bumped when a message changes incompatibly; adding a property or a message is compatible. */
const CATALOG_VERSION = "1.0.0";

export interface CatalogTopics {
  actions: Record<PublishableAction, string>;
  discrepancies: string;
}

/** What a cross-check finding's envelope says in `subject` and `time`. */
const FINDING_ENVELOPE = {
  subject:
    "repository:tag of the logical event, or the repository alone; absent when it names no repository.",
  time: "When the window closed (the finding's detectedAt), not the registry's timestamp.",
};

/** The topics a deployment publishes to: each action's, as routed, and the discrepancy topic. */
export function catalogTopicsOf(routing: RoutingTable, discrepancyTopic: string): CatalogTopics {
  const actions = Object.fromEntries(
    PUBLISHABLE_ACTIONS.map((action) => [action, routing[action].topic]),
  ) as Record<PublishableAction, string>;
  return { actions, discrepancies: discrepancyTopic };
}

const ACTION_DESCRIPTIONS: Record<PublishableAction, string> = {
  push: "A manifest was pushed: an image, each platform manifest and the index of a multi-arch image, signatures, attestations, SBOMs and Helm charts pushed over OCI.",
  delete:
    "A manifest or a repository was deleted (an untag sends nothing). ACR's payload has no tag.",
  chart_push:
    "A Helm chart was pushed with the deprecated az acr helm path (Helm over OCI arrives as push).",
  chart_delete: "A Helm chart was deleted with the deprecated az acr helm path.",
  quarantine: "A push is held in quarantine; ACR sends the push once a scanner passes it.",
};

const DISCREPANCY_DESCRIPTIONS: Record<(typeof DISCREPANCY_KINDS)[number], string> = {
  "webhook-only":
    "A webhook arrived and no Event Grid twin within the window (a window open during a Table Storage outage, when Event Grid was refused, waits until Event Grid's retry after the outage is due, and a window more): check the Event Grid subscription.",
  "eventgrid-only":
    "Event Grid reported an event whose webhook never arrived: a lost webhook, recovered (published with origin=eventgrid) unless RECOVERY_ENABLED=false.",
  mismatched: "One event id on both sides with different fields; nothing is recovered.",
  "quarantine-held":
    "An Event Grid push of a digest in quarantine whose webhook never came within QUARANTINE_HOLD_SECONDS: ACR withheld it, so it is never recovered.",
};

export function catalogMessages(topics: CatalogTopics): CatalogMessage[] {
  const actionMessages = PUBLISHABLE_ACTIONS.map((action) => {
    const type = `${CLOUD_EVENT_TYPE_PREFIX}${action}`;
    return {
      type,
      topic: topics.actions[action],
      title: `ACR ${action}`,
      description: ACTION_DESCRIPTIONS[action],
      payload: envelope(type, schemaByAction[action]),
      properties: eventMessageProperties,
      propertiesName: "event-properties",
      examples: actionExamples(action),
    };
  });
  const discrepancyMessages = DISCREPANCY_KINDS.map((kind) => {
    const type = `${CLOUD_EVENT_TYPE_PREFIX}discrepancy.${kind}`;
    return {
      type,
      topic: topics.discrepancies,
      title: `Cross-check finding: ${kind}`,
      description: DISCREPANCY_DESCRIPTIONS[kind],
      payload: envelope(type, discrepancySchema, FINDING_ENVELOPE),
      properties: discrepancyMessageProperties,
      propertiesName: "discrepancy-properties",
      examples: discrepancyExamples.filter((example) => example.message.body.type === type),
    };
  });
  return [
    ...actionMessages,
    ...discrepancyMessages,
    ...operationalMessages(topics.discrepancies, discrepancyExamples),
  ];
}

/** JSON Schema (draft 7, which AsyncAPI schemas extend) generated from a zod schema. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _draft, ...rest } = z.toJSONSchema(schema, { target: "draft-7" });
  return rest;
}

const DESCRIPTION = `Every topic message of acr-event-bridge, one Service Bus topic per ACR action plus the findings topic: the cross-check's findings, and the operational ones (webhook health, a silent webhook or Event Grid subscription).

Each message is a CloudEvents 1.0 JSON envelope (content type application/cloudevents+json) whose data is ACR's original payload, unknown fields kept, or on the findings topic the finding. The CloudEvents type values (com.azure.acr.<action>, com.azure.acr.discrepancy.<kind>, com.azure.acr.operational.<kind>; the resolution of webhook-unhealthy, of webhook-missing and of an operational finding has .resolved appended) are stable names: a new kind of message gets a new type, never a changed one.

Service Bus system properties: messageId = the CloudEvents id, stable per event occurrence (duplicate detection drops re-sends), except on a message a replay job sent again (application property replayed = 'true'): the same CloudEvent under a messageId of the job's own, a hash of the job id and the original messageId (so duplicate detection neither drops it as the original nor keeps two from one job), with the original messageId, the CloudEvents id, in the originalMessageId property; subject = the CloudEvents subject; contentType = application/cloudevents+json. The application properties (the message headers below) are what subscription filters select on: all values are strings, absent when the event has none.`;

/** The AsyncAPI 3 document of the topics: the catalog served at /api/catalog and in docs/. */
export function asyncApiDocument(topics: CatalogTopics): Record<string, unknown> {
  const messages = catalogMessages(topics);
  const topicNames = [...new Set(messages.map((message) => message.topic))];
  const ref = ($ref: string) => ({ $ref });
  const channels = Object.fromEntries(
    topicNames.map((topic) => {
      const onTopic = messages.filter((message) => message.topic === topic);
      return [
        topic,
        {
          address: topic,
          title: topic,
          description: `Service Bus topic ${topic}: ${onTopic.map((message) => message.type).join(", ")}.`,
          messages: Object.fromEntries(
            onTopic.map((message) => [message.type, ref(`#/components/messages/${message.type}`)]),
          ),
        },
      ];
    }),
  );
  const operations = Object.fromEntries(
    topicNames.map((topic) => [
      `send-${topic}`,
      {
        action: "send",
        title: `The bridge publishes to ${topic}`,
        summary: "Subscribers receive through their own subscription and its filter rule.",
        channel: ref(`#/channels/${topic}`),
        messages: messages
          .filter((message) => message.topic === topic)
          .map((message) => ref(`#/channels/${topic}/messages/${message.type}`)),
      },
    ]),
  );
  // The properties schemas first, each once (messages share them), then each message's payload.
  const schemas: Record<string, unknown> = {};
  for (const message of messages) {
    schemas[message.propertiesName] ??= jsonSchemaOf(message.properties);
  }
  for (const message of messages) schemas[message.type] = jsonSchemaOf(message.payload);
  return {
    asyncapi: "3.0.0",
    info: { title: "acr-event-bridge topics", version: CATALOG_VERSION, description: DESCRIPTION },
    defaultContentType: "application/cloudevents+json",
    servers: {
      azure: {
        host: "{namespace}.servicebus.windows.net",
        protocol: "amqp",
        protocolVersion: "1.0",
        description: "Azure Service Bus (Standard or Premium): topics and subscriptions.",
        variables: { namespace: { description: "The Service Bus namespace's name." } },
      },
      local: {
        host: "localhost:5672",
        protocol: "amqp",
        protocolVersion: "1.0",
        description: "The local Service Bus that npm start runs (dev/servicebus).",
      },
    },
    channels,
    operations,
    components: {
      schemas,
      messages: Object.fromEntries(
        messages.map((message) => [
          message.type,
          {
            name: message.type,
            title: message.title,
            summary: message.description,
            contentType: "application/cloudevents+json",
            headers: ref(`#/components/schemas/${message.propertiesName}`),
            payload: ref(`#/components/schemas/${message.type}`),
            examples: message.examples.map((example) => ({
              name: example.name,
              summary: example.summary,
              headers: example.message.applicationProperties,
              payload: example.message.body,
            })),
          },
        ]),
      ),
    },
  };
}
