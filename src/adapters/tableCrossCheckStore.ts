import { odata, type TableClient } from "@azure/data-tables";
import {
  type CrossCheckState,
  differingFields,
  type LogicalEvent,
  logicalKeyFor,
  occurrenceOf,
  twinDelayMs,
  withArrival,
} from "../core/crossCheck";
import type { CrossCheckStore } from "../core/ports";
import type { EventOrigin, RegistryEvent } from "../core/registryEvent";
import { TableAccess } from "./tableAccess";
import type { TableEventStore } from "./tableEventStore";
import {
  deliveryKeys,
  type EntityKeys,
  eventIdKeys,
  hourPartition,
  LOGICAL_EVENT_ROW,
  OPEN_WINDOWS_PARTITION,
  openWindowKeys,
  openWindowsDueBefore,
} from "./tableLayout";
import { isStatus, retryOnConflict } from "./tableRetry";

export interface TableCrossCheckStoreOptions {
  logicalEvents: TableClient;
  openWindows: TableClient;
  eventIds: TableClient;
  crossChecks: TableClient;
  deliveries: TableEventStore;
  timeoutMs: number;
}

interface LogicalEntity extends EntityKeys {
  json: string;
  state: CrossCheckState;
  publishedBy?: string;
}

interface EventIdEntity extends EntityKeys {
  logicalKey: string;
  fields: string;
  recordPartitionKey: string;
  recordRowKey: string;
}

export class TableCrossCheckStore implements CrossCheckStore {
  private readonly access: TableAccess;

  constructor(private readonly options: TableCrossCheckStoreOptions) {
    this.access = new TableAccess(
      [options.logicalEvents, options.openWindows, options.eventIds, options.crossChecks],
      options.timeoutMs,
    );
  }

  noteArrival(event: RegistryEvent, arrivedAt: number, windowMs: number): Promise<LogicalEvent> {
    return this.access.call(async () => {
      const key = logicalKeyFor(event);
      const logical = await this.change(key, (current) =>
        withArrival(current, event, arrivedAt, windowMs),
      );
      const twin = await this.indexEventId(event, key);
      if (twin && twin.logicalKey !== key && differingFields(event, twin.event).length > 0) {
        await this.flagMismatch(twin.logicalKey, event.eventId);
        return (await this.flagMismatch(key, event.eventId)) ?? (logical as LogicalEvent);
      }
      return logical as LogicalEvent;
    });
  }

  indexArrival(event: RegistryEvent): Promise<void> {
    return this.access.call(async () => {
      await this.indexEventId(event, logicalKeyFor(event));
    });
  }

  markPublishedBy(key: string, origin: EventOrigin, occurrence: number): Promise<void> {
    return this.access.call(async () => {
      await this.change(key, (current) =>
        current && !current.publishedBy && occurrenceOf(current) === occurrence
          ? { ...current, publishedBy: origin }
          : current,
      );
    });
  }

  dueWindows(now: number, limit: number): Promise<LogicalEvent[]> {
    return this.access.call(async () => {
      const due: LogicalEvent[] = [];
      const items = this.options.openWindows.listEntities<EntityKeys>({
        queryOptions: {
          filter: odata`PartitionKey eq ${OPEN_WINDOWS_PARTITION} and RowKey lt ${openWindowsDueBefore(now)}`,
        },
      });
      for await (const item of items) {
        if (due.length >= limit) break;
        const key = item.rowKey.slice(item.rowKey.indexOf("|") + 1);
        const logical = (await this.read(key))?.logical;
        // A window another writer opened at the same moment, or one already closed: drop the item.
        if (logical?.state !== "open") await this.deleteOpenWindow(item);
        else if (logical.windowClosesAt <= now) due.push(logical);
      }
      return due;
    });
  }

  claimWindow(logical: LogicalEvent, now: number, leaseMs: number): Promise<boolean> {
    return this.access.call(async () => {
      const stored = await this.read(logical.key);
      const current = stored?.logical;
      if (!stored || !current || current.state !== "open" || (current.closingUntil ?? 0) > now) {
        return false;
      }
      try {
        const claimed = {
          ...current,
          closingUntil: now + leaseMs,
          closeAttempts: (current.closeAttempts ?? 0) + 1,
        };
        await this.replace(toEntity(claimed), stored.etag);
        return true;
      } catch (error) {
        if (isStatus(error, 412)) return false;
        throw error;
      }
    });
  }

  arrivalsOf(logical: LogicalEvent, origin: EventOrigin): Promise<RegistryEvent[]> {
    return this.access.call(async () => {
      const side = origin === "webhook" ? logical.webhook : logical.eventGrid;
      const events: RegistryEvent[] = [];
      for (const eventId of side?.eventIds ?? []) {
        const index = await this.readEventId(eventId, origin);
        if (!index) continue;
        const record = await this.options.deliveries.findByKeys({
          partitionKey: index.recordPartitionKey,
          rowKey: index.recordRowKey,
        });
        if (record) events.push(record.event);
      }
      return events;
    });
  }

