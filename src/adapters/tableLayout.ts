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
    rowKey: joinKey(String(Math.max(0, Math.trunc(occurredAt))).padStart(13, "0"), digest),
  };
}
