import { odata } from "@azure/data-tables";
import type { DeliveryRecord } from "../core/deliveryRecord";
import type { EventOrigin, RegistryEvent } from "../core/registryEvent";
import { shortHash } from "../core/shortHash";
import type { DigestRef, LogicalRef, TagRef, WindowMarker } from "../core/writePlan";
import { encodeKeyPart, invertedHour, invertedMillis, joinKey } from "./tableKeys";

/**
 * Tables `AcrEvents0` … `AcrEvents<SHARDS - 1>` hold everything one arrival changes, so that it is
 * written in one transaction and concurrent arrivals share transactions (group commit). A
 * registry's events spread over `SHARDS` shards by a hash of the repository, so one repository's
 * events (its pushes, their deletes, their logical events) always share a shard; each shard is
 * one partition, PartitionKey `<registry>|s<shard>`, in the shard's own table. A table per shard
 * costs Azure nothing (it scales by partition); on Azurite, where each table is one in-memory
 * collection and every query, update and delete costs in proportion to the collection, it keeps
 * each of those costs to a shard's share of the history. RowKeys, by kind:
 *   `d|<inverted ms of arrival>|<event id>|<origin>`    the delivery record, newest arrival first
 *   `o|<inverted ms of the event>|<event id>|<origin>`  the same, by ACR's timestamp: a pointer
 *   `i|<event id>|<origin>`                             where an event id's record is; created
 *                                                       once, so a repeat delivery conflicts here
 *   `l|<repository hash>|<digest hash>|<logical key>`   a logical event; a digest's are one range
 *   `v|<received ms>|<event id>|<origin>`               a record waiting to be published
 *   `w|<window close ms>|<logical key>`                 an open cross-check window, oldest first
 *   `t|<repository hash>|<tag hash>`                    a tag pushed in the repository
 *   `g|<repository hash>|<digest hash>`                 the tags a digest was pushed with, one
 *                                                       column each (`t_<tag hash>`), merged in
 *                                                       by each push, so a delete reads one row
 * The reconcile reads only pending markers and due windows: one range of each partition, as no
 * kind sorts between `v` and `w`. How many rows it reads follows open items, not history (on
 * Azurite each read still costs more as the shard's table grows).
 *
 * Table `AcrEventIds`, the event-id directory: PartitionKey `|ids|<hash of the event id mod 64>`,
 * RowKey `e|<event id>|<origin>`, one column per arrival with that id and origin naming where its
 * record is (`a_<hash of those keys>`), so that the arrivals of an id are one point read, whatever
 * their registry and repository. It is written in a transaction of its own, before the record.
 */
/** Fixed for a deployment: a record is found in the shard its repository hashes to. */
export const SHARDS = 4;

/** The table of each shard, in shard order. */
export const EVENT_SHARD_TABLES: readonly string[] = Array.from(
  { length: SHARDS },
  (_, shard) => `AcrEvents${shard}`,
);
export const EVENT_IDS_TABLE = "AcrEventIds";

/** Every table of the event store. */
export const EVENT_STORE_TABLES: readonly string[] = [...EVENT_SHARD_TABLES, EVENT_IDS_TABLE];

export interface EntityKeys {
  partitionKey: string;
  rowKey: string;
}

export function eventPartition(registry: string, repository: string | undefined): string {
  return shardPartition(registry, hashBucket(repository ?? "", SHARDS));
}

/** Every partition of one registry, for reads that do not know the repository. */
export function registryPartitions(registry: string): string[] {
  return Array.from({ length: SHARDS }, (_, shard) => shardPartition(registry, shard));
}

function shardPartition(registry: string, shard: number): string {
  return joinKey(encodeKeyPart(registry), `s${shard}`);
}

/** The table an event store partition is in: its shard's, or the id directory's. */
export function eventStoreTableOf(partitionKey: string): string {
  if (partitionKey.startsWith(ID_DIRECTORY_PARTITION_PREFIX)) return EVENT_IDS_TABLE;
  const shard = SHARD_SUFFIX.exec(partitionKey)?.[1];
  const table = shard === undefined ? undefined : EVENT_SHARD_TABLES[Number(shard)];
  if (table === undefined) throw new RangeError(`not an event store partition: ${partitionKey}`);
  return table;
}

