import type { z } from "zod";
import { CLOUD_EVENT_TYPE_PREFIX } from "../core/cloudEvent";
import { FINDING_STATES } from "../core/discrepancy";
import {
  SILENCE_KINDS,
  type SilenceKind,
  silenceFindingDataSchema,
  silenceType,
} from "../core/sourceSilence";
import {
  HEALTH_FINDING_KINDS,
  type HealthFindingKind,
  healthFindingType,
  webhookHealthDataSchema,
  webhookMissingDataSchema,
} from "../core/webhookHealth";
import type { CatalogExample } from "./catalogExamples";
import { type CatalogMessage, envelope } from "./catalogMessage";
import {
  silenceMessageProperties,
  webhookHealthMessageProperties,
  webhookMissingMessageProperties,
} from "./messageProperties";

const SILENCE_DESCRIPTIONS: Record<SilenceKind, OpenOrResolved> = {
  "webhook-silent": {
    open: "From the source watch: Event Grid still delivers for a registry (and region) while its webhook has been silent for longer than SOURCE_SILENCE_SECONDS (ACR sometimes stops calling a webhook: Azure/acr#106).",
    resolved:
      "The silent webhook delivered again: the resolution of its webhook-silent finding (state = 'resolved').",
  },
  "eventgrid-silent": {
    open: "From the source watch: the webhook of a registry (and region) still delivers while Event Grid has been silent for longer than SOURCE_SILENCE_SECONDS (check the Event Grid subscription).",
    resolved:
      "Event Grid delivered again: the resolution of its eventgrid-silent finding (state = 'resolved').",
  },
};

type OpenOrResolved = Record<(typeof FINDING_STATES)[number], string>;

const HEALTH_FINDINGS: Record<
  HealthFindingKind,
  {
    title: OpenOrResolved;
    description: OpenOrResolved;
    subject: string;
    data: z.ZodType;
    properties: z.ZodType;
    propertiesName: string;
  }
> = {
  "webhook-unhealthy": {
    title: { open: "Webhook unhealthy", resolved: "Webhook healthy again" },
    description: {
      open: "From the webhook health check (WEBHOOK_PING_SCHEDULE): a webhook that will not deliver what the bridge expects (disabled, actions, scope, service URI or auth header drifted, or a ping not recorded within WEBHOOK_PING_TIMEOUT_SECONDS). Published again when its reasons change.",
      resolved:
        "A webhook reported unhealthy is healthy again, or was deleted (alone or with its registry), or its registry was removed from ACR_RESOURCE_IDS: the resolution of its webhook-unhealthy finding (resolved = 'true', reasons empty).",
    },
    subject: "The webhook's name.",
    data: webhookHealthDataSchema,
    properties: webhookHealthMessageProperties,
    propertiesName: "webhook-health-properties",
  },
  "webhook-missing": {
    title: {
      open: "No webhook delivers to the bridge",
      resolved: "A webhook delivers to the bridge again",
    },
    description: {
      open: "From the webhook health check (WEBHOOK_PING_SCHEDULE): a registry of ACR_RESOURCE_IDS none of whose webhooks delivers to the bridge (none calls its endpoint, or each that does is disabled or lacks an action of WEBHOOK_EXPECTED_ACTIONS). Published again when its reasons change.",
      resolved:
        "A webhook of the registry delivers to the bridge again, or the registry was deleted or removed from ACR_RESOURCE_IDS: the resolution of its webhook-missing finding (resolved = 'true', reasons empty).",
    },
    subject: "Absent: the finding is about the registry as a whole.",
    data: webhookMissingDataSchema,
    properties: webhookMissingMessageProperties,
    propertiesName: "webhook-missing-properties",
  },
};

/**
 * The operational findings on the discrepancy topic: the webhook health check's and the source
 * watch's, each with a type of its own for the resolution. Types from the builders' own functions.
 */
export function operationalMessages(topic: string, examples: CatalogExample[]): CatalogMessage[] {
  const examplesOf = (type: string) =>
    examples.filter((example) => example.message.body.type === type);
  const healthMessages = HEALTH_FINDING_KINDS.flatMap((kind) =>
    [false, true].map((resolved) => {
      const type = `${CLOUD_EVENT_TYPE_PREFIX}${healthFindingType(kind, resolved)}`;
      const { title, description, subject, data, properties, propertiesName } =
        HEALTH_FINDINGS[kind];
      return {
        type,
        topic,
        title: title[resolved ? "resolved" : "open"],
        description: description[resolved ? "resolved" : "open"],
        payload: envelope(type, data, {
          subject,
          time: "When the current verdict began: data.detectedAt.",
        }),
        properties,
        propertiesName,
        examples: examplesOf(type),
      };
    }),
  );
  const silenceMessages = SILENCE_KINDS.flatMap((kind) =>
    FINDING_STATES.map((state) => {
      const type = `${CLOUD_EVENT_TYPE_PREFIX}${silenceType(kind, state)}`;
      return {
        type,
        topic,
        title: `Operational finding${state === "resolved" ? " resolved" : ""}: ${kind}`,
        description: SILENCE_DESCRIPTIONS[kind][state],
        payload: envelope(type, silenceFindingDataSchema, {
          subject: "The region compared; absent when the registry is compared as a whole.",
          time: "When the finding opened, or on the resolution when it was resolved.",
        }),
        properties: silenceMessageProperties,
        propertiesName: "operational-properties",
        examples: examplesOf(type),
      };
    }),
  );
  return [...healthMessages, ...silenceMessages];
}
