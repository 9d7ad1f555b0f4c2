import { odata, type TableClient } from "@azure/data-tables";
import type { BackfillCursor, BackfillCursors } from "../backfill/runBackfill";
import { registryKey, type WebhookRef, webhookKey } from "../core/registryWebhooks";
import type { RegistryHealth, WebhookHealth } from "../core/webhookHealth";
import type { FindingWrite, Versioned } from "../core/writePlan";
import type { RegistryHealthStore, WebhookHealthStore } from "../webhookHealth/checkWebhookHealth";
import { TableAccess } from "./tableAccess";
import { writeAtVersion } from "./tableAtVersion";
import { isStatus } from "./tableErrors";
import { encodeKeyPart } from "./tableKeys";
import type { EntityKeys } from "./tableLayout";

/**
 * Table `AcrBackfillCursors`: PartitionKey = registry resource id, RowKey = webhook name (both
 * lower case, encoded): how far the webhook's delivery log has been read (JSON).
 * Table `AcrWebhookHealth`: PartitionKey `webhooks`, RowKey `<registry id>|<webhook name>`: the
 * last verdict on each webhook and its outstanding ping, for the next check and `/api/health`;
 * written at the etag it was read at;
 * PartitionKey `registries`, RowKey `<registry id>`: the last verdict on each registry's webhooks
 * as a whole and whether ARM answers for it, written at the etag it was read at.
 */
const HEALTH_PARTITION = "webhooks";
const REGISTRY_PARTITION = "registries";

function webhookKeys(ref: WebhookRef): EntityKeys {
  const { registry, name } = webhookKey(ref);
  return { partitionKey: encodeKeyPart(registry), rowKey: encodeKeyPart(name) };
}

/** One JSON document per entity (column `json`), read and replaced whole. */
class JsonRows<T> {
  private readonly access: TableAccess;

  constructor(
    private readonly table: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([table], timeoutMs);
  }

  async read(keys: EntityKeys): Promise<T | undefined> {
    return (await this.readVersioned(keys))?.value;
  }

  readVersioned(keys: EntityKeys): Promise<Versioned<T> | undefined> {
    return this.access.call(async () => {
      try {
        const entity = await this.table.getEntity<JsonEntity>(
          keys.partitionKey,
          keys.rowKey,
          this.access.signal(),
        );
        if (entity.etag === undefined) throw new Error("Table Storage returned no etag");
        return { value: JSON.parse(entity.json) as T, version: entity.etag };
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    });
  }

  remove(keys: EntityKeys): Promise<void> {
    return this.access.call(async () => {
      try {
        await this.table.deleteEntity(keys.partitionKey, keys.rowKey, this.access.signal());
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    });
  }

  writeAtVersion(keys: EntityKeys, value: T, version: string | undefined): Promise<FindingWrite> {
    const entity: JsonEntity = { ...keys, json: JSON.stringify(value) };
    return writeAtVersion(this.table, this.access, entity, version);
  }

  /** Every row of one partition (a few hundred at most). */
  list(partitionKey: string): Promise<T[]> {
    return this.access.call(async () => {
      const found: T[] = [];
      const entities = this.table.listEntities<JsonEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
        ...this.access.signal(),
      });
      for await (const entity of entities) found.push(JSON.parse(entity.json) as T);
      return found;
    });
  }

  write(keys: EntityKeys, value: T): Promise<void> {
    return this.access.call(async () => {
      const entity: JsonEntity = { ...keys, json: JSON.stringify(value) };
      await this.table.upsertEntity(entity, "Replace", this.access.signal());
    });
  }
}

interface JsonEntity extends EntityKeys {
  json: string;
}

export class TableBackfillCursors implements BackfillCursors {
  private readonly rows: JsonRows<BackfillCursor>;

  constructor(table: TableClient, timeoutMs: number) {
    this.rows = new JsonRows(table, timeoutMs);
  }

  read(ref: WebhookRef): Promise<BackfillCursor | undefined> {
    return this.rows.read(webhookKeys(ref));
  }

  write(ref: WebhookRef, cursor: BackfillCursor): Promise<void> {
    return this.rows.write(webhookKeys(ref), cursor);
  }
}

/** Verdicts kept as JSON rows of one partition, each written at the etag it was read at. */
class KeptVerdicts<T, K> {
  private readonly rows: JsonRows<T>;

  constructor(
    table: TableClient,
    timeoutMs: number,
    private readonly partitionKey: string,
    private readonly keysOf: (key: K) => EntityKeys,
    private readonly keyOf: (verdict: T) => K,
  ) {
    this.rows = new JsonRows(table, timeoutMs);
  }

  read(key: K): Promise<Versioned<T> | undefined> {
    return this.rows.readVersioned(this.keysOf(key));
  }

  write(verdict: T, version: string | undefined): Promise<FindingWrite> {
    return this.rows.writeAtVersion(this.keysOf(this.keyOf(verdict)), verdict, version);
  }

  remove(key: K): Promise<void> {
    return this.rows.remove(this.keysOf(key));
  }

  /** Every verdict kept so far. */
  list(): Promise<T[]> {
    return this.rows.list(this.partitionKey);
  }
}

export class TableWebhookHealth
  extends KeptVerdicts<WebhookHealth, WebhookRef>
  implements WebhookHealthStore
{
  constructor(table: TableClient, timeoutMs: number) {
    super(table, timeoutMs, HEALTH_PARTITION, healthKeys, (health) => health.ref);
  }
}

export class TableRegistryHealth
  extends KeptVerdicts<RegistryHealth, string>
  implements RegistryHealthStore
{
  constructor(table: TableClient, timeoutMs: number) {
    super(table, timeoutMs, REGISTRY_PARTITION, registryKeys, (health) => health.registryId);
  }
}

function registryKeys(registryId: string): EntityKeys {
  return { partitionKey: REGISTRY_PARTITION, rowKey: encodeKeyPart(registryKey(registryId)) };
}

function healthKeys(ref: WebhookRef): EntityKeys {
  const { partitionKey, rowKey } = webhookKeys(ref);
  return { partitionKey: HEALTH_PARTITION, rowKey: `${partitionKey}|${rowKey}` };
}
