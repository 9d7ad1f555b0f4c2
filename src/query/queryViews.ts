import type { LogicalEvent, SideArrivals } from "../core/crossCheck";
import { publishedBy, twinDelayMs } from "../core/crossCheck";
import type { DeliveryRecord } from "../core/deliveryRecord";
import type { Discrepancy } from "../core/discrepancy";

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** A recorded delivery as the query API shows it: times in ISO 8601, the payload as received. */
export function deliveryView(record: DeliveryRecord) {
  const { event, route, receivedAt, lastAttemptAt, attemptLog, ...bookkeeping } = record;
  const { eventId, occurredAt, payload, ...fields } = event;
  return {
    id: eventId,
    ...fields,
    occurredAt: iso(occurredAt),
    receivedAt: iso(receivedAt),
    topic: route.kind === "topic" ? route.topic : undefined,
    notRoutedReason: route.kind === "not-routed" ? route.reason : undefined,
    ...bookkeeping,
    lastAttemptAt: lastAttemptAt === undefined ? undefined : iso(lastAttemptAt),
    attemptLog: attemptLog?.map((attempt) => ({ ...attempt, at: iso(attempt.at) })),
    payload,
  };
}

function sideView(side: SideArrivals | undefined) {
  return side && { ...side, firstAt: iso(side.firstAt) };
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
    firstSeenAt: iso(logical.firstSeenAt),
    windowClosesAt: iso(logical.windowClosesAt),
    webhook: sideView(logical.webhook),
    eventGrid: sideView(logical.eventGrid),
    publishedBy: publishedBy(logical),
    late: logical.late && { ...logical.late, at: iso(logical.late.at) },
    mismatchedIds: logical.mismatchedIds,
    delayMs: twinDelayMs(logical),
  };
}

export function discrepancyView(finding: Discrepancy) {
  return { ...finding, detectedAt: iso(finding.detectedAt) };
}
