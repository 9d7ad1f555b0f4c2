import { TableClient, type TableTransaction } from "@azure/data-tables";
import { benchPayload } from "../support/webhookLoad";

export interface AzuriteCeiling {
  /** createEntity, 50 in flight, from this process. */
  singleInsertsPerS: number;
  /** Transactions of 100 creates, 4 in flight. */
  batchEntitiesPerS: number;
}

const SINGLE_CONCURRENCY = 50;
const BATCH_CONCURRENCY = 4;
const BATCH_SIZE = 100;

/**
 * Azurite's own ceilings on this machine, with entities the size of a delivery record's payload:
 * what no bridge on top of it can beat with single inserts, and what batching buys.
 */
export async function measureAzuriteCeiling(
  connection: string,
  durationMs: number,
): Promise<AzuriteCeiling> {
  const payload = JSON.stringify(benchPayload(0, "push"));
  const single = await table(connection, "BenchCeilingSingle");
  const batch = await table(connection, "BenchCeilingBatch");

  let inserted = 0;
  let started = performance.now();
  let endsAt = started + durationMs;
  await Promise.all(
    Array.from({ length: SINGLE_CONCURRENCY }, async (_, worker) => {
      for (let row = 0; performance.now() < endsAt; row++) {
        await single.createEntity({ partitionKey: `w${worker}`, rowKey: `r${row}`, payload });
        inserted += 1;
      }
    }),
  );
  const singleInsertsPerS = inserted / ((performance.now() - started) / 1000);

  inserted = 0;
  started = performance.now();
  endsAt = started + durationMs;
  await Promise.all(
    Array.from({ length: BATCH_CONCURRENCY }, async (_, worker) => {
      for (let round = 0; performance.now() < endsAt; round++) {
        const actions: TableTransaction["actions"] = Array.from({ length: BATCH_SIZE }, (_, i) => [
          "create",
          { partitionKey: `w${worker}`, rowKey: `r${round}-${i}`, payload },
        ]);
        await batch.submitTransaction(actions);
        inserted += BATCH_SIZE;
      }
    }),
  );
  const batchEntitiesPerS = inserted / ((performance.now() - started) / 1000);
  return { singleInsertsPerS, batchEntitiesPerS };
}

async function table(connection: string, name: string): Promise<TableClient> {
  const client = TableClient.fromConnectionString(connection, name, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  return client;
}
