import { odata, type TableClient, type TableEntityResult } from "@azure/data-tables";
import type { ArtifactKind } from "../core/artifactKind";
import type { CrossCheckState, DiscrepancyKind } from "../core/crossCheck";
import type { DeliveryRecord, PublishState } from "../core/deliveryRecord";
import type { Discrepancy } from "../core/discrepancy";
import { type DeliveryEntity, fromDeliveryEntity } from "./deliveryEntity";
import { EventTables } from "./eventTables";
import { TableAccess } from "./tableAccess";
import { isStatus } from "./tableErrors";
import type { OccurredEntity } from "./tableEventStore";
import { invertedHour, invertedMillis, KEY_PART_SEPARATOR } from "./tableKeys";
import {
  CROSS_CHECKS_TABLE,
  DISCREPANCIES_TABLE,
  OCCURRED_ROWS,
  RECORD_ROWS,
  REJECTIONS_TABLE,
  registryPartitions,
} from "./tableLayout";
import {
  type ListPosition,
  type ListSource,
  mergeNewestFirst,
  PAGE_TIMEOUT_MS,
  type PassedRow,
  queryEntities,
  tiesFollow,
} from "./tablePaging";
import type { TableRegistryIndex } from "./tableRegistryIndex";

/** Epoch milliseconds, both ends included. */
export interface TimeWindow {
  from: number;
  to: number;
}

/** Which time a listing's window and order go by: arrival at the bridge, or ACR's timestamp. */
export const LISTING_TIMES = ["arrived", "occurred"] as const;
export type ListingTime = (typeof LISTING_TIMES)[number];

export interface DeliveryFilter {
  by: ListingTime;
  registry?: string;
  repository?: string;
  connectedRegistry?: string;
  action?: string;
  publishState?: PublishState;
  crossCheck?: CrossCheckState;
  artifactKind?: ArtifactKind;
  tagged?: "true" | "false";
}

export interface DiscrepancyFilter {
  registry?: string;
  kind?: DiscrepancyKind;
  state: Discrepancy["state"];
}

/**
 * The filters on a record's columns that its `o|` pointer does not carry (`OccurredEntity`):
 * `listDeliveries`' `changing` conditions, which a listing by ACR's timestamp applies to the
 * records behind the pointers.
 */
const RECORD_ONLY_FILTERS = ["publishState", "crossCheck", "artifactKind", "tagged"] as const;
type RecordOnlyFilter = (typeof RECORD_ONLY_FILTERS)[number];

/**
 * The most records one page by ACR's timestamp reads and leaves out: each is a read of its own,
 * so a filter that rarely matches over a busy window ends its page short (with a token) instead
 * of reading until the request times out.
 */
export const MOST_RECORDS_PASSED = 200;

/** One page of a listing: `after` is where the previous page stopped. */
export interface ListQuery<F> {
  window: TimeWindow;
  filter: F;
  limit: number;
  after?: ListPosition;
}

export interface Page<T> {
  items: T[];
  next?: ListPosition;
}

/** One closed cross-check window. */
export interface CrossCheckRow {
  firstSeenAt: number;
  action: string;
  state: string;
  delayMs?: number;
  /** Matched only after the window had closed with a finding. */
  late: boolean;
}

/** Lists and times as the finding store writes them. */
interface DiscrepancyEntity
  extends Omit<
    Discrepancy,
    "detectedAt" | "webhookEventIds" | "eventGridEventIds" | "regions" | "resolvedAt" | "lateByMs"
  > {
  detectedAt: Date;
  resolvedAt?: Date;
  lateByMs?: number | bigint;
  webhookEventIds: string;
  eventGridEventIds: string;
  regions: string;
}

interface CrossCheckEntity {
  firstSeenAt: Date;
  action: string;
  state: string;
  delayMs?: number | bigint | null;
  late?: boolean;
}

/** What a read bounded by `limit` found. */
export interface Rows<T> {
  rows: T[];
  /** More rows matched than `limit`: the rest were not read. */
  truncated: boolean;
}

export interface TableQueriesOptions {
  tables: (name: string) => TableClient;
  registries: TableRegistryIndex;
}

/**
 * The query API's reads. Every listing is a PartitionKey range over hour partitions, newest first
 * (times are inverted in the keys); without a registry, deliveries are read as one range per
 * registry in `AcrRegistries`, merged.
 */
export class TableQueries {
  private readonly access: TableAccess;
  private readonly events: EventTables;
  private readonly discrepancies: TableClient;
  private readonly crossChecks: TableClient;
  private readonly rejections: TableClient;
  private readonly registries: TableRegistryIndex;

