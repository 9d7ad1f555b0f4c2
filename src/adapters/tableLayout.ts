import { createHash } from "node:crypto";
import type { RegistryEvent } from "../core/registryEvent";
import { encodeKeyPart, invertedHour, invertedMillis, joinKey } from "../core/tableKeys";

/**
 * Table `AcrDeliveries`, one entity per event and origin:
 *   PartitionKey `<registry>|<inverted hour of the event>`, so one registry's time range is a
 *   PartitionKey range (newest first) and concurrent deliveries share a partition, which keeps one
 *   Table transaction per batch possible;
 *   RowKey `<inverted ms of the event>|<event id>|<origin>`, derived from the payload alone, so a
 *   repeated delivery lands on the same key and deduplication is one point read/insert.
 * Table `AcrPending`, the open publications the re-drive works through, oldest first:
 *   PartitionKey `pending`, RowKey `<event ms>|<hash of the record's keys>` (a repeat delivery
 *   finds the same marker).
 */
export const DELIVERIES_TABLE = "AcrDeliveries";
export const PENDING_TABLE = "AcrPending";
export const PENDING_PARTITION = "pending";

export interface EntityKeys {
  partitionKey: string;
  rowKey: string;
}

export function deliveryKeys(event: RegistryEvent): EntityKeys {
  return {
    partitionKey: registryPartition(event.registry, event.occurredAt),
    rowKey: joinKey(invertedMillis(event.occurredAt), encodeKeyPart(event.eventId), event.origin),
  };
}

export function registryPartition(registry: string, epochMs: number): string {
  return joinKey(encodeKeyPart(registry), invertedHour(epochMs));
}

export function pendingKeys(record: EntityKeys, occurredAt: number): EntityKeys {
  const digest = createHash("sha256")
    .update(`${record.partitionKey}\n${record.rowKey}`)
    .digest("hex")
    .slice(0, 32);
  return {
    partitionKey: PENDING_PARTITION,
    rowKey: joinKey(paddedMillis(occurredAt), digest),
  };
}

/**
 * Table `AcrLogicalEvents`: PartitionKey = logical key (the message id), RowKey `event`.
 * Table `AcrOpenWindows`: PartitionKey `open`, RowKey `<window close ms>|<logical key>`: the
 *   reconcile reads only windows that are due, so its cost follows open items, not history.
 * Table `AcrEventIds`: PartitionKey = event id, RowKey = origin: where each arrival's record is,
 *   for `GET /api/events/{id}` and the same-id mismatch check.
 * Table `AcrCrossChecks`: PartitionKey `<inverted hour of first arrival>`, RowKey = logical key:
 *   one row per closed window, for statistics over a time range.
 * Table `AcrDiscrepancies`: PartitionKey `<inverted hour of detection>`, RowKey
 *   `<inverted ms>|<logical key>|<kind>`.
 * Table `AcrRejections`: PartitionKey `<inverted hour>`, RowKey `<inverted ms>|<envelope id>`:
 *   Event Grid events refused as not genuine (foreign or missing topic).
 * Table `AcrDigestTags`: PartitionKey `<registry>|<repository>`, RowKey `<digest>|<tag>`: the tags
 *   seen pushed for a digest.
 * Table `AcrRegistries`: PartitionKey `registries`, RowKey `<registry>`: every registry with a
 *   recorded delivery, so a query over all registries fans out over their `AcrDeliveries`
 *   PartitionKey ranges instead of scanning the table.
 */
export const LOGICAL_EVENTS_TABLE = "AcrLogicalEvents";
export const LOGICAL_EVENT_ROW = "event";
export const OPEN_WINDOWS_TABLE = "AcrOpenWindows";
export const OPEN_WINDOWS_PARTITION = "open";
export const EVENT_IDS_TABLE = "AcrEventIds";
export const CROSS_CHECKS_TABLE = "AcrCrossChecks";
export const DISCREPANCIES_TABLE = "AcrDiscrepancies";
export const DIGEST_TAGS_TABLE = "AcrDigestTags";
export const REJECTIONS_TABLE = "AcrRejections";
export const REGISTRIES_TABLE = "AcrRegistries";
export const REGISTRIES_PARTITION = "registries";

export function openWindowKeys(windowClosesAt: number, logicalKey: string): EntityKeys {
  return {
    partitionKey: OPEN_WINDOWS_PARTITION,
    rowKey: joinKey(paddedMillis(windowClosesAt), logicalKey),
  };
}

/** Every open window due at `now` sorts before this RowKey. */
export function openWindowsDueBefore(now: number): string {
  return paddedMillis(now + 1);
}

export function eventIdKeys(eventId: string, origin: string): EntityKeys {
  return { partitionKey: encodeKeyPart(eventId), rowKey: origin };
}

export function registryIndexKeys(registry: string): EntityKeys {
  return { partitionKey: REGISTRIES_PARTITION, rowKey: joinKey(encodeKeyPart(registry)) };
}

export function hourPartition(epochMs: number): string {
  return invertedHour(epochMs);
}

export function discrepancyKeys(detectedAt: number, logicalKey: string, kind: string): EntityKeys {
  return {
    partitionKey: invertedHour(detectedAt),
    rowKey: joinKey(invertedMillis(detectedAt), logicalKey, kind),
  };
}

export function digestTagKeys(
  registry: string,
  repository: string,
  digest: string,
  tag: string,
): EntityKeys {
  return {
    partitionKey: joinKey(encodeKeyPart(registry), encodeKeyPart(repository)),
    rowKey: joinKey(encodeKeyPart(digest), encodeKeyPart(tag)),
  };
}

function paddedMillis(epochMs: number): string {
  return String(Math.max(0, Math.trunc(epochMs))).padStart(13, "0");
}
