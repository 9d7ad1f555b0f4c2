import { z } from "zod";
import {
  DISCREPANCY_KINDS,
  type DiscrepancyKind,
  type LateMatch,
  type LogicalEvent,
  occurrenceOf,
} from "./crossCheck";
import { isoTime } from "./isoTime";
import { shortHash } from "./shortHash";
import { cloudEventMessage, type TopicMessage } from "./topicMessage";

export const FINDING_STATES = ["open", "resolved"] as const;

/** A cross-check finding: what disagreed, about which logical event, and what the bridge did. */
export const discrepancySchema = z.object({
  kind: z.enum(DISCREPANCY_KINDS),
  logicalKey: z
    .string()
    .describe(
      "The logical event's key: its content's message id on the topic for the first occurrence (a later occurrence's message has an id of its own).",
    ),
  occurrence: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "Which time this content happened (1: the first); each occurrence has its own window and findings.",
    ),
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
  state: z
    .enum(FINDING_STATES)
    .describe("`resolved` once the missing side arrived after all (a late twin)."),
  resolution: z.literal("late-twin").optional(),
  resolvedAt: z.number().optional().describe("When the late twin arrived, in epoch milliseconds."),
  lateByMs: z
    .number()
    .optional()
    .describe("For a late twin: how long after the first side it came."),
});

export type Discrepancy = z.infer<typeof discrepancySchema>;

/** The finding a late twin settles: the same finding, marked resolved. */
export function resolvedBy(finding: Discrepancy, late: LateMatch): Discrepancy {
  return {
    ...finding,
    state: "resolved",
    resolution: "late-twin",
    resolvedAt: late.at,
    lateByMs: Math.abs(late.delayMs),
  };
}

export function discrepancyFor(
  logical: LogicalEvent,
  kind: DiscrepancyKind,
  recovered: boolean,
): Discrepancy {
  return {
    kind,
    logicalKey: logical.key,
    occurrence: occurrenceOf(logical),
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
    state: "open",
  };
}

/**
 * One message per finding and one when it is resolved: each id is stable, so a re-run close is
 * dropped by duplicate detection, and names the occurrence, so the same content happening again
 * is a finding of its own. Both carry the logical key, so a subscriber can pair them.
 */
export function discrepancyMessage(finding: Discrepancy): TopicMessage {
  const identity = ["discrepancy", finding.logicalKey, finding.kind];
  const occurrence = finding.occurrence ?? 1;
  if (occurrence > 1) identity.push(`occurrence ${occurrence}`);
  if (finding.state === "resolved") identity.push("resolved");
  const messageId = shortHash(identity);
  return cloudEventMessage({
    id: messageId,
    registry: finding.registry,
    type: `discrepancy.${finding.kind}`,
    subject: findingSubject(finding),
    time: isoTime(finding.detectedAt),
    data: { ...finding },
    properties: {
      kind: finding.kind,
      action: finding.action,
      registry: finding.registry,
      repository: finding.repository,
      tag: finding.tag,
      digest: finding.digest,
      recovered: String(finding.recovered),
      logicalKey: finding.logicalKey,
      state: finding.state,
      resolution: finding.resolution,
    },
  });
}

/** `repository:tag`, or the repository alone; empty (left out) when it names no repository. */
function findingSubject({ repository, tag }: Discrepancy): string {
  if (!repository) return "";
  return tag ? `${repository}:${tag}` : repository;
}