  closeWindow(logical: LogicalEvent, state: Exclude<CrossCheckState, "open">): Promise<void> {
    return this.access.call(async () => {
      await this.change(logical.key, (current) => current && { ...current, state });
      await this.options.crossChecks.upsertEntity(
        {
          partitionKey: hourPartition(logical.firstSeenAt),
          rowKey: logical.key,
          action: logical.action,
          registry: logical.registry,
          state,
          firstSeenAt: new Date(logical.firstSeenAt),
          delayMs: twinDelayMs(logical),
        },
        "Replace",
        this.access.signal(),
      );
      await this.deleteOpenWindow(openWindowKeys(logical.windowClosesAt, logical.key));
    });
  }

  /** The logical event of an event id, for the query API. */
  findByEventId(eventId: string): Promise<{ logical?: LogicalEvent; records: EntityKeys[] }> {
    return this.access.call(async () => {
      const records: EntityKeys[] = [];
      let logicalKey: string | undefined;
      for (const origin of ["webhook", "acr-log", "eventgrid"] as const) {
        const index = await this.readEventId(eventId, origin);
        if (!index) continue;
        logicalKey ??= index.logicalKey;
        records.push({ partitionKey: index.recordPartitionKey, rowKey: index.recordRowKey });
      }
      const logical = logicalKey ? (await this.read(logicalKey))?.logical : undefined;
      return { logical, records };
    });
  }

  private async change(
    key: string,
    update: (current: LogicalEvent | undefined) => LogicalEvent | undefined,
  ): Promise<LogicalEvent | undefined> {
    return retryOnConflict(async () => {
      const stored = await this.read(key);
      const updated = update(stored?.logical);
      if (!updated || updated === stored?.logical) return updated;
      const entity = toEntity(updated);
      if (!stored) {
        // The window's item goes first: a crash before the create leaves an item the reconcile drops.
        await this.options.openWindows.upsertEntity(
          openWindowKeys(updated.windowClosesAt, key),
          "Replace",
          this.access.signal(),
        );
        await this.options.logicalEvents.createEntity(entity, this.access.signal());
      } else if (updated.windowClosesAt !== stored.logical.windowClosesAt) {
        // A recurrence: a new window for the same content.
        await this.options.openWindows.upsertEntity(
          openWindowKeys(updated.windowClosesAt, key),
          "Replace",
          this.access.signal(),
        );
        await this.replace(entity, stored.etag);
      } else {
        await this.replace(entity, stored.etag);
      }
      return updated;
    });
  }

  private async replace(entity: LogicalEntity, etag: string): Promise<void> {
    await this.options.logicalEvents.updateEntity(entity, "Replace", {
      etag,
      ...this.access.signal(),
    });
  }

  private async read(key: string): Promise<{ logical: LogicalEvent; etag: string } | undefined> {
    try {
      const entity = await this.options.logicalEvents.getEntity<LogicalEntity>(
        key,
        LOGICAL_EVENT_ROW,
        this.access.signal(),
      );
      return { logical: JSON.parse(entity.json) as LogicalEvent, etag: entity.etag };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private flagMismatch(key: string, eventId: string): Promise<LogicalEvent | undefined> {
    return this.change(key, (current) =>
      current && !current.mismatchedIds.includes(eventId)
        ? { ...current, mismatchedIds: [...current.mismatchedIds, eventId] }
        : current,
    );
  }

  /** Indexes this arrival by its event id and returns the other side's arrival of the same id. */
  private async indexEventId(
    event: RegistryEvent,
    logicalKey: string,
  ): Promise<{ logicalKey: string; event: RegistryEvent } | undefined> {
    const record = deliveryKeys(event);
    const entity: EventIdEntity = {
      ...eventIdKeys(event.eventId, event.origin),
      logicalKey,
      fields: JSON.stringify(comparedFields(event)),
      recordPartitionKey: record.partitionKey,
      recordRowKey: record.rowKey,
    };
    await this.options.eventIds.upsertEntity(entity, "Replace", this.access.signal());
    const other = await this.readEventId(
      event.eventId,
      event.origin === "webhook" ? "eventgrid" : "webhook",
    );
    return (
      other && { logicalKey: other.logicalKey, event: { ...event, ...JSON.parse(other.fields) } }
    );
  }

  private async readEventId(
    eventId: string,
    origin: EventOrigin,
  ): Promise<EventIdEntity | undefined> {
    const keys = eventIdKeys(eventId, origin);
    try {
      return await this.options.eventIds.getEntity<EventIdEntity>(
        keys.partitionKey,
        keys.rowKey,
        this.access.signal(),
      );
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private async deleteOpenWindow(keys: EntityKeys): Promise<void> {
    try {
      await this.options.openWindows.deleteEntity(
        keys.partitionKey,
        keys.rowKey,
        this.access.signal(),
      );
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
}

function comparedFields(event: RegistryEvent) {
  const { registry, action, repository, digest, tag } = event;
  return { registry, action, repository, digest, tag };
}

function toEntity(logical: LogicalEvent): LogicalEntity {
  return {
    partitionKey: logical.key,
    rowKey: LOGICAL_EVENT_ROW,
    json: JSON.stringify(logical),
    state: logical.state,
    publishedBy: logical.publishedBy,
  };
}
