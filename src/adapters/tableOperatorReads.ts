import { odata, type TableClient } from "@azure/data-tables";
import type { PublishState } from "../core/deliveryRecord";
import type { EventOrigin } from "../core/registryEvent";
import type { ReplayPage, ReplaySelection, ReplaySource } from "../core/replay";
import { EventTables } from "./eventTables";
import { TableAccess } from "./tableAccess";
import { invertedHour, invertedMillis, KEY_PART_SEPARATOR } from "./tableKeys";
import { CROSS_CHECKS_TABLE, RECORD_ROWS, registryPartitions } from "./tableLayout";
import { queryEntities } from "./tablePaging";
import type { TableQueries, TimeWindow } from "./tableQueries";
import type { TableRegistryIndex } from "./tableRegistryIndex";

/** One delivery reduced to what the console's charts and the source watch count. */
export interface DeliveryRow {
  registry: string;
  action: string;
  origin: EventOrigin;
  region?: string;
  occurredAt: number;
  receivedAt: number;
  publishState: PublishState;
}

/** One closed cross-check window. */
export interface CrossCheckPoint {
  firstSeenAt: number;
  action: string;
  state: string;
  delayMs?: number;
}

export interface Rows<T> {
  rows: T[];
  /** More rows matched than `limit`: the rest were not read. */
  truncated: boolean;
}

/**
 * The operator features' reads of the bridge's tables (console series, source watch, replay), in
 * one place with a narrow interface, so a change of the table layout re-points only this module.
 * Listings reuse the query API's reads; the series read only the few columns they count.
 */
export interface OperatorReads extends ReplaySource {
  deliveryRows(
    window: TimeWindow,
    registry: string | undefined,
    limit: number,
  ): Promise<Rows<DeliveryRow>>;
  crossCheckPoints(
    window: TimeWindow,
    registry: string | undefined,
    limit: number,
  ): Promise<Rows<CrossCheckPoint>>;
}

interface DeliveryRowEntity {
  registry: string;
  action: string;
  origin: EventOrigin;
  region?: string;
  occurredAt: Date;
  receivedAt: Date;
  publishState: PublishState;
}

interface CrossCheckEntity {
  firstSeenAt: Date;
  action: string;
  state: string;
  delayMs?: number | bigint | null;
}

/** Table Storage ends a query page after 5 s with a continuation, so a page never needs longer. */
const PAGE_TIMEOUT_MS = 6000;

export class TableOperatorReads implements OperatorReads {
  private readonly access: TableAccess;
  private readonly events: EventTables;
  private readonly crossChecks: TableClient;

  constructor(
    private readonly options: {
      tables: (name: string) => TableClient;
      registries: TableRegistryIndex;
      queries: Pick<TableQueries, "listDeliveries">;
    },
  ) {
    this.events = new EventTables(options.tables);
    this.crossChecks = options.tables(CROSS_CHECKS_TABLE);
    this.access = new TableAccess([...this.events.all, this.crossChecks], PAGE_TIMEOUT_MS);
  }

  /** The query API's delivery listing (newest arrival first); the cursor is its position. */
  async page(selection: ReplaySelection, limit: number, after?: string): Promise<ReplayPage> {
    const page = await this.options.queries.listDeliveries({
      window: { from: selection.from, to: selection.to },
      filter: {
        by: "arrived",
        registry: selection.registry,
        repository: selection.repository,
        action: selection.action,
      },
      limit,
      after: after === undefined ? undefined : JSON.parse(after),
    });
    return { records: page.items, next: page.next && JSON.stringify(page.next) };
  }

  async deliveryRows(
    window: TimeWindow,
    registry: string | undefined,
    limit: number,
  ): Promise<Rows<DeliveryRow>> {
    const registries = registry === undefined ? await this.options.registries.list() : [registry];
    const rows: DeliveryRow[] = [];
    let truncated = false;
    // Records by arrival: what the bridge saw in the window, whatever ACR's timestamps say.
    const prefix = `${RECORD_ROWS}${KEY_PART_SEPARATOR}`;
    for (const partitionKey of registries.flatMap(registryPartitions)) {
      const filter = [
        odata`PartitionKey eq ${partitionKey}`,
        odata`RowKey ge ${`${prefix}${invertedMillis(window.to)}`}`,
        odata`RowKey lt ${`${prefix}${invertedMillis(window.from)}}`}`,
      ].join(" and ");
      const select = [
        "registry",
        "action",
        "origin",
        "region",
        "occurredAt",
        "receivedAt",
        "publishState",
      ];
      for await (const entity of queryEntities<DeliveryRowEntity>(
        this.access,
        this.events.of(partitionKey),
        {
          filter,
          select,
        },
      )) {
        if (rows.length >= limit) {
          truncated = true;
          break;
        }
        rows.push({
          registry: entity.registry,
          action: entity.action,
          origin: entity.origin,
          region: entity.region ?? undefined,
          occurredAt: new Date(entity.occurredAt).getTime(),
          receivedAt: new Date(entity.receivedAt).getTime(),
          publishState: entity.publishState,
        });
      }
    }
    return { rows, truncated };
  }

  async crossCheckPoints(
    window: TimeWindow,
    registry: string | undefined,
    limit: number,
  ): Promise<Rows<CrossCheckPoint>> {
    const filter = [
      odata`PartitionKey ge ${invertedHour(window.to)}`,
      odata`PartitionKey le ${invertedHour(window.from)}`,
      odata`firstSeenAt ge ${new Date(window.from)}`,
      odata`firstSeenAt le ${new Date(window.to)}`,
      registry !== undefined && odata`registry eq ${registry}`,
    ]
      .filter((condition) => condition !== false)
      .join(" and ");
    const rows: CrossCheckPoint[] = [];
    const select = ["firstSeenAt", "action", "state", "delayMs"];
    for await (const entity of queryEntities<CrossCheckEntity>(this.access, this.crossChecks, {
      filter,
      select,
    })) {
      if (rows.length >= limit) return { rows, truncated: true };
      rows.push({
        firstSeenAt: new Date(entity.firstSeenAt).getTime(),
        action: entity.action,
        state: entity.state,
        delayMs: entity.delayMs == null ? undefined : Number(entity.delayMs),
      });
    }
    return { rows, truncated: false };
  }
}
