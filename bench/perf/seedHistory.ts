import { createHash, randomUUID } from "node:crypto";
import { TableClient, type TableEntity, type TableTransaction } from "@azure/data-tables";
import {
  CROSS_CHECKS_TABLE,
  DELIVERIES_TABLE,
  DIGEST_TAGS_TABLE,
  digestTagKeys,
  EVENT_IDS_TABLE,
  eventIdKeys,
  hourPartition,
  LOGICAL_EVENT_ROW,
  LOGICAL_EVENTS_TABLE,
  REGISTRIES_TABLE,
  registryIndexKeys,
  registryPartition,
} from "../../src/adapters/tableLayout";
import { encodeKeyPart, invertedMillis, joinKey } from "../../src/core/tableKeys";
import { benchPayload } from "../support/webhookLoad";

/**
 * History for the reconcile benchmark: `count` closed items written straight into Azurite, as the
 * CURRENT storage layout (src/adapters/tableLayout.ts) leaves them once a push's window closed as
 * matched: its delivery record, its event-id index, its logical event, its cross-check row and
 * its digest's tag. No open window and no pending marker: none of it is work for the reconcile.
 *
 * When the layout changes, this module is the one to adapt: it must leave in each table what the
 * new build leaves there for a closed item.
 */
const REGISTRY = "myregistry.azurecr.io";
const HISTORY_SPAN_MS = 30 * 24 * 3_600_000;
const BATCH_SIZE = 100;
const SINGLE_CONCURRENCY = 64;
const BATCH_CONCURRENCY = 4;

export async function seedClosedHistory(connection: string, count: number): Promise<number> {
  const client = (name: string) =>
    TableClient.fromConnectionString(connection, name, { allowInsecureConnection: true });
  const tables = {
    deliveries: client(DELIVERIES_TABLE),
    eventIds: client(EVENT_IDS_TABLE),
    logicalEvents: client(LOGICAL_EVENTS_TABLE),
    crossChecks: client(CROSS_CHECKS_TABLE),
    digestTags: client(DIGEST_TAGS_TABLE),
    registries: client(REGISTRIES_TABLE),
  };
  await Promise.all(Object.values(tables).map((table) => table.createTable()));
  await tables.registries.upsertEntity({ ...registryIndexKeys(REGISTRY) });

  const items = Array.from({ length: count }, (_, index) => closedItem(index, count));
  // Entities that share a partition go in transactions of 100; the others one by one.
  await Promise.all([
    inTransactions(
      tables.deliveries,
      items.map((item) => item.delivery),
    ),
    inTransactions(
      tables.crossChecks,
      items.map((item) => item.crossCheck),
    ),
    inTransactions(
      tables.digestTags,
      items.map((item) => item.digestTag),
    ),
  ]);
  await oneByOne(
    tables.eventIds,
    items.map((item) => item.eventId),
  );
  await oneByOne(
    tables.logicalEvents,
    items.map((item) => item.logicalEvent),
  );
  return items.length * 5;
}

function closedItem(index: number, count: number) {
  const occurredAt = Date.now() - HISTORY_SPAN_MS + Math.floor((index * HISTORY_SPAN_MS) / count);
  const payload = benchPayload(index, "push") as {
    id: string;
    timestamp: string;
    target: { repository: string; tag: string; digest: string };
  };
  const { id, target } = payload;
  const logicalKey = createHash("sha256").update(id).digest("hex").slice(0, 32);
  const record = {
    partitionKey: registryPartition(REGISTRY, occurredAt),
    rowKey: joinKey(invertedMillis(occurredAt), encodeKeyPart(id), "webhook"),
  };
  const seenAt = new Date(occurredAt);
  return {
    delivery: {
      ...record,
      eventId: id,
      action: "push",
      registry: REGISTRY,
      repository: target.repository,
      tag: target.tag,
      digest: target.digest,
      origin: "webhook",
      eventTimestamp: payload.timestamp,
      occurredAt: seenAt,
      receivedAt: seenAt,
      topic: "acr-push",
      publishState: "published",
      publishedTopics: JSON.stringify(["acr-push"]),
      publishAttempts: 1,
      crossCheck: "matched",
      occurrence: 1,
      deliveryCount: 1,
      arrivals: JSON.stringify([{ at: occurredAt, status: "recorded" }]),
      request: JSON.stringify({ method: "POST", headers: { authorization: "***" } }),
      payloadChunks: 1,
      payload0: JSON.stringify(payload),
    },
    eventId: {
      ...eventIdKeys(id, "webhook"),
      logicalKey,
      fields: JSON.stringify({ registry: REGISTRY, action: "push", ...target }),
      recordPartitionKey: record.partitionKey,
      recordRowKey: record.rowKey,
    },
    logicalEvent: {
      partitionKey: logicalKey,
      rowKey: LOGICAL_EVENT_ROW,
      state: "matched",
      publishedBy: "webhook",
      json: JSON.stringify({
        key: logicalKey,
        registry: REGISTRY,
        action: "push",
        ...target,
        state: "matched",
        webhook: { eventIds: [id], regions: [], firstAt: occurredAt, count: 1 },
        eventGrid: { eventIds: [randomUUID()], regions: [], firstAt: occurredAt + 800, count: 1 },
        firstSeenAt: occurredAt,
        windowClosesAt: occurredAt + 300_000,
        mismatchedIds: [],
        publishedBy: "webhook",
      }),
    },
    crossCheck: {
      partitionKey: hourPartition(occurredAt),
      rowKey: logicalKey,
      action: "push",
      registry: REGISTRY,
      state: "matched",
      firstSeenAt: seenAt,
      delayMs: 800,
    },
    digestTag: { ...digestTagKeys(REGISTRY, target.repository, target.digest, target.tag) },
  };
}

async function inTransactions(table: TableClient, entities: TableEntity[]): Promise<void> {
  const byPartition = new Map<string, TableEntity[]>();
  for (const entity of entities) {
    const group = byPartition.get(entity.partitionKey) ?? [];
    group.push(entity);
    byPartition.set(entity.partitionKey, group);
  }
  const batches: TableEntity[][] = [];
  for (const group of byPartition.values()) {
    for (let i = 0; i < group.length; i += BATCH_SIZE) batches.push(group.slice(i, i + BATCH_SIZE));
  }
  await inParallel(batches, BATCH_CONCURRENCY, async (batch) => {
    const actions: TableTransaction["actions"] = batch.map((entity) => ["upsert", entity]);
    await table.submitTransaction(actions);
  });
}

function oneByOne(table: TableClient, entities: TableEntity[]): Promise<void> {
  return inParallel(entities, SINGLE_CONCURRENCY, async (entity) => {
    await table.upsertEntity(entity, "Replace");
  });
}

async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}
