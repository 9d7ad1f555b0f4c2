import type { LogicalEvent, SideArrivals } from "../core/crossCheck";
import { publishedBy, twinDelayMs } from "../core/crossCheck";
import type { DeliveryRecord } from "../core/deliveryRecord";
import type { Discrepancy } from "../core/discrepancy";
import { isoTime } from "../core/isoTime";

/** A recorded delivery as the query API shows it: times in ISO 8601, the payload as received. */
export function deliveryView(record: DeliveryRecord) {
  const { event, route, receivedAt, lastAttemptAt, attemptLog, ...bookkeeping } = record;
  const { eventId, occurredAt, payload, ...fields } = event;
  return {
    id: eventId,
    ...fields,
    occurredAt: isoTime(occurredAt),
    receivedAt: isoTime(receivedAt),
    topic: route.kind === "topic" ? route.topic : undefined,
    notRoutedReason: route.kind === "not-routed" ? route.reason : undefined,
    ...bookkeeping,
    lastAttemptAt: isoTime(lastAttemptAt),
    attemptLog: attemptLog?.map((attempt) => ({ ...attempt, at: isoTime(attempt.at) })),
    payload,
  };
}

function sideView(side: SideArrivals | undefined) {
  return side && { ...side, firstAt: isoTime(side.firstAt) };
}

export function logicalEventView(logical: LogicalEvent) {
  return {
    key: logical.key,
    registry: logical.registry,
    action: logical.action,
    repository: logical.repository,
    tag: logical.tag,
    digest: logical.digest,
    state: logical.state,
    firstSeenAt: isoTime(logical.firstSeenAt),
    windowClosesAt: isoTime(logical.windowClosesAt),
    webhook: sideView(logical.webhook),
    eventGrid: sideView(logical.eventGrid),
    publishedBy: publishedBy(logical),
    late: logical.late && { ...logical.late, at: isoTime(logical.late.at) },
    mismatchedIds: logical.mismatchedIds,
    delayMs: twinDelayMs(logical),
  };
}

export function discrepancyView(finding: Discrepancy) {
  return {
    ...finding,
    detectedAt: isoTime(finding.detectedAt),
    resolvedAt: isoTime(finding.resolvedAt),
  };
}
