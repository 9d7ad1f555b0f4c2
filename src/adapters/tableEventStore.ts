import { odata, type TableClient } from "@azure/data-tables";
import type { DeliveryRecord, NewDelivery } from "../core/deliveryRecord";
import { initialPublishState } from "../core/deliveryRecord";
import type { EventStore, RecordOutcome } from "../core/ports";
import type { RegistryEvent } from "../core/registryEvent";
import { inSpan } from "../telemetry/instruments";
import {
  type DeliveryEntity,
  fromDeliveryEntity,
  toDeliveryEntity,
  withArrival,
} from "./deliveryEntity";
import { TableAccess } from "./tableAccess";
import { deliveryKeys, type EntityKeys, PENDING_PARTITION, pendingKeys } from "./tableLayout";
import type { TableRegistryIndex } from "./tableRegistryIndex";
import { isStatus, retryOnConflict } from "./tableRetry";

interface PendingEntity extends EntityKeys {
  recordPartitionKey: string;
  recordRowKey: string;
}

export interface TableEventStoreOptions {
  deliveries: TableClient;
  pending: TableClient;
  /** Bounds each Table call so a hung storage account cannot hold a delivery past ACR's 5 s. */
  timeoutMs: number;
  /** Lists each registry for the query API; without it, deliveries are recorded unlisted. */
  registries?: TableRegistryIndex;
}

/** How far past records still backing off one run looks for due ones. */
const MARKERS_READ_PER_DUE = 10;

export class TableEventStore implements EventStore {
  private readonly access: TableAccess;

  constructor(private readonly options: TableEventStoreOptions) {
    this.access = new TableAccess([options.deliveries, options.pending], options.timeoutMs);
  }

  async recordDelivery(delivery: NewDelivery): Promise<RecordOutcome> {
    return inSpan("table.recordDelivery", { "acr.event_id": delivery.event.eventId }, () =>
      this.record(delivery),
    );
  }

  private record(delivery: NewDelivery): Promise<RecordOutcome> {
    return this.access.call(async () => {
      const keys = deliveryKeys(delivery.event);
      // Listed before it is recorded, so no recorded delivery is missing from a query over all registries.
      await this.options.registries?.note(delivery.event.registry);
      const arrival = {
        receivedAt: new Date(delivery.receivedAt).toISOString(),
        region: delivery.event.region,
        status: 200,
      };
      const record: DeliveryRecord = {
        ...delivery,
        publishState: initialPublishState(delivery.route, delivery.event.origin),
        deliveryCount: 1,
        arrivals: [arrival],
        publishedTopics: [],
        publishAttempts: 0,
      };
      // The pending marker goes first: a crash between the two writes leaves a marker the
      // re-drive discards, never a pending record nobody will finish.
      if (record.publishState === "pending")
        await this.upsertPending(keys, delivery.event.occurredAt);
      try {
        await this.options.deliveries.createEntity(
          toDeliveryEntity(keys, record),
          this.access.signal(),
        );
        return { kind: "created", record };
      } catch (error) {
        if (!isStatus(error, 409)) throw error;
      }
      const existing = await this.updateWithRetry(keys, (current) => withArrival(current, arrival));
      return { kind: "duplicate", record: existing };
    });
  }

  async markPublished(event: RegistryEvent, topic: string): Promise<void> {
    await this.access.call(async () => {
      const keys = deliveryKeys(event);
      const record = await this.updateWithRetry(keys, (current) => ({
        ...current,
        publishState: "published",
        publishedTopics: [...new Set([...current.publishedTopics, topic])],
        publishAttempts: current.publishAttempts + 1,
        lastError: undefined,
      }));
      await this.deletePending(pendingKeys(keys, record.event.occurredAt));
    });
  }

  async markPublishFailed(
    event: RegistryEvent,
    error: string,
    at: number,
    occurrence?: number,
  ): Promise<void> {
    await this.access.call(() =>
      this.updateWithRetry(deliveryKeys(event), (current) => ({
        ...current,
        publishAttempts: current.publishAttempts + 1,
        lastAttemptAt: at,
        lastError: error,
        occurrence: occurrence ?? current.occurrence,
      })),
    );
  }

