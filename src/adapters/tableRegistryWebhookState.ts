import { odata, type TableClient } from "@azure/data-tables";
import type { BackfillCursor, BackfillCursors } from "../backfill/runBackfill";
import type { WebhookRef } from "../core/registryWebhooks";
import { encodeKeyPart } from "../core/tableKeys";
import type { WebhookHealth } from "../core/webhookHealth";
import { TableAccess } from "./tableAccess";
import { isStatus } from "./tableRetry";

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

export class TableBackfillCursors implements BackfillCursors {
  private readonly access: TableAccess;

  constructor(
    private readonly table: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([table], timeoutMs);
  }

  read(ref: WebhookRef): Promise<BackfillCursor | undefined> {
    return this.access.call(async () => {
      const keys = webhookKeys(ref);
      try {
        const entity = await this.table.getEntity<{ json: string }>(
          keys.partitionKey,
          keys.rowKey,
          this.access.signal(),
        );
        return JSON.parse(entity.json) as BackfillCursor;
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    });
  }

  write(ref: WebhookRef, cursor: BackfillCursor): Promise<void> {
    return this.access.call(async () => {
      await this.table.upsertEntity(
        { ...webhookKeys(ref), json: JSON.stringify(cursor) },
        "Replace",
        this.access.signal(),
      );
    });
  }
}

interface HealthEntity {
  partitionKey: string;
  rowKey: string;
  json: string;
}

export class TableWebhookHealth {
  private readonly access: TableAccess;

  constructor(
    private readonly table: TableClient,
    timeoutMs: number,
  ) {
    this.access = new TableAccess([table], timeoutMs);
  }

  read(ref: WebhookRef): Promise<WebhookHealth | undefined> {
    return this.access.call(async () => {
      try {
        const entity = await this.table.getEntity<HealthEntity>(
          HEALTH_PARTITION,
          healthRow(ref),
          this.access.signal(),
        );
        return JSON.parse(entity.json) as WebhookHealth;
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    });
  }

  write(health: WebhookHealth): Promise<void> {
    return this.access.call(async () => {
      const entity: HealthEntity = {
        partitionKey: HEALTH_PARTITION,
        rowKey: healthRow(health.ref),
        json: JSON.stringify(health),
      };
      await this.table.upsertEntity(entity, "Replace", this.access.signal());
    });
  }

  /** Every webhook checked so far (one partition: a few hundred rows at most). */
  list(): Promise<WebhookHealth[]> {
    return this.access.call(async () => {
      const found: WebhookHealth[] = [];
      const entities = this.table.listEntities<HealthEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${HEALTH_PARTITION}` },
      });
      for await (const entity of entities) found.push(JSON.parse(entity.json) as WebhookHealth);
      return found;
    });
  }
}

function healthRow(ref: WebhookRef): string {
  const { partitionKey, rowKey } = webhookKeys(ref);
  return `${partitionKey}|${rowKey}`;
}
