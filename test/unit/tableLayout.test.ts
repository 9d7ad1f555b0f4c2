import { describe, expect, it } from "vitest";
import { invertedMillis } from "../../src/adapters/tableKeys";
import {
  DIGEST_TAG_ROWS,
  EVENT_ID_ROWS,
  EVENT_IDS_TABLE,
  EVENT_SHARD_TABLES,
  eventIdKeys,
  eventPartition,
  eventStoreTableOf,
  idDirectoryKeys,
  logicalKeys,
  OCCURRED_ROWS,
  occurredKeys,
  PENDING_ROWS,
  pendingKeys,
  RECORD_ROWS,
  recordKeys,
  registryIndexKeys,
  registryPartitions,
  SHARDS,
  TAG_ROWS,
  WINDOW_ROWS,
} from "../../src/adapters/tableLayout";
import { EVENT_NAME_LIMITS, validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import type { DeliveryRecord } from "../../src/core/deliveryRecord";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { resolveRegistry } from "../../src/core/registryIdentity";

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

/** Azure Table Storage's limit on a PartitionKey or a RowKey, in characters. */
const AZURE_KEY_CHARS = 512;

/** Text that percent-encodes to exactly `encodedLength` characters ("é" encodes to 6). */
function encodingTo(encodedLength: number): string {
  const wide = Math.floor(encodedLength / 6);
  return "é".repeat(wide) + "a".repeat(encodedLength - wide * 6);
}

function payloadAtBounds(overEventId = 0, overLoginServer = 0) {
  return {
    id: encodingTo(EVENT_NAME_LIMITS.encodedEventId + overEventId),
    timestamp: `${EVENT_NAME_LIMITS.lastYear}-12-31T23:59:59.9999999Z`,
    action: "push",
    target: { repository: "team/app", tag: "v1", digest: "sha256:00" },
    request: { host: encodingTo(EVENT_NAME_LIMITS.encodedLoginServer + overLoginServer) },
  };
}

describe("the keys of an event at the bounds the bridge accepts", () => {
  it("are accepted by validation at the bounds, and refused one character past each", () => {
    expect(validateAcrWebhookPayload(payloadAtBounds()).ok).toBe(true);
    expect(validateAcrWebhookPayload(payloadAtBounds(1, 0)).ok).toBe(false);
    expect(validateAcrWebhookPayload(payloadAtBounds(0, 1)).ok).toBe(false);
    const pastLastYear = {
      ...payloadAtBounds(),
      timestamp: `${EVENT_NAME_LIMITS.lastYear + 1}-01-01T00:00:00Z`,
    };
    expect(validateAcrWebhookPayload(pastLastYear).ok).toBe(false);
  });

  it("keep the order of times up to the end of the last year accepted (none share a clamped key)", () => {
    const last = Date.UTC(EVENT_NAME_LIMITS.lastYear, 11, 31, 23, 59, 59, 999);
    expect(invertedMillis(last)).not.toBe(invertedMillis(last + 1));
    expect(invertedMillis(last) > invertedMillis(last + 1)).toBe(true);
  });

  it("fit Azure's 1 KiB keys (512 characters of UTF-16), for every origin", () => {
    const validation = validateAcrWebhookPayload(payloadAtBounds());
    if (!validation.ok) throw new Error("the payload at the bounds must be valid");
    const payload = validation.value;
    const webhookEvent = registryEventFromWebhook(payload, {
      registry: resolveRegistry(payload, undefined, undefined),
      receivedAt: Date.UTC(EVENT_NAME_LIMITS.lastYear, 11, 31),
      fallbackEventId: "unused",
    });
    for (const origin of ["webhook", "acr-log", "eventgrid"] as const) {
      const event = { ...webhookEvent, origin };
      const record = { event, receivedAt: event.occurredAt } as DeliveryRecord;
      const keys = [
        recordKeys(record),
        occurredKeys(record),
        pendingKeys(record),
        eventIdKeys(event),
        idDirectoryKeys(event.eventId, origin),
        registryIndexKeys(event.registry),
      ];
      for (const { partitionKey, rowKey } of keys) {
        expect(partitionKey.length).toBeLessThanOrEqual(AZURE_KEY_CHARS);
        expect(rowKey.length).toBeLessThanOrEqual(AZURE_KEY_CHARS);
      }
    }
  });
});