  constructor({ tables, registries }: TableQueriesOptions) {
    this.events = new EventTables(tables);
    this.discrepancies = tables(DISCREPANCIES_TABLE);
    this.crossChecks = tables(CROSS_CHECKS_TABLE);
    this.rejections = tables(REJECTIONS_TABLE);
    this.registries = registries;
    this.access = new TableAccess(
      [...this.events.all, this.discrepancies, this.crossChecks, this.rejections],
      PAGE_TIMEOUT_MS,
    );
  }

  async listDeliveries({
    window,
    filter,
    limit,
    after,
  }: ListQuery<DeliveryFilter>): Promise<Page<DeliveryRecord>> {
    const registries =
      filter.registry === undefined ? await this.registries.list() : [filter.registry];
    const fixed = [
      filter.repository !== undefined && odata`repository eq ${filter.repository}`,
      filter.connectedRegistry !== undefined &&
        odata`connectedRegistry eq ${filter.connectedRegistry}`,
      filter.action !== undefined && odata`action eq ${filter.action}`,
    ];
    const changing = [
      filter.publishState !== undefined && odata`publishState eq ${filter.publishState}`,
      filter.crossCheck !== undefined && odata`crossCheck eq ${filter.crossCheck}`,
      filter.artifactKind !== undefined && odata`artifactKind eq ${filter.artifactKind}`,
      filter.tagged !== undefined && odata`tagged eq ${filter.tagged}`,
    ];
    const kind = filter.by === "arrived" ? RECORD_ROWS : OCCURRED_ROWS;
    const sources = registries
      .flatMap(registryPartitions)
      .map((partitionKey): ListSource<DeliveryEntity> => {
        const resume = after && { after, key: partitionKey };
        const range = timedRowRange(kind, partitionKey, window, resume);
        const table = this.events.of(partitionKey);
        if (filter.by === "arrived") {
          const conditions = [...range, ...fixed, ...changing];
          return { key: partitionKey, entities: this.query(table, conditions, limit) };
        }
        const pointers = this.query<OccurredEntity>(table, [...range, ...fixed], limit);
        return { key: partitionKey, entities: this.recordsBehind(pointers, filter) };
      });
    const page = await mergeNewestFirst(sources, limit, MOST_RECORDS_PASSED);
    return { items: page.items.map(fromDeliveryEntity), next: page.next };
  }

  async listDiscrepancies({
    window,
    filter,
    limit,
    after,
  }: ListQuery<DiscrepancyFilter>): Promise<Page<Discrepancy>> {
    const conditions = [
      ...timeRange("", window, after && { after, key: "" }),
      filter.kind !== undefined && odata`kind eq ${filter.kind}`,
      odata`state eq ${filter.state}`,
      filter.registry !== undefined && odata`registry eq ${filter.registry}`,
    ];
    const source = {
      key: "",
      entities: this.query<DiscrepancyEntity>(this.discrepancies, conditions, limit),
    };
    const page = await mergeNewestFirst([source], limit);
    return { items: page.items.map(fromDiscrepancyEntity), next: page.next };
  }

