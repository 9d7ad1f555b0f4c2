import type { DiscrepancyKind, LateMatch, LogicalEvent } from "./crossCheck";
import { shortHash } from "./shortHash";
import { cloudEventMessage, type TopicMessage } from "./topicMessage";

/** A cross-check finding: what disagreed, about which logical event, and what the bridge did. */
export interface Discrepancy {
  kind: DiscrepancyKind;
  logicalKey: string;
  registry: string;
  action: string;
  repository?: string;
  tag?: string;
  digest?: string;
  /** When the window closed: fixed for the logical event, so re-running a close is idempotent. */
  detectedAt: number;
  webhookEventIds: string[];
  eventGridEventIds: string[];
  regions: string[];
  /** An `eventgrid-only` event published from its Event Grid arrival. */
  recovered: boolean;
  /** `resolved` once the missing side arrived after all (a late twin). */
  state: "open" | "resolved";
  resolution?: "late-twin";
  resolvedAt?: number;
  /** For a late twin: how long after the first side it came. */
  lateByMs?: number;
}

export const FINDING_STATES = ["open", "resolved"] as const;

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
 * dropped by duplicate detection. Both carry the logical key, so a subscriber can pair them.
 */
export function discrepancyMessage(finding: Discrepancy): TopicMessage {
  const identity = ["discrepancy", finding.logicalKey, finding.kind];
  if (finding.state === "resolved") identity.push("resolved");
  const messageId = shortHash(identity);
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
      logicalKey: finding.logicalKey,
      state: finding.state,
      resolution: finding.resolution,
    },
  });
}
