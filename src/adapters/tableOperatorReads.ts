import type { TableClient } from "@azure/data-tables";
import type { PublishState } from "../core/deliveryRecord";
import type { EventOrigin } from "../core/registryEvent";
import type { ReplayPage, ReplaySelection, ReplaySource } from "../core/replay";
import { EventTables } from "./eventTables";
import { TableAccess } from "./tableAccess";
import { RECORD_ROWS, registryPartitions } from "./tableLayout";
import { PAGE_TIMEOUT_MS, queryEntities } from "./tablePaging";
import {
  type CrossCheckRow,
  type Rows,
  type TableQueries,
  type TimeWindow,
  timedRowRange,
} from "./tableQueries";
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
  ): Promise<Rows<CrossCheckRow>>;
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

export class TableOperatorReads implements OperatorReads {
  private readonly access: TableAccess;
  private readonly events: EventTables;

  constructor(
    private readonly options: {
      tables: (name: string) => TableClient;
      registries: TableRegistryIndex;
      queries: Pick<TableQueries, "listDeliveries" | "crossCheckRows">;
    },
  ) {
    this.events = new EventTables(options.tables);
    this.access = new TableAccess(this.events.all, PAGE_TIMEOUT_MS);
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
    for (const partitionKey of registries.flatMap(registryPartitions)) {
      const filter = timedRowRange(RECORD_ROWS, partitionKey, window).join(" and ");
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

  crossCheckPoints(
    window: TimeWindow,
    registry: string | undefined,
    limit: number,
  ): Promise<Rows<CrossCheckRow>> {
    return this.options.queries.crossCheckRows(window, registry, limit);
  }
}
