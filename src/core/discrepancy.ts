import { createHash } from "node:crypto";
import { z } from "zod";
import { DISCREPANCY_KINDS, type DiscrepancyKind, type LogicalEvent } from "./crossCheck";
import { cloudEventMessage, type TopicMessage } from "./topicMessage";

/** A cross-check finding: what disagreed, about which logical event, and what the bridge did. */
export const discrepancySchema = z.object({
  kind: z.enum(DISCREPANCY_KINDS as [DiscrepancyKind, ...DiscrepancyKind[]]),
  logicalKey: z.string().describe("The logical event's key, equal to its topic message id."),
  registry: z.string(),
  action: z.string(),
  repository: z.string().optional(),
  tag: z.string().optional(),
  digest: z.string().optional(),
  detectedAt: z
    .number()
    .describe(
      "When the window closed, in epoch milliseconds: fixed for the logical event, so re-running a close is idempotent.",
    ),
  webhookEventIds: z.array(z.string()),
  eventGridEventIds: z.array(z.string()),
  regions: z.array(z.string()),
  recovered: z.boolean().describe("An eventgrid-only event published from its Event Grid arrival."),
});

export type Discrepancy = z.infer<typeof discrepancySchema>;

export function discrepancyFor(
  logical: LogicalEvent,
  kind: DiscrepancyKind,
  recovered: boolean,
): Discrepancy {
  return {
    kind,
    logicalKey: logical.key,
    registry: logical.registry,
    action: logical.action,
    repository: logical.repository,
    tag: logical.tag,
    digest: logical.digest,
    detectedAt: logical.windowClosesAt,
    webhookEventIds: logical.webhook?.eventIds ?? [],
    eventGridEventIds: logical.eventGrid?.eventIds ?? [],
    regions: [
      ...new Set([...(logical.webhook?.regions ?? []), ...(logical.eventGrid?.regions ?? [])]),
    ],
    recovered,
  };
}

/** One message per finding: the id is stable, so a re-run close is dropped by duplicate detection. */
export function discrepancyMessage(finding: Discrepancy): TopicMessage {
  const messageId = createHash("sha256")
    .update(`discrepancy\n${finding.logicalKey}\n${finding.kind}`)
    .digest("hex")
    .slice(0, 32);
  return cloudEventMessage({
    id: messageId,
    registry: finding.registry,
    type: `discrepancy.${finding.kind}`,
    subject: `${finding.repository ?? ""}${finding.tag ? `:${finding.tag}` : ""}`,
    time: new Date(finding.detectedAt).toISOString(),
    data: { ...finding },
    properties: {
      kind: finding.kind,
      action: finding.action,
      registry: finding.registry,
      repository: finding.repository,
      tag: finding.tag,
      digest: finding.digest,
      recovered: String(finding.recovered),
    },
  });
}
