import { odata, type TableClient, type TableEntityResult } from "@azure/data-tables";
import { type LogicalEvent, logicalRefFor, twinDelayMs } from "../core/crossCheck";
import type { DeliveryRecord } from "../core/deliveryRecord";
import type { EventStore } from "../core/ports";
import type { EventOrigin, RegistryEvent } from "../core/registryEvent";
import { DONE } from "../core/result";
import type {
  Change,
  DigestRef,
  ListedWindow,
  LogicalRef,
  OpenWork,
  TagRef,
  Versioned,
  WindowMarker,
  WriteOptions,
  WriteOutcome,
} from "../core/writePlan";
import { inSpan } from "../telemetry/instruments";
import {
  type DeliveryEntity,
  fromDeliveryEntity,
  statusColumns,
  toDeliveryEntity,
} from "./deliveryEntity";
import type { EventTables } from "./eventTables";
import { fromLogicalEntity, type LogicalEntity, toLogicalEntity } from "./logicalEntity";
import { TableAccess } from "./tableAccess";
import { isStatus } from "./tableErrors";
import {
  operation,
  TableConflict,
  TableGroupCommit,
  type TableOperation,
} from "./tableGroupCommit";
import {
  DIGEST_TAG_COLUMN_PREFIX,
  digestLogicalRange,
  digestTagColumn,
  digestTagKeys,
  type EntityKeys,
  eventIdKeys,
  eventIdRange,
  eventIdRowKey,
  hourPartition,
  ID_DIRECTORY_COLUMN_PREFIX,
  idDirectoryColumn,
  idDirectoryKeys,
  kindRange,
  logicalKeys,
  occurredKeys,
  PENDING_ROWS,
  pendingKeys,
  recordKeys,
  registryPartitions,
  tagKeys,
  windowKeys,
  windowsDueBefore,
} from "./tableLayout";
import { queryEntities } from "./tablePaging";
import type { TableRegistryIndex } from "./tableRegistryIndex";

const ORIGIN_ORDER: EventOrigin[] = ["webhook", "acr-log", "eventgrid"];

/** Point reads of a reconcile's listing (logical events, records) made at once, each bounded. */
const LOGICAL_READS_AT_ONCE = 16;

interface IndexEntity extends EntityKeys {
  recordRowKey: string;
  logicalRowKey: string;
}

/** Lists a record by ACR's timestamp, with the filter columns that never change. */
export interface OccurredEntity extends EntityKeys, FilterColumns {
  recordRowKey: string;
}

type FilterColumns = Pick<RegistryEvent, "action" | "repository" | "connectedRegistry">;

function immutableFilterColumns({ action, repository, connectedRegistry }: RegistryEvent) {
  return { action, repository, connectedRegistry } satisfies FilterColumns;
}

interface WindowEntity extends EntityKeys {
  window: string;
}

interface PendingEntity extends EntityKeys {
  recordRowKey: string;
}

/** A row of a reconcile's read: a pending marker or a window. */
type WorkEntity = PendingEntity & WindowEntity;

export interface TableEventStoreOptions {
  events: EventTables;
  crossChecks: TableClient;
  /** Bounds each Table call so a hung storage account cannot hold a delivery past ACR's 5 s. */
  timeoutMs: number;
  /** Every registry with a recorded event, so reads over all registries know their partitions. */
  registries: TableRegistryIndex;
}

/** One write of a plan: the operations of one table and partition. */
interface PartitionWrite {
  commit: TableGroupCommit;
  partitionKey: string;
  operations: TableOperation[];
  /** Which change each operation came from. */
  changes: Change["kind"][];
}

/**
 * The event store on Table Storage: translates decided changes into Table operations, one
 * transaction per partition shared with whatever else is in flight for it (group commit).
 */
export class TableEventStore implements EventStore {
  private readonly access: TableAccess;
  private readonly events: TableGroupCommit;
  private readonly crossChecks: TableGroupCommit;

