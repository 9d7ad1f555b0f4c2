import { describe, expect, it } from "vitest";
import {
  DIGEST_TAG_ROWS,
  EVENT_ID_ROWS,
  EVENT_IDS_TABLE,
  EVENT_SHARD_TABLES,
  eventPartition,
  eventStoreTableOf,
  idDirectoryKeys,
  logicalKeys,
  OCCURRED_ROWS,
  PENDING_ROWS,
  RECORD_ROWS,
  registryPartitions,
  SHARDS,
  TAG_ROWS,
  WINDOW_ROWS,
} from "../../src/adapters/tableLayout";

describe("the event store's tables", () => {
  it("puts each shard of a registry in its own table, the same for every registry", () => {
    expect(EVENT_SHARD_TABLES).toHaveLength(SHARDS);
    for (const registry of ["contoso.azurecr.io", "a|b%2F.azurecr.io", "r"]) {
      expect(registryPartitions(registry).map(eventStoreTableOf)).toEqual(EVENT_SHARD_TABLES);
    }
  });

  it("keeps a repository's events in one shard's table, spread across shards by repository", () => {
    const tables = new Set<string>();
    for (let index = 0; index < 64; index++) {
      const partition = eventPartition("contoso.azurecr.io", `team${index}/api`);
      expect(registryPartitions("contoso.azurecr.io")).toContain(partition);
      tables.add(eventStoreTableOf(partition));
    }
    expect([...tables].sort()).toEqual([...EVENT_SHARD_TABLES].sort());
  });

  it("keeps the id directory apart, whatever the id", () => {
    for (const id of ["", "s1", "x|s3", "ids"]) {
      expect(eventStoreTableOf(idDirectoryKeys(id, "eventgrid").partitionKey)).toBe(
        EVENT_IDS_TABLE,
      );
    }
  });

  it("refuses a partition no table of the event store holds", () => {
    for (const partition of ["", "contoso.azurecr.io", `contoso.azurecr.io|s${SHARDS}`]) {
      expect(() => eventStoreTableOf(partition)).toThrow(RangeError);
    }
  });
});

describe("the kinds of rows of a shard", () => {
  it("put pending markers right before windows, so the reconcile reads both as one range", () => {
    const logicalKind = logicalKeys({
      key: "k",
      registry: "r",
      repository: "a",
      digest: "sha256:0",
    }).rowKey.split("|")[0];
    const kinds = [
      RECORD_ROWS,
      OCCURRED_ROWS,
      EVENT_ID_ROWS,
      logicalKind,
      WINDOW_ROWS,
      PENDING_ROWS,
      TAG_ROWS,
      DIGEST_TAG_ROWS,
    ];
    expect(new Set(kinds).size).toBe(kinds.length);
    const sorted = [...kinds].sort();
    expect(sorted.indexOf(WINDOW_ROWS)).toBe(sorted.indexOf(PENDING_ROWS) + 1);
  });
});
