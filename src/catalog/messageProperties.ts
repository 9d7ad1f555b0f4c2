import { z } from "zod";
import { ARTIFACT_KINDS } from "../core/artifactKind";
import { type Discrepancy, discrepancySchema } from "../core/discrepancy";
import type { EventAttributes } from "../core/registryEvent";
import type { ReplayProperties } from "../core/replay";
import { type SilenceProperties, silenceFindingDataSchema } from "../core/sourceSilence";
import {
  type WebhookHealthProperties,
  type WebhookMissingProperties,
  webhookHealthDataSchema,
  webhookMissingDataSchema,
} from "../core/webhookHealth";

/**
 * The Service Bus application properties of the messages, with their meaning: what subscription
 * filters select on. Keyed by the attribute list itself, so a new attribute cannot go undocumented.
 */
const eventAttributeProperties = {
  action: z
    .string()
    .describe("The ACR action: push, delete, chart_push, chart_delete or quarantine."),
  registry: z.string().describe("The registry's login server, lower case (myregistry.azurecr.io)."),
  repository: z
    .string()
    .optional()
    .describe("The repository (team/api); absent when ACR sent none."),
  tag: z
    .string()
    .optional()
    .describe(
      "The tag; absent on digest-only pushes (multi-arch children, referrers) and deletes.",
    ),
  digest: z.string().optional().describe("The manifest digest (sha256:...)."),
  mediaType: z.string().optional().describe("The manifest's media type, as ACR sent it."),
  region: z
    .string()
    .optional()
    .describe(
      "The replica region of a geo-replicated registry (the webhook's ?region=, or Event Grid's location), in lower case: westeurope.",
    ),
  connectedRegistry: z
    .string()
    .optional()
    .describe(
      "The connected registry (on-premises or edge) that sent the event; such events come from Event Grid only.",
    ),
  origin: z
    .enum(["webhook", "eventgrid", "acr-log"])
    .describe(
      "Which side the message was published from: eventgrid for a recovered event or a connected registry's, acr-log for one imported from ACR's delivery log.",
    ),
  artifactKind: z
    .enum(ARTIFACT_KINDS)
    .describe(
      "What the manifest is, from media type and tag conventions: image, index (multi-arch), signature, attestation, sbom (cosign tags), helm-chart, patch (Continuous Patching), unknown.",
    ),
  tagged: z
    .enum(["true", "false"])
    .describe(
      "A string: true when the event carries a non-empty tag. tagged = 'true' gives one message per tagged push of a multi-arch image.",
    ),
} satisfies Record<keyof EventAttributes, z.ZodType>;

/** Only on a message a replay job sent again (POST /api/replay): the original plus these. */
const replayProperties = {
  replayed: z
    .literal("true")
    .optional()
    .describe(
      "A string: true on a message a replay job sent again. Its Service Bus messageId is then the job's own (a hash of the job id and the original message id), not the CloudEvents id.",
    ),
  replayJobId: z
    .string()
    .optional()
    .describe("On a replayed message: the replay job that sent it (GET /api/replay/{jobId})."),
  originalMessageId: z
    .string()
    .optional()
    .describe(
      "On a replayed message: the messageId of the original message, which is the CloudEvents id.",
    ),
} satisfies Record<keyof ReplayProperties, z.ZodType>;

/**
 * On every message while the bridge sends telemetry (Application Insights on, as deployed): the
 * Service Bus SDK adds the publish's trace context, which a subscriber's own tracing continues.
 */
const traceProperties = {
  "Diagnostic-Id": z
    .string()
    .optional()
    .describe(
      "Added by the Service Bus SDK when the bridge sends telemetry: the W3C traceparent of the publish (00-<trace id>-<span id>-<flags>), for a subscriber's tracing to continue.",
    ),
};

export const eventMessageProperties = z.strictObject({
  ...eventAttributeProperties,
  tags: z
    .string()
    .optional()
    .describe(
      "On deletes (which carry no tag): the tags last seen pushed for the digest, comma-separated.",
    ),
  ...replayProperties,
  ...traceProperties,
});

const discrepancyAttributeProperties = {
  kind: discrepancySchema.shape.kind.describe(
    "The finding: webhook-only, eventgrid-only, mismatched or quarantine-held.",
  ),
  logicalKey: discrepancySchema.shape.logicalKey,
  state: discrepancySchema.shape.state.describe(
    "open when the finding is raised; resolved on a second message when a late twin settles it.",
  ),
  resolution: discrepancySchema.shape.resolution.describe(
    "On a resolution message: late-twin (the missing side arrived after the window).",
  ),
  action: eventAttributeProperties.action,
  registry: eventAttributeProperties.registry,
  repository: eventAttributeProperties.repository,
  tag: eventAttributeProperties.tag,
  digest: eventAttributeProperties.digest,
  recovered: z
    .enum(["true", "false"])
    .describe("A string: true when an eventgrid-only event was published by recovery."),
} satisfies Partial<Record<keyof Discrepancy, z.ZodType>>;

export const discrepancyMessageProperties = z.strictObject({
  ...discrepancyAttributeProperties,
  ...traceProperties,
});

/** Set on every operational finding (webhook health, a silent side) and on none of the cross-check's. */
const operationalProperty = z
  .literal("true")
  .describe(
    "Always true: tells an operational finding from the cross-check's findings on the same topic.",
  );

/** What the messages of the webhook health check, of either kind, carry. */
function healthFindingProperties(kind: z.ZodLiteral<string>, resolvedWhen: string) {
  return {
    kind: kind.describe(`${kind.value}, on the finding and on its resolution.`),
    registry: webhookHealthDataSchema.shape.registry,
    resolved: z
      .enum(["true", "false"])
      .describe(`A string: true on the resolution (${resolvedWhen}).`),
    operational: operationalProperty,
  };
}

const { kind, registry, resolved, operational } = healthFindingProperties(
  webhookHealthDataSchema.shape.kind,
  "the webhook is healthy again",
);
const webhookHealthProperties = {
  kind,
  registry,
  webhook: webhookHealthDataSchema.shape.webhook,
  resolved,
  operational,
} satisfies Record<keyof WebhookHealthProperties, z.ZodType>;

export const webhookHealthMessageProperties = z.strictObject({
  ...webhookHealthProperties,
  ...traceProperties,
});

const webhookMissingProperties = healthFindingProperties(
  webhookMissingDataSchema.shape.kind,
  "a webhook delivers to the bridge again, or the registry is gone",
) satisfies Record<keyof WebhookMissingProperties, z.ZodType>;

export const webhookMissingMessageProperties = z.strictObject({
  ...webhookMissingProperties,
  ...traceProperties,
});

const silenceProperties = {
  kind: silenceFindingDataSchema.shape.kind,
  state: silenceFindingDataSchema.shape.state,
  registry: silenceFindingDataSchema.shape.registry,
  region: silenceFindingDataSchema.shape.region,
  operational: operationalProperty,
} satisfies Record<keyof SilenceProperties, z.ZodType>;

export const silenceMessageProperties = z.strictObject({
  ...silenceProperties,
  ...traceProperties,
});