/** What `shardPartition` ends a partition key with. */
const SHARD_SUFFIX = /\|s(\d+)$/;

export const RECORD_ROWS = "d";
export const OCCURRED_ROWS = "o";
export const PENDING_ROWS = "v";
export const WINDOW_ROWS = "w";
export const TAG_ROWS = "t";
export const EVENT_ID_ROWS = "i";
export const DIGEST_TAG_ROWS = "g";
const ID_DIRECTORY_ROWS = "e";

const ID_DIRECTORY_PARTITIONS = 64;
const ID_DIRECTORY_PARTITION_PREFIX = joinKey("", "ids", "");

/** Where the arrivals of one event id and origin are listed (see the table's description). */
export function idDirectoryKeys(eventId: string, origin: EventOrigin): EntityKeys {
  return {
    partitionKey: `${ID_DIRECTORY_PARTITION_PREFIX}${hashBucket(eventId, ID_DIRECTORY_PARTITIONS)}`,
    rowKey: joinKey(ID_DIRECTORY_ROWS, encodeKeyPart(eventId), origin),
  };
}

/** The column of one arrival on its id's directory row: its record's keys. */
export function idDirectoryColumn(record: EntityKeys): string {
  return `${ID_DIRECTORY_COLUMN_PREFIX}${shortHash([record.partitionKey, record.rowKey], 16)}`;
}

export const ID_DIRECTORY_COLUMN_PREFIX = "a_";

/** Where a record is: by the time its first delivery arrived, which a repeat does not change. */
export function recordKeys(record: Pick<DeliveryRecord, "event" | "receivedAt">): EntityKeys {
  return timedKeys(RECORD_ROWS, record.receivedAt, record.event);
}

/** The pointer that lists a record by ACR's timestamp. */
export function occurredKeys(record: Pick<DeliveryRecord, "event">): EntityKeys {
  return timedKeys(OCCURRED_ROWS, record.event.occurredAt, record.event);
}

function timedKeys(kind: string, at: number, event: RegistryEvent): EntityKeys {
  return {
    partitionKey: eventPartition(event.registry, event.repository),
    rowKey: joinKey(kind, invertedMillis(at), encodeKeyPart(event.eventId), event.origin),
  };
}

export function eventIdKeys(event: RegistryEvent): EntityKeys {
  return {
    partitionKey: eventPartition(event.registry, event.repository),
    rowKey: eventIdRowKey(event.eventId, event.origin),
  };
}

export function eventIdRowKey(eventId: string, origin: EventOrigin): string {
  return joinKey(EVENT_ID_ROWS, encodeKeyPart(eventId), origin);
}

/** The RowKeys of an event id's rows, every origin: [from, to). */
export function eventIdRange(eventId: string): { from: string; to: string } {
  return kindRange(joinKey(EVENT_ID_ROWS, encodeKeyPart(eventId)));
}

export function logicalKeys(logical: LogicalRef): EntityKeys {
  return {
    partitionKey: eventPartition(logical.registry, logical.repository),
    rowKey: joinKey(digestPrefix(logical), logical.key),
  };
}

/** The RowKeys of every logical event of one repository and digest: [from, to). */
export function digestLogicalRange(logical: Omit<LogicalRef, "key">): { from: string; to: string } {
  return kindRange(digestPrefix(logical));
}

function digestPrefix({ repository, digest }: Omit<LogicalRef, "key">): string {
  return joinKey("l", shortHash([repository ?? ""], 16), shortHash([digest ?? ""], 16));
}

export function tagKeys({ registry, repository, tag }: TagRef): EntityKeys {
  return {
    partitionKey: eventPartition(registry, repository),
    rowKey: joinKey(TAG_ROWS, shortHash([repository ?? ""], 16), shortHash([tag], 16)),
  };
}