  async markDead(event: RegistryEvent, error: string): Promise<void> {
    await this.access.call(async () => {
      const keys = deliveryKeys(event);
      await this.updateWithRetry(keys, (current) => ({
        ...current,
        publishState: "dead",
        lastError: error,
      }));
      await this.deletePending(pendingKeys(keys, event.occurredAt));
    });
  }

  async claimRedrive(
    event: RegistryEvent,
    now: number,
    isDue: (record: DeliveryRecord) => boolean,
  ): Promise<DeliveryRecord | undefined> {
    return this.access.call(async () => {
      const keys = deliveryKeys(event);
      const entity = await this.options.deliveries.getEntity<DeliveryEntity>(
        keys.partitionKey,
        keys.rowKey,
        this.access.signal(),
      );
      const record = fromDeliveryEntity(entity);
      if (record.publishState !== "pending" || !isDue(record)) return undefined;
      const claimed = { ...record, lastAttemptAt: now };
      try {
        await this.options.deliveries.updateEntity(toDeliveryEntity(keys, claimed), "Replace", {
          etag: entity.etag,
          ...this.access.signal(),
        });
      } catch (error) {
        if (isStatus(error, 412)) return undefined;
        throw error;
      }
      return claimed;
    });
  }

  async find(event: RegistryEvent): Promise<DeliveryRecord | undefined> {
    return this.access.call(() => this.readRecord(deliveryKeys(event)));
  }

  async findByKeys(keys: EntityKeys): Promise<DeliveryRecord | undefined> {
    return this.access.call(() => this.readRecord(keys));
  }

  async setCrossCheck(event: RegistryEvent, state: string): Promise<void> {
    await this.access.call(async () => {
      const keys = deliveryKeys(event);
      await this.options.deliveries.updateEntity(
        { ...keys, crossCheck: state },
        "Merge",
        this.access.signal(),
      );
    });
  }

  async listPending(
    limit: number,
    isDue: (record: DeliveryRecord) => boolean,
  ): Promise<DeliveryRecord[]> {
    return this.access.call(async () => {
      const records: DeliveryRecord[] = [];
      const markers = this.options.pending.listEntities<PendingEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${PENDING_PARTITION}` },
      });
      let read = 0;
      for await (const marker of markers) {
        if (records.length >= limit || read++ >= limit * MARKERS_READ_PER_DUE) break;
        const record = await this.readRecord({
          partitionKey: marker.recordPartitionKey,
          rowKey: marker.recordRowKey,
        });
        if (record?.publishState !== "pending") await this.deletePending(marker);
        else if (isDue(record)) records.push(record);
      }
      return records;
    });
  }

  private async readRecord(keys: EntityKeys): Promise<DeliveryRecord | undefined> {
    try {
      const entity = await this.options.deliveries.getEntity<DeliveryEntity>(
        keys.partitionKey,
        keys.rowKey,
        this.access.signal(),
      );
      return fromDeliveryEntity(entity);
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private updateWithRetry(
    keys: EntityKeys,
    change: (current: DeliveryRecord) => DeliveryRecord,
  ): Promise<DeliveryRecord> {
    return retryOnConflict(async () => {
      const entity = await this.options.deliveries.getEntity<DeliveryEntity>(
        keys.partitionKey,
        keys.rowKey,
        this.access.signal(),
      );
      const updated = change(fromDeliveryEntity(entity));
      await this.options.deliveries.updateEntity(toDeliveryEntity(keys, updated), "Replace", {
        etag: entity.etag,
        ...this.access.signal(),
      });
      return updated;
    });
  }

  private async upsertPending(record: EntityKeys, occurredAt: number): Promise<void> {
    const marker: PendingEntity = {
      ...pendingKeys(record, occurredAt),
      recordPartitionKey: record.partitionKey,
      recordRowKey: record.rowKey,
    };
    await this.options.pending.upsertEntity(marker, "Replace", this.access.signal());
  }

  private async deletePending(keys: EntityKeys): Promise<void> {
    try {
      await this.options.pending.deleteEntity(keys.partitionKey, keys.rowKey, this.access.signal());
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
}