  constructor(private readonly options: TableEventStoreOptions) {
    this.access = new TableAccess(
      [...options.events.all, options.crossChecks],
      options.timeoutMs,
      // Tables found missing: the registries listed before are gone with them.
      () => options.registries.forget(),
    );
    this.events = new TableGroupCommit(
      (partitionKey) => options.events.of(partitionKey),
      this.access,
    );
    this.crossChecks = new TableGroupCommit(() => options.crossChecks, this.access);
  }

  relatedLogicals(event: RegistryEvent): Promise<Versioned<LogicalEvent>[]> {
    if (!event.digest) {
      return this.logicalOf(logicalRefFor(event)).then((logical) => (logical ? [logical] : []));
    }
    const { partitionKey } = logicalKeys(logicalRefFor(event));
    const { from, to } = digestLogicalRange(event);
    return this.access.call(async () => {
      const found: Versioned<LogicalEvent>[] = [];
      const rows = this.options.events.of(partitionKey).listEntities<LogicalEntity>({
        queryOptions: {
          filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${from} and RowKey lt ${to}`,
        },
        ...this.access.signal(),
      });
      for await (const row of rows) found.push(versioned(fromLogicalEntity(row), row));
      return found;
    });
  }

  async logicalOf(logical: LogicalRef): Promise<Versioned<LogicalEvent> | undefined> {
    const entity = await this.read<LogicalEntity>(logicalKeys(logical));
    return entity && versioned(fromLogicalEntity(entity), entity);
  }

  async recordOf(event: RegistryEvent): Promise<Versioned<DeliveryRecord> | undefined> {
    const { partitionKey } = eventIdKeys(event);
    const entity = await this.recordEntity(partitionKey, event.eventId, event.origin);
    return entity && versioned(fromDeliveryEntity(entity), entity);
  }

  async digestTags(digest: DigestRef): Promise<string[]> {
    return columnsOf(await this.read(digestTagKeys(digest)), DIGEST_TAG_COLUMN_PREFIX);
  }

  async tagSeen(tag: TagRef): Promise<boolean> {
    return (await this.read<EntityKeys>(tagKeys(tag))) !== undefined;
  }

  write(changes: readonly Change[], options: WriteOptions = {}): Promise<WriteOutcome> {
    return inSpan("table.write", { "acr.changes": String(changes.length) }, async () => {
      // Listed before it is recorded, so no recorded event is missing from a read over all registries.
      const registries = changes.flatMap((change) =>
        change.kind === "create-record" ? [change.record.event.registry] : [],
      );
      for (const registry of registries) await this.options.registries.note(registry);
      // One partition after the other, in the plan's order: `index-id` is durable before the record.
      for (const write of this.partitionWrites(changes)) {
        try {
          await write.commit.submit(write.partitionKey, write.operations, options.lazy);
        } catch (error) {
          if (!(error instanceof TableConflict)) throw error;
          return { ok: false, failure: write.changes[error.operationIndex] ?? "create-record" };
        }
      }
      // Again, in case the tables were found missing meanwhile: the listing went with them.
      // Otherwise each registry is in the in-memory set by now, and this costs no call.
      for (const registry of registries) await this.options.registries.note(registry);
      return DONE;
    });
  }

  /** Writes what lazy writes still hold, and waits for them (before the process ends). */
  async flush(): Promise<void> {
    await Promise.all([this.events.flush(), this.crossChecks.flush()]);
  }

  async openWork(now: number, limits: { windows: number; pending: number }): Promise<OpenWork> {
    let due: WindowMarker[] = [];
    const markers: PendingEntity[] = [];
    // Pending markers and due windows are one range of each partition, read in one query. Each
    // page of it is a bounded call of its own: after a long outage the range holds thousands of
    // rows, which one call's bound would cut short on every run, and no run would get anything.
    const pending = kindRange(PENDING_ROWS);
    for (const partitionKey of await this.allPartitions()) {
      const rows = queryEntities<WorkEntity>(this.access, this.options.events.of(partitionKey), {
        filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${pending.from} and RowKey lt ${windowsDueBefore(now)}`,
      });
      let pendingRead = 0;
      let windowsRead = 0;
      for await (const row of rows) {
        if (row.rowKey < pending.to) {
          if (pendingRead++ < limits.pending) markers.push(row);
          continue;
        }
        if (windowsRead++ >= limits.windows) break;
        due.push(JSON.parse(row.window) as WindowMarker);
      }
    }
    // The oldest across partitions, as the pending markers: a backlog in one partition (after a
    // long pause, or a burst in one repository) must not hold back the older windows of the next.
    due = due
      .sort((a, b) => a.windowClosesAt - b.windowClosesAt || ordinal(a.key, b.key))
      .slice(0, limits.windows);
    const windows: ListedWindow[] = [];
    for (let at = 0; at < due.length; at += LOGICAL_READS_AT_ONCE) {
      const chunk = due.slice(at, at + LOGICAL_READS_AT_ONCE);
      const logicals = await Promise.all(chunk.map((window) => this.logicalOf(window)));
      windows.push(...chunk.map((window, index) => ({ window, logical: logicals[index] })));
    }
    return { windows, pending: await this.pendingBehind(markers, limits.pending) };
  }

  /** The records the pending markers name, oldest first across partitions. */
  private async pendingBehind(
    markers: PendingEntity[],
    limit: number,
  ): Promise<Versioned<DeliveryRecord>[]> {
    // The RowKey starts with the receipt time.
    markers.sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
    const records: Versioned<DeliveryRecord>[] = [];
    const taken = markers.slice(0, limit);
    for (let at = 0; at < taken.length; at += LOGICAL_READS_AT_ONCE) {
      const entities = await Promise.all(
        taken.slice(at, at + LOGICAL_READS_AT_ONCE).map((marker) =>
          this.read<DeliveryEntity>({
            partitionKey: marker.partitionKey,
            rowKey: marker.recordRowKey,
          }),
        ),
      );
      for (const entity of entities) {
        if (entity) records.push(versioned(fromDeliveryEntity(entity), entity));
      }
    }
    return records;
  }

  async arrivalsOf(
    logical: LogicalRef,
    eventIds: readonly string[],
    origin: EventOrigin,
  ): Promise<DeliveryRecord[]> {
    const { partitionKey } = logicalKeys(logical);
    const found = await Promise.all(
      eventIds.map((eventId) => this.recordEntity(partitionKey, eventId, origin)),
    );
    return recordsFound(found);
  }

  async arrivalsIndexedById(eventId: string, origin: EventOrigin): Promise<DeliveryRecord[]> {
    const row = await this.read(idDirectoryKeys(eventId, origin));
    const records = await Promise.all(
      columnsOf(row, ID_DIRECTORY_COLUMN_PREFIX).map((keys) =>
        this.read<DeliveryEntity>(JSON.parse(keys) as EntityKeys),
      ),
    );
    return recordsFound(records);
  }

  async arrivalsById(eventId: string, origin: EventOrigin): Promise<DeliveryRecord[]> {
    const found = await this.findById(eventId, origin);
    return found.map((arrival) => arrival.record);
  }

  /** Every arrival with the id, from both sides, and the logical event each belongs to. */
  async findById(
    eventId: string,
    origin?: EventOrigin,
  ): Promise<{ record: DeliveryRecord; logical?: LogicalEvent }[]> {
    const partitions = await this.allPartitions();
    const found = await Promise.all(
      partitions.map(async (partitionKey) => {
        // Of one origin, a point read; of every origin, one range of the partition.
        const indexes = origin
          ? [await this.read<IndexEntity>({ partitionKey, rowKey: eventIdRowKey(eventId, origin) })]
          : await this.indexesOf(partitionKey, eventId);
        return Promise.all(indexes.map((index) => index && this.arrivalAt(index)));
      }),
    );
    return found.flat().flatMap((arrival) => (arrival ? [arrival] : []));
  }

  private indexesOf(partitionKey: string, eventId: string): Promise<IndexEntity[]> {
    const { from, to } = eventIdRange(eventId);
    return this.access.call(async () => {
      const indexes: IndexEntity[] = [];
      const rows = this.options.events.of(partitionKey).listEntities<IndexEntity>({
        queryOptions: {
          filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${from} and RowKey lt ${to}`,
        },
        ...this.access.signal(),
      });
      for await (const row of rows) indexes.push(row);
      // The webhook's side first, as the event's story reads.
      const rank = (index: IndexEntity) =>
        ORIGIN_ORDER.findIndex((origin) => index.rowKey.endsWith(`|${origin}`));
      return indexes.sort((a, b) => rank(a) - rank(b));
    });
  }

  /** One arrival's record entity in its partition: its event-id row, then the record itself. */
  private async recordEntity(
    partitionKey: string,
    eventId: string,
    origin: EventOrigin,
  ): Promise<TableEntityResult<DeliveryEntity> | undefined> {
    const index = await this.read<IndexEntity>({
      partitionKey,
      rowKey: eventIdRowKey(eventId, origin),
    });
    return index && this.read<DeliveryEntity>({ partitionKey, rowKey: index.recordRowKey });
  }

  /** The record and the logical event an event-id row points to. */
  private async arrivalAt(
    index: IndexEntity,
  ): Promise<{ record: DeliveryRecord; logical?: LogicalEvent } | undefined> {
    const { partitionKey } = index;
    const [record, logical] = await Promise.all([
      this.read<DeliveryEntity>({ partitionKey, rowKey: index.recordRowKey }),
      this.read<LogicalEntity>({ partitionKey, rowKey: index.logicalRowKey }),
    ]);
    return (
      record && {
        record: fromDeliveryEntity(record),
        logical: logical && fromLogicalEntity(logical),
      }
    );
  }

  private async allPartitions(): Promise<string[]> {
    const registries = await this.options.registries.list();
    return registries.flatMap(registryPartitions);
  }

  private read<T extends object>(keys: EntityKeys): Promise<TableEntityResult<T> | undefined> {
    return this.access.call(async () => {
      try {
        return await this.options.events
          .of(keys.partitionKey)
          .getEntity<T>(keys.partitionKey, keys.rowKey, this.access.signal());
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    });
  }

  /** Groups the changes' operations by table and partition, in the order they first appear. */
  private partitionWrites(changes: readonly Change[]): PartitionWrite[] {
    const writes = new Map<string, PartitionWrite>();
    for (const change of changes) {
      for (const [commit, keys, tableOperation] of this.operationsFor(change)) {
        const id = `${commit === this.events ? "e" : "c"}\n${keys.partitionKey}`;
        let write = writes.get(id);
        if (!write) {
          write = { commit, partitionKey: keys.partitionKey, operations: [], changes: [] };
          writes.set(id, write);
        }
        write.operations.push(tableOperation);
        write.changes.push(change.kind);
      }
    }
    return [...writes.values()];
  }

  private operationsFor(change: Change): [TableGroupCommit, EntityKeys, TableOperation][] {
    const events = (keys: EntityKeys, operation: TableOperation) =>
      [this.events, keys, operation] as [TableGroupCommit, EntityKeys, TableOperation];
    switch (change.kind) {
      case "create-record": {
        const keys = recordKeys(change.record);
        const pointer: OccurredEntity = {
          recordRowKey: keys.rowKey,
          ...immutableFilterColumns(change.record.event),
          ...occurredKeys(change.record),
        };
        return [
          events(keys, operation.create(toDeliveryEntity(keys, change.record))),
          events(pointer, operation.create(pointer)),
        ];
      }
      case "replace-record": {
        const keys = recordKeys(change.record);
        const entity = toDeliveryEntity(keys, change.record);
        return [events(keys, operation.update(entity, "Replace", change.version))];
      }
      case "set-record-status": {
        const keys = recordKeys(change.record);
        const entity = { ...statusColumns(change.status), ...keys };
        return [events(keys, operation.update(entity, "Merge", "*"))];
      }
      case "index-arrival": {
        const { record } = change;
        const keys = eventIdKeys(record.event);
        const entity: IndexEntity = {
          recordRowKey: recordKeys(record).rowKey,
          logicalRowKey: logicalKeys({ ...logicalRefFor(record.event), key: change.logicalKey })
            .rowKey,
          ...keys,
        };
        return [events(keys, operation.create(entity))];
      }
      case "index-id": {
        const { event } = change.record;
        const record = recordKeys(change.record);
        const entity = {
          [idDirectoryColumn(record)]: JSON.stringify(record),
          ...idDirectoryKeys(event.eventId, event.origin),
        };
        return [events(entity, operation.optionalMerge(entity))];
      }
      case "create-logical": {
        const entity = toLogicalEntity(logicalKeys(change.logical), change.logical);
        return [events(entity, operation.create(entity))];
      }
      case "replace-logical": {
        const entity = toLogicalEntity(logicalKeys(change.logical), change.logical);
        return [events(entity, operation.update(entity, "Replace", change.version))];
      }
      case "set-publication": {
        const keys = logicalKeys(change.logical);
        const entity = {
          publicationBy: change.publication.by,
          publicationOccurrence: change.publication.occurrence,
          ...keys,
        };
        return [events(keys, operation.update(entity, "Merge", "*"))];
      }
      case "open-window": {
        const entity: WindowEntity = {
          window: JSON.stringify(windowMarker(change.window)),
          ...windowKeys(change.window),
        };
        return [events(entity, operation.upsert(entity))];
      }
      case "close-window": {
        const keys = windowKeys(change.window);
        return [events(keys, operation.deleteIfExists(keys))];
      }
      case "add-pending": {
        const entity: PendingEntity = {
          recordRowKey: recordKeys(change.record).rowKey,
          ...pendingKeys(change.record),
        };
        return [events(entity, operation.upsert(entity))];
      }
      case "remove-pending": {
        const keys = pendingKeys(change.record);
        return [events(keys, operation.deleteIfExists(keys))];
      }
      case "note-tag": {
        const keys = tagKeys(change.tag);
        return [events(keys, operation.upsert(keys))];
      }
      case "note-digest-tag": {
        const entity = {
          [digestTagColumn(change.tag)]: change.tag,
          ...digestTagKeys(change.digest),
        };
        return [events(entity, operation.optionalMerge(entity))];
      }
      case "log-verdict": {
        const { logical, state } = change;
        const entity = {
          partitionKey: hourPartition(logical.firstSeenAt),
          rowKey: logical.key,
          action: logical.action,
          registry: logical.registry,
          state,
          firstSeenAt: new Date(logical.firstSeenAt),
          delayMs: twinDelayMs(logical),
          late: logical.late !== undefined,
        };
        return [[this.crossChecks, entity, operation.upsert(entity)]];
      }
    }
  }
}

/** The records of the entities that point reads found. */
function recordsFound(entities: readonly (DeliveryEntity | undefined)[]): DeliveryRecord[] {
  return entities.flatMap((entity) => (entity ? [fromDeliveryEntity(entity)] : []));
}

/** The string values of a row's columns named with the prefix, in no order. */
function columnsOf(row: Record<string, unknown> | undefined, prefix: string): string[] {
  return Object.entries(row ?? {}).flatMap(([column, value]) =>
    column.startsWith(prefix) && typeof value === "string" ? [value] : [],
  );
}

function versioned<T>(value: T, entity: { etag: string }): Versioned<T> {
  return { value, version: entity.etag };
}

function windowMarker({ key, registry, repository, digest, windowClosesAt }: WindowMarker) {
  return { key, registry, repository, digest, windowClosesAt };
}

function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
