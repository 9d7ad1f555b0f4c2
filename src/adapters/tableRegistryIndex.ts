import { odata, type TableClient } from "@azure/data-tables";
import { TableAccess } from "./tableAccess";
import { decodeKeyPart } from "./tableKeys";
import { REGISTRIES_PARTITION, registryIndexKeys } from "./tableLayout";

/**
 * The registries with recorded deliveries (table `AcrRegistries`). Each process writes a registry
 * once: after that the in-memory set answers, so a delivery costs no extra call.
 */
export class TableRegistryIndex {
  private readonly access: TableAccess;
  private readonly noted = new Set<string>();

  constructor(
    private readonly registries: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([registries], timeoutMs);
  }

  async note(registry: string): Promise<void> {
    if (this.noted.has(registry)) return;
    await this.access.call(() =>
      this.registries.upsertEntity(registryIndexKeys(registry), "Replace", this.access.signal()),
    );
    this.noted.add(registry);
  }

  /** Storage lost what was written (its tables were gone): each registry is written again. */
  forget(): void {
    this.noted.clear();
  }

  /** One small partition: also the health check's proof that Table Storage answers. */
  list(): Promise<string[]> {
    return this.access.call(async () => {
      const registries: string[] = [];
      const rows = this.registries.listEntities({
        queryOptions: {
          filter: odata`PartitionKey eq ${REGISTRIES_PARTITION}`,
          select: ["RowKey"],
        },
        ...this.access.signal(),
      });
      for await (const row of rows) registries.push(decodeKeyPart(String(row.rowKey)));
      return registries;
    });
  }
}
