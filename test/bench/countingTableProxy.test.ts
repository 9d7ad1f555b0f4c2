import { randomUUID } from "node:crypto";
import { TableClient, type TableTransaction } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type CountingTableProxy,
  countsBetween,
  startCountingTableProxy,
} from "../../bench/perf/countingTableProxy";

const tableName = () => `Proxy${randomUUID().replace(/-/g, "").slice(0, 12)}`;
const client = (connection: string, table: string) =>
  TableClient.fromConnectionString(connection, table, { allowInsecureConnection: true });

describe("the benchmark's counting Table Storage proxy, used by the real @azure/data-tables client", () => {
  let proxy: CountingTableProxy;

  beforeAll(async () => {
    proxy = await startCountingTableProxy(inject("tablesConnection"));
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  it("forwards every call to Azurite and counts each round trip once, a transaction as one", async () => {
    const table = tableName();
    const proxied = client(proxy.connectionString, table);
    const start = proxy.counts();

    await proxied.createTable();
    await proxied.createEntity({ partitionKey: "p", rowKey: "single", value: 1 });
    const transaction: TableTransaction["actions"] = ["a", "b", "c"].map((rowKey) => [
      "create",
      { partitionKey: "p", rowKey, value: 2 },
    ]);
    await proxied.submitTransaction(transaction);
    const read = await proxied.getEntity<{ value: number }>("p", "single");
    const listed: string[] = [];
    for await (const entity of proxied.listEntities()) listed.push(entity.rowKey ?? "");

    expect(read.value).toBe(1);
    expect(listed.sort()).toEqual(["a", "b", "c", "single"]);
    expect(countsBetween(start, proxy.counts())).toEqual({
      total: 5,
      byTable: { Tables: 1, [table]: 3, $batch: 1 },
    });
    expect(proxy.inFlight()).toBe(0);

    // What went through the proxy is in Azurite itself.
    const direct: string[] = [];
    for await (const entity of client(inject("tablesConnection"), table).listEntities()) {
      direct.push(entity.rowKey ?? "");
    }
    expect(direct.sort()).toEqual(["a", "b", "c", "single"]);
  });

  it("passes Azurite's errors through unchanged, and counts them", async () => {
    const proxied = client(proxy.connectionString, tableName());
    const start = proxy.counts();
    await proxied.createTable();
    await proxied.createEntity({ partitionKey: "p", rowKey: "r" });

    const duplicate = await proxied.createEntity({ partitionKey: "p", rowKey: "r" }).then(
      () => undefined,
      (error: { statusCode?: number }) => error.statusCode,
    );
    expect(duplicate).toBe(409);
    expect(countsBetween(start, proxy.counts()).total).toBe(3);
  });
});
