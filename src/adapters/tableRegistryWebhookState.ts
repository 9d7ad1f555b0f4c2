import { odata, type TableClient } from "@azure/data-tables";
import type { BackfillCursor, BackfillCursors } from "../backfill/runBackfill";
import type { WebhookRef } from "../core/registryWebhooks";
import type { WebhookHealth } from "../core/webhookHealth";
import type { WebhookHealthStore } from "../webhookHealth/checkWebhookHealth";
import { TableAccess } from "./tableAccess";
import { isStatus } from "./tableErrors";
import { encodeKeyPart } from "./tableKeys";
import type { EntityKeys } from "./tableLayout";

/**
 * Table `AcrBackfillCursors`: PartitionKey = registry resource id, RowKey = webhook name (both
 * lower case, encoded): how far the webhook's delivery log has been read (JSON).
 * Table `AcrWebhookHealth`: PartitionKey `webhooks`, RowKey `<registry id>|<webhook name>`: the
 * last verdict on each webhook and its outstanding ping, for the next check and `/api/health`.
 */
const HEALTH_PARTITION = "webhooks";

function webhookKeys(ref: WebhookRef) {
  return {
    partitionKey: encodeKeyPart(ref.registryId.toLowerCase()),
    rowKey: encodeKeyPart(ref.name.toLowerCase()),
  };
}

/** One JSON document per entity (column `json`), read and replaced whole. */
class JsonRows<T> {
  readonly access: TableAccess;

  constructor(
    readonly table: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([table], timeoutMs);
  }

  read(keys: EntityKeys): Promise<T | undefined> {
    return this.access.call(async () => {
      try {
        const entity = await this.table.getEntity<JsonEntity>(
          keys.partitionKey,
          keys.rowKey,
          this.access.signal(),
        );
        return JSON.parse(entity.json) as T;
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

export class TableWebhookHealth implements WebhookHealthStore {
  private readonly rows: JsonRows<WebhookHealth>;

  constructor(table: TableClient, timeoutMs: number) {
    this.rows = new JsonRows(table, timeoutMs);
  }

  read(ref: WebhookRef): Promise<WebhookHealth | undefined> {
    return this.rows.read(healthKeys(ref));
  }

  write(health: WebhookHealth): Promise<void> {
    return this.rows.write(healthKeys(health.ref), health);
  }

  remove(ref: WebhookRef): Promise<void> {
    return this.rows.remove(healthKeys(ref));
  }

  /** Every webhook checked so far (one partition: a few hundred rows at most). */
  list(): Promise<WebhookHealth[]> {
    const { access, table } = this.rows;
    return access.call(async () => {
      const found: WebhookHealth[] = [];
      const entities = table.listEntities<JsonEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${HEALTH_PARTITION}` },
        ...access.signal(),
      });
      for await (const entity of entities) found.push(JSON.parse(entity.json) as WebhookHealth);
      return found;
    });
  }
}

function healthKeys(ref: WebhookRef): EntityKeys {
  const { partitionKey, rowKey } = webhookKeys(ref);
  return { partitionKey: HEALTH_PARTITION, rowKey: `${partitionKey}|${rowKey}` };
}