export function digestTagKeys({ registry, repository, digest }: DigestRef): EntityKeys {
  return {
    partitionKey: eventPartition(registry, repository),
    rowKey: joinKey(DIGEST_TAG_ROWS, shortHash([repository ?? ""], 16), shortHash([digest], 16)),
  };
}

/** The column of one tag on its digest's row: a tag may hold characters a column name may not. */
export function digestTagColumn(tag: string): string {
  return `${DIGEST_TAG_COLUMN_PREFIX}${shortHash([tag], 16)}`;
}

export const DIGEST_TAG_COLUMN_PREFIX = "t_";

export function windowKeys(window: WindowMarker): EntityKeys {
  return {
    partitionKey: eventPartition(window.registry, window.repository),
    rowKey: joinKey(WINDOW_ROWS, paddedMillis(window.windowClosesAt), window.key),
  };
}

/** Every open window due at `now` sorts before this RowKey. */
export function windowsDueBefore(now: number): string {
  return joinKey(WINDOW_ROWS, paddedMillis(now + 1));
}

export function pendingKeys(record: DeliveryRecord): EntityKeys {
  const { event } = record;
  return {
    partitionKey: eventPartition(event.registry, event.repository),
    rowKey: joinKey(
      PENDING_ROWS,
      paddedMillis(record.receivedAt),
      encodeKeyPart(event.eventId),
      event.origin,
    ),
  };
}

/**
 * The RowKeys under one prefix: [`<prefix>|`, `<prefix>}`). A kind's rows, or a narrower part
 * of them (one event id's, one digest's logical events).
 */
export function kindRange(prefix: string): { from: string; to: string } {
  return { from: `${prefix}|`, to: `${prefix}}` };
}

/** A filter for the rows of one kind across every partition: a scan, for tools and tests. */
export function rowsOfKind(kind: string): string {
  const { from, to } = kindRange(kind);
  return odata`RowKey ge ${from} and RowKey lt ${to}`;
}

/**
 * Table `AcrCrossChecks`: PartitionKey `<inverted hour of first arrival>`, RowKey = logical key:
 *   one row per closed window, for statistics over a time range.
 * Table `AcrDiscrepancies`: PartitionKey `<inverted hour of detection>`, RowKey
 *   `<inverted ms>|<logical key>|<kind>`.
 * Table `AcrRejections`: PartitionKey `<inverted hour>`, RowKey `<inverted ms>|<envelope id hash>`:
 *   Event Grid events refused as not genuine (foreign or missing topic).
 * Table `AcrRegistries`: PartitionKey `registries`, RowKey `<registry>`: every registry with a
 *   recorded event, so reads over all registries know their partitions without a scan.
 */
export const CROSS_CHECKS_TABLE = "AcrCrossChecks";
export const DISCREPANCIES_TABLE = "AcrDiscrepancies";
export const REJECTIONS_TABLE = "AcrRejections";
export const REGISTRIES_TABLE = "AcrRegistries";
export const REGISTRIES_PARTITION = "registries";

/**
 * Tables of the features around the pipe, each written by its own adapter off the webhook path:
 * replay jobs, the source watch (operational findings), the backfill's cursors, webhook health.
 */
export const REPLAY_JOBS_TABLE = "AcrReplayJobs";
export const SOURCE_WATCH_TABLE = "AcrSourceWatch";
export const BACKFILL_CURSORS_TABLE = "AcrBackfillCursors";
export const WEBHOOK_HEALTH_TABLE = "AcrWebhookHealth";
/** The outages of Table Storage Event Grid was refused in, kept by the reconcile. */
export const OUTAGES_TABLE = "AcrOutages";

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

function paddedMillis(epochMs: number): string {
  return String(Math.max(0, Math.trunc(epochMs))).padStart(13, "0");
}

/** Which of `buckets` a value falls in, the same in every process. */
function hashBucket(value: string, buckets: number): number {
  return Number.parseInt(shortHash([value], 8), 16) % buckets;
}
