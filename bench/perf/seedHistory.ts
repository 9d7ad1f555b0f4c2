import { randomUUID } from "node:crypto";
import { TableClient, type TableEntity, type TableTransaction } from "@azure/data-tables";
import { toDeliveryEntity } from "../../src/adapters/deliveryEntity";
import { EventTables } from "../../src/adapters/eventTables";
import { toLogicalEntity } from "../../src/adapters/logicalEntity";
import {
  CROSS_CHECKS_TABLE,
  digestTagColumn,
  digestTagKeys,
  eventIdKeys,
  hourPartition,
  idDirectoryColumn,
  idDirectoryKeys,
  logicalKeys,
  occurredKeys,
  REGISTRIES_TABLE,
  recordKeys,
  registryIndexKeys,
  tagKeys,
} from "../../src/adapters/tableLayout";
import type { AcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import { withArrival } from "../../src/core/crossCheck";
import { type DeliveryRecord, newRecord } from "../../src/core/deliveryRecord";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { benchPayload } from "../support/webhookLoad";

/**
 * History for the reconcile benchmark: `count` closed items written straight into Azurite, as the
 * current storage layout (src/adapters/tableLayout.ts) leaves a push whose window closed as
 * matched: in its shard's table the record, by-event-time pointer and event-id row of each of its
 * two arrivals (the webhook's and Event Grid's), the logical event, its tag row and its digest's
 * tag row (no open window, no pending marker: none of it is work for the reconcile); Event Grid's
 * listing under its id alone in `AcrEventIds`; and its row in `AcrCrossChecks`. The entities are built by the
 * adapters' own converters.
 *
 * When the layout changes, this module is the one to adapt: it must leave in each table what the
 * new build leaves there for a closed item.
 */
const REGISTRY = "myregistry.azurecr.io";
const HISTORY_SPAN_MS = 30 * 24 * 3_600_000;
const WINDOW_MS = 300_000;
const TWIN_DELAY_MS = 800;
const BATCH_SIZE = 100;
const BATCH_CONCURRENCY = 4;

export async function seedClosedHistory(connection: string, count: number): Promise<number> {
  const client = (name: string) =>
    TableClient.fromConnectionString(connection, name, { allowInsecureConnection: true });
  const events = new EventTables(client);
  const crossChecks = client(CROSS_CHECKS_TABLE);
  const registries = client(REGISTRIES_TABLE);
  await Promise.all([...events.all, crossChecks, registries].map((table) => table.createTable()));
  await registries.upsertEntity({ ...registryIndexKeys(REGISTRY) });

  const items = Array.from({ length: count }, (_, index) => closedItem(index, count));
  await Promise.all([
    inTransactions(
      (partitionKey) => events.of(partitionKey),
      items.flatMap((item) => item.events),
    ),
    inTransactions(
      () => crossChecks,
      items.map((item) => item.crossCheck),
    ),
  ]);
  return items.reduce((entities, item) => entities + item.events.length + 1, 0);
}

function closedItem(index: number, count: number) {
  const occurredAt = Date.now() - HISTORY_SPAN_MS + Math.floor((index * HISTORY_SPAN_MS) / count);
  const payload = {
    ...(benchPayload(index, "push") as AcrWebhookPayload),
    timestamp: new Date(occurredAt).toISOString(),
  };
  const event = registryEventFromWebhook(payload, {
    registry: REGISTRY,
    receivedAt: occurredAt,
    fallbackEventId: randomUUID(),
  });
  const arrival = {
    event,
    route: { kind: "topic" as const, topic: "acr-push" },
    receivedAt: occurredAt,
    request: { method: "POST", uri: "https://bridge/api/acr/webhook", headers: {} },
  };
  const record = {
    ...newRecord(arrival, 1),
    publishState: "published" as const,
    publishedTopics: ["acr-push"],
    publishAttempts: 1,
    crossCheck: "matched",
  };
  const webhookSide = withArrival(undefined, event, occurredAt, WINDOW_MS);
  const twin = { ...event, origin: "eventgrid" as const, eventId: randomUUID() };
  const twinRecord = {
    ...newRecord({ ...arrival, event: twin, receivedAt: occurredAt + TWIN_DELAY_MS }, 1),
    publishState: "held" as const,
    crossCheck: "matched",
  };
  const logical = {
    ...withArrival(webhookSide, twin, occurredAt + TWIN_DELAY_MS, WINDOW_MS),
    state: "matched" as const,
    publication: { by: "webhook" as const, occurrence: 1 },
  };
  const logicalRow = logicalKeys(logical);
  const tag = event.tag ?? "";
  const digest = event.digest ?? "";
  const twinKeys = recordKeys(twinRecord);
  const events: TableEntity[] = [
    ...arrivalRows(record, logicalRow.rowKey),
    ...arrivalRows(twinRecord, logicalRow.rowKey),
    // Event Grid's arrival is also listed under its id alone.
    {
      ...idDirectoryKeys(twin.eventId, twin.origin),
      [idDirectoryColumn(twinKeys)]: JSON.stringify(twinKeys),
    },
    { ...toLogicalEntity(logicalRow, logical) },
    // What the push noted of its tag: pushed in the repository, and pushed with its digest.
    { ...tagKeys({ registry: REGISTRY, repository: event.repository, tag }) },
    {
      ...digestTagKeys({ registry: REGISTRY, repository: event.repository, digest }),
      [digestTagColumn(tag)]: tag,
    },
  ];
  const crossCheck: TableEntity = {
    partitionKey: hourPartition(occurredAt),
    rowKey: logical.key,
    action: "push",
    registry: REGISTRY,
    state: "matched",
    firstSeenAt: new Date(occurredAt),
    delayMs: TWIN_DELAY_MS,
    late: false,
  };
  return { events, crossCheck };
}

/** One arrival's record, its by-event-time pointer and its event-id row. */
function arrivalRows(record: DeliveryRecord, logicalRowKey: string): TableEntity[] {
  const keys = recordKeys(record);
  return [
    { ...toDeliveryEntity(keys, record) },
    { ...occurredKeys(record), recordRowKey: keys.rowKey, action: record.event.action },
    { ...eventIdKeys(record.event), recordRowKey: keys.rowKey, logicalRowKey },
  ];
}

async function inTransactions(
  tableOf: (partitionKey: string) => TableClient,
  entities: TableEntity[],
): Promise<void> {
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
    await tableOf(batch[0].partitionKey).submitTransaction(actions);
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
