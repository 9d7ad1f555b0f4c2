import type { TableClient } from "@azure/data-tables";
import type { OutageLog } from "../core/ports";
import type { Result } from "../core/result";
import type { StoreOutage } from "../core/storeOutage";
import type { Versioned } from "../core/writePlan";
import { TableAccess } from "./tableAccess";
import { writeAtVersion } from "./tableAtVersion";
import { readIfExists } from "./tableIfExists";

/**
 * Table `AcrOutages`, written by the reconcile only: PartitionKey `outages`, RowKey `kept`, the
 * outages as JSON in `outages` (a few dozen at most), read and written whole at its etag.
 */
const KEYS = { partitionKey: "outages", rowKey: "kept" };

interface OutagesEntity {
  outages: string;
}

export class TableOutageLog implements OutageLog {
  private readonly access: TableAccess;

  constructor(
    private readonly table: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([table], timeoutMs);
  }

  read(): Promise<Versioned<StoreOutage[]> | undefined> {
    return readIfExists(async () => {
      const row = await this.table.getEntity<OutagesEntity>(
        KEYS.partitionKey,
        KEYS.rowKey,
        this.access.signal(),
      );
      return { value: JSON.parse(row.outages) as StoreOutage[], version: row.etag };
    }, undefined);
  }

  write(
    outages: readonly StoreOutage[],
    version: string | undefined,
  ): Promise<Result<string, "changed">> {
    const entity = { ...KEYS, outages: JSON.stringify(outages) };
    return writeAtVersion(this.table, this.access, entity, version);
  }
}