  /** The closed cross-check windows whose first arrival lies in the window, at most `limit`. */
  async crossCheckRows(
    window: TimeWindow,
    registry?: string,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Rows<CrossCheckRow>> {
    const conditions = [
      ...hourPartitions("", invertedMillis(window.to), window.from),
      odata`firstSeenAt ge ${new Date(window.from)}`,
      odata`firstSeenAt le ${new Date(window.to)}`,
      registry !== undefined && odata`registry eq ${registry}`,
    ];
    const rows: CrossCheckRow[] = [];
    const entities = this.query<CrossCheckEntity>(this.crossChecks, conditions, undefined, [
      "firstSeenAt",
      "action",
      "state",
      "delayMs",
      "late",
    ]);
    for await (const entity of entities) {
      if (rows.length >= limit) return { rows, truncated: true };
      rows.push({
        firstSeenAt: new Date(entity.firstSeenAt).getTime(),
        action: entity.action,
        state: entity.state,
        delayMs: entity.delayMs == null ? undefined : Number(entity.delayMs),
        late: entity.late === true,
      });
    }
    return { rows, truncated: false };
  }

  async countRejections(window: TimeWindow): Promise<number> {
    let count = 0;
    const rows = this.query(this.rejections, timeRange("", window), undefined, ["RowKey"]);
    for await (const _ of rows) count++;
    return count;
  }

  /**
   * The records the pointers name, in the pointers' order (their RowKeys kept, for paging), with
   * the filters on the record's own columns applied: a record they leave out is passed.
   */
  private async *recordsBehind(
    pointers: AsyncIterable<TableEntityResult<OccurredEntity>>,
    filter: DeliveryFilter,
  ): AsyncGenerator<TableEntityResult<DeliveryEntity> | PassedRow> {
    for await (const pointer of pointers) {
      const record = await this.access.call(() =>
        this.events
          .of(pointer.partitionKey)
          .getEntity<DeliveryEntity>(
            pointer.partitionKey,
            pointer.recordRowKey,
            this.access.signal(),
          )
          .catch((error: unknown) => {
            if (isStatus(error, 404)) return undefined;
            throw error;
          }),
      );
      const differs = (column: RecordOnlyFilter) =>
        filter[column] !== undefined && record?.[column] !== filter[column];
      if (!record || RECORD_ONLY_FILTERS.some(differs)) {
        yield { rowKey: pointer.rowKey, passed: true };
        continue;
      }
      yield { ...record, rowKey: pointer.rowKey };
    }
  }

  private query<T extends object>(
    table: TableClient,
    conditions: (string | false)[],
    limit?: number,
    select?: string[],
  ) {
    const filter = conditions.filter((condition) => condition !== false).join(" and ");
    // One more than the page holds tells whether another page follows.
    return queryEntities<T>(this.access, table, { filter, select }, limit && limit + 1);
  }
}

/**
 * Rows `<kind>|<inverted ms>|…` of one partition whose time lies in the window; when resuming,
 * only those after the position, for the source with that `key`.
 */
export function timedRowRange(
  kind: string,
  partitionKey: string,
  window: TimeWindow,
  resume?: { after: ListPosition; key: string },
): string[] {
  const prefix = `${kind}${KEY_PART_SEPARATOR}`;
  return [
    odata`PartitionKey eq ${partitionKey}`,
    odata`RowKey ge ${`${prefix}${invertedMillis(window.to)}`}`,
    ...afterPosition(resume),
    // `}` sorts right after `|`, so every RowKey of the moment `from` is below this bound.
    odata`RowKey lt ${`${prefix}${invertedMillis(window.from)}}`}`,
  ];
}

/**
 * Rows keyed `<inverted ms>|…` in hour partitions `<prefix><inverted hour>` whose time lies in
 * the window; when resuming, only those after the position, for the source with that `key`.
 */
function timeRange(
  prefix: string,
  window: TimeWindow,
  resume?: { after: ListPosition; key: string },
): string[] {
  const newest = invertedMillis(window.to);
  const { rowKey } = resume?.after ?? {};
  return [
    // Resuming, the partitions start at the position's.
    ...hourPartitions(
      prefix,
      rowKey === undefined ? newest : rowKey.slice(0, rowKey.indexOf(KEY_PART_SEPARATOR)),
      window.from,
    ),
    odata`RowKey ge ${newest}`,
    ...afterPosition(resume),
    // `}` sorts right after `|`, so every RowKey of the moment `from` is below this bound.
    odata`RowKey lt ${`${invertedMillis(window.from)}}`}`,
  ];
}

/**
 * The rows after a listing's position. A position comes from a continuation token, which anyone
 * can make: it only narrows the window's range, never widens it or reaches rows of another kind.
 */
function afterPosition(resume?: { after: ListPosition; key: string }): string[] {
  if (!resume) return [];
  const { rowKey } = resume.after;
  return [
    tiesFollow(resume.key, resume.after) ? odata`RowKey ge ${rowKey}` : odata`RowKey gt ${rowKey}`,
  ];
}

/** The hour partition of a moment never sorts below that moment's inverted ms: a tight lower bound. */
function hourPartitions(prefix: string, newestInvertedMs: string, from: number): string[] {
  return [
    odata`PartitionKey ge ${`${prefix}${newestInvertedMs}`}`,
    odata`PartitionKey le ${`${prefix}${invertedHour(from)}`}`,
  ];
}

function fromDiscrepancyEntity(entity: DiscrepancyEntity): Discrepancy {
  return {
    kind: entity.kind,
    logicalKey: entity.logicalKey,
    occurrence: entity.occurrence,
    registry: entity.registry,
    action: entity.action,
    repository: entity.repository,
    tag: entity.tag,
    digest: entity.digest,
    detectedAt: new Date(entity.detectedAt).getTime(),
    webhookEventIds: JSON.parse(entity.webhookEventIds) as string[],
    eventGridEventIds: JSON.parse(entity.eventGridEventIds) as string[],
    regions: JSON.parse(entity.regions) as string[],
    recovered: entity.recovered,
    state: entity.state,
    resolution: entity.resolution,
    resolvedAt: entity.resolvedAt ? new Date(entity.resolvedAt).getTime() : undefined,
    lateByMs: entity.lateByMs == null ? undefined : Number(entity.lateByMs),
  };
}
