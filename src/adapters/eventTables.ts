import type { TableClient, TableEntityResult } from "@azure/data-tables";
import { EVENT_STORE_TABLES, eventStoreTableOf } from "./tableLayout";

/** The event store's tables (see tableLayout.ts): each one's client, and which holds a partition. */
export class EventTables {
  private readonly byName: ReadonlyMap<string, TableClient>;

  constructor(tables: (name: string) => TableClient) {
    this.byName = new Map(EVENT_STORE_TABLES.map((name) => [name, tables(name)]));
  }

  get all(): TableClient[] {
    return [...this.byName.values()];
  }

  of(partitionKey: string): TableClient {
    const table = this.byName.get(eventStoreTableOf(partitionKey));
    if (!table) throw new RangeError(`no event store table holds ${partitionKey}`);
    return table;
  }

  /** The rows of every table that match the filter: a scan, for tools and tests. */
  async *scan<T extends object>(
    filter?: string,
    select?: string[],
  ): AsyncGenerator<TableEntityResult<T>> {
    for (const table of this.byName.values()) {
      yield* table.listEntities<T>({ queryOptions: { filter, select } });
    }
  }
}
