import { odata, RestError, type TableClient } from "@azure/data-tables";
import type { DeliveryRecord, NewDelivery } from "../core/deliveryRecord";
import { initialPublishState } from "../core/deliveryRecord";
import { describeError } from "../core/ingestDelivery";
import { DependencyUnavailableError, type EventStore, type RecordOutcome } from "../core/ports";
import type { RegistryEvent } from "../core/registryEvent";
import {
  type DeliveryEntity,
  fromDeliveryEntity,
  toDeliveryEntity,
  withArrival,
} from "./deliveryEntity";
import { deliveryKeys, type EntityKeys, PENDING_PARTITION, pendingKeys } from "./tableLayout";

interface PendingEntity extends EntityKeys {
  recordPartitionKey: string;
  recordRowKey: string;
}

export interface TableEventStoreOptions {
  deliveries: TableClient;
  pending: TableClient;
  /** Bounds each Table call so a hung storage account cannot hold a delivery past ACR's 5 s. */
  timeoutMs: number;
}

/** Concurrent repeats of one event contend on one entity's etag; each retry re-reads it. */
const MAX_CONDITIONAL_RETRIES = 40;

export class TableEventStore implements EventStore {
  private tablesReady?: Promise<void>;

  constructor(private readonly options: TableEventStoreOptions) {}

  async recordDelivery(delivery: NewDelivery): Promise<RecordOutcome> {
    return this.call(async () => {
      const keys = deliveryKeys(delivery.event);
      const arrival = {
        receivedAt: new Date(delivery.receivedAt).toISOString(),
        region: delivery.event.region,
        status: 200,
      };
      const record: DeliveryRecord = {
        ...delivery,
        publishState: initialPublishState(delivery.route),
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
        await this.options.deliveries.createEntity(toDeliveryEntity(keys, record), this.signal());
        return { kind: "created", record };
      } catch (error) {
        if (!isStatus(error, 409)) throw error;
      }
      const existing = await this.updateWithRetry(keys, (current) => withArrival(current, arrival));
      return { kind: "duplicate", record: existing };
    });
  }

  async markPublished(event: RegistryEvent, topic: string): Promise<void> {
    await this.call(async () => {
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

  async markPublishFailed(event: RegistryEvent, error: string): Promise<void> {
    await this.call(() =>
      this.updateWithRetry(deliveryKeys(event), (current) => ({
        ...current,
        publishAttempts: current.publishAttempts + 1,
        lastError: error,
      })),
    );
  }

  async listPending(limit: number): Promise<DeliveryRecord[]> {
    return this.call(async () => {
      const records: DeliveryRecord[] = [];
      const markers = this.options.pending.listEntities<PendingEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${PENDING_PARTITION}` },
      });
      for await (const marker of markers) {
        if (records.length >= limit) break;
        const record = await this.find({
          partitionKey: marker.recordPartitionKey,
          rowKey: marker.recordRowKey,
        });
        if (record?.publishState === "pending") records.push(record);
        else await this.deletePending(marker);
      }
      return records;
    });
  }

  private async find(keys: EntityKeys): Promise<DeliveryRecord | undefined> {
    try {
      const entity = await this.options.deliveries.getEntity<DeliveryEntity>(
        keys.partitionKey,
        keys.rowKey,
        this.signal(),
      );
      return fromDeliveryEntity(entity);
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private async updateWithRetry(
    keys: EntityKeys,
    change: (current: DeliveryRecord) => DeliveryRecord,
  ): Promise<DeliveryRecord> {
    for (let attempt = 1; ; attempt++) {
      const entity = await this.options.deliveries.getEntity<DeliveryEntity>(
        keys.partitionKey,
        keys.rowKey,
        this.signal(),
      );
      const updated = change(fromDeliveryEntity(entity));
      try {
        await this.options.deliveries.updateEntity(toDeliveryEntity(keys, updated), "Replace", {
          etag: entity.etag,
          ...this.signal(),
        });
        return updated;
      } catch (error) {
        if (!isStatus(error, 412) || attempt >= MAX_CONDITIONAL_RETRIES) throw error;
        await delay(Math.random() * 10 * Math.min(attempt, 5));
      }
    }
  }

  private async upsertPending(record: EntityKeys, occurredAt: number): Promise<void> {
    const marker: PendingEntity = {
      ...pendingKeys(record, occurredAt),
      recordPartitionKey: record.partitionKey,
      recordRowKey: record.rowKey,
    };
    await this.options.pending.upsertEntity(marker, "Replace", this.signal());
  }

  private async deletePending(keys: EntityKeys): Promise<void> {
    try {
      await this.options.pending.deleteEntity(keys.partitionKey, keys.rowKey, this.signal());
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.options.timeoutMs) };
  }

  /** Creates the tables once per process (retried after a failure), and types every failure. */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      this.tablesReady ??= this.createTables();
      await this.tablesReady;
      return await operation();
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error;
      throw new DependencyUnavailableError("table-storage", describeError(error));
    }
  }

  private async createTables(): Promise<void> {
    try {
      await Promise.all([
        this.options.deliveries.createTable(this.signal()),
        this.options.pending.createTable(this.signal()),
      ]);
    } catch (error) {
      this.tablesReady = undefined;
      throw error;
    }
  }
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
