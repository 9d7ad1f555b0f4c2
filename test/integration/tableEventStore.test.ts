import { randomUUID } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createTableClient } from "../../src/adapters/clients";
import { TableEventStore } from "../../src/adapters/tableEventStore";
import {
  DELIVERIES_TABLE,
  deliveryKeys,
  PENDING_TABLE,
  pendingKeys,
} from "../../src/adapters/tableLayout";
import type { NewDelivery } from "../../src/core/deliveryRecord";
import { DependencyUnavailableError } from "../../src/core/ports";
import type { RegistryEvent } from "../../src/core/registryEvent";

const connection = {
  kind: "connection-string" as const,
  connectionString: inject("tablesConnection"),
};

function storeFor(connectionString = connection.connectionString): TableEventStore {
  const tables = { kind: "connection-string" as const, connectionString };
  return new TableEventStore({
    deliveries: createTableClient(tables, DELIVERIES_TABLE),
    pending: createTableClient(tables, PENDING_TABLE),
    timeoutMs: 2000,
  });
}

function delivery(
  overrides: Partial<RegistryEvent> = {},
  topic: string | null = "acr-push",
): NewDelivery {
  const eventId = overrides.eventId ?? randomUUID();
  const timestamp = overrides.timestamp ?? "2026-11-24T10:15:30.123456789Z";
  const event: RegistryEvent = {
    eventId,
    action: "push",
    timestamp,
    occurredAt: Date.parse(timestamp),
    registry: "contoso.azurecr.io",
    repository: "team/api",
    tag: "v1",
    digest: "sha256:abc",
    mediaType: "application/vnd.oci.image.index.v1+json",
    origin: "webhook",
    payload: {
      id: eventId,
      timestamp,
      action: "push",
      target: { repository: "team/api" },
      extra: 1,
    },
    ...overrides,
  };
  return {
    event,
    route: topic ? { kind: "topic", topic } : { kind: "not-routed", reason: "ping" },
    receivedAt: Date.now(),
    request: {
      method: "POST",
      uri: "http://localhost/api/acr/webhook",
      headers: { authorization: "******" },
    },
  };
}

describe("TableEventStore on Azurite", () => {
  const store = storeFor();
  let deliveries: TableClient;
  let pending: TableClient;

  beforeAll(async () => {
    deliveries = createTableClient(connection, DELIVERIES_TABLE);
    pending = createTableClient(connection, PENDING_TABLE);
  });

  it("creates the tables and records a delivery with its original payload and timestamp", async () => {
    const input = delivery();
    const outcome = await store.recordDelivery(input);
    expect(outcome.kind).toBe("created");
    const keys = deliveryKeys(input.event);
    const entity = await deliveries.getEntity<Record<string, unknown>>(
      keys.partitionKey,
      keys.rowKey,
    );
    expect(entity.eventTimestamp).toBe("2026-11-24T10:15:30.123456789Z");
    expect(entity.publishState).toBe("pending");
    expect(entity.deliveryCount).toBe(1);
    expect(JSON.parse(String(entity.payload0))).toEqual(input.event.payload);
  });

  it("encodes repository-like characters in keys that Azure forbids", async () => {
    const input = delivery({ eventId: "id/with#odd?chars\\and é", registry: "weird/registry#x" });
    expect((await store.recordDelivery(input)).kind).toBe("created");
    expect((await store.recordDelivery(input)).kind).toBe("duplicate");
  });

  it("keeps one record for repeated deliveries and counts them, concurrently too", async () => {
    const input = delivery();
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => store.recordDelivery({ ...input, receivedAt: Date.now() })),
    );
    expect(outcomes.filter((outcome) => outcome.kind === "created")).toHaveLength(1);
    const keys = deliveryKeys(input.event);
    const entity = await deliveries.getEntity<Record<string, unknown>>(
      keys.partitionKey,
      keys.rowKey,
    );
    expect(entity.deliveryCount).toBe(10);
    expect(JSON.parse(String(entity.arrivals))).toHaveLength(10);
  });

  it("stores payloads larger than one Table string property and reads them back whole", async () => {
    const big = "x".repeat(70_000);
    const input = delivery();
    input.event.payload = { ...input.event.payload, big };
    await store.recordDelivery(input);
    const duplicate = await store.recordDelivery(input);
    expect(duplicate.record.event.payload.big).toBe(big);
  });

  it("lists a pending record until it is marked published, then forgets it", async () => {
    const input = delivery();
    await store.recordDelivery(input);
    const marker = pendingKeys(deliveryKeys(input.event), input.event.occurredAt);
    await expect(pending.getEntity(marker.partitionKey, marker.rowKey)).resolves.toBeDefined();
    await store.markPublishFailed(input.event, "ServiceBusError: down", 1_700_000_000_000);
    const listed = (await store.listPending(1000, () => true)).find(
      (r) => r.event.eventId === input.event.eventId,
    );
    expect(listed?.publishAttempts).toBe(1);
    expect(listed?.lastAttemptAt).toBe(1_700_000_000_000);
    expect(listed?.lastError).toBe("ServiceBusError: down");

    await store.markPublished(input.event, "acr-push");
    const after = await store.listPending(1000, () => true);
    expect(after.some((r) => r.event.eventId === input.event.eventId)).toBe(false);
    const keys = deliveryKeys(input.event);
    const entity = await deliveries.getEntity<Record<string, unknown>>(
      keys.partitionKey,
      keys.rowKey,
    );
    expect(entity.publishState).toBe("published");
    expect(JSON.parse(String(entity.publishedTopics))).toEqual(["acr-push"]);
  });

  it("never marks a not-routed delivery pending", async () => {
    const input = delivery({ action: "ping" }, null);
    const outcome = await store.recordDelivery(input);
    expect(outcome.record.publishState).toBe("not-routed");
    const marker = pendingKeys(deliveryKeys(input.event), input.event.occurredAt);
    await expect(pending.getEntity(marker.partitionKey, marker.rowKey)).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("reports Table Storage down as a typed dependency error", async () => {
    const down = storeFor(
      connection.connectionString.replace(
        /TableEndpoint=http:\/\/127\.0\.0\.1:\d+/,
        "TableEndpoint=http://127.0.0.1:9",
      ),
    );
    await expect(down.recordDelivery(delivery())).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
  });

  it("lets only one of several concurrent re-drive claims take a pending record", async () => {
    const input = delivery();
    await store.recordDelivery(input);
    // Azurite's etags have millisecond resolution: an update in the same millisecond as the
    // create would keep the etag, which Azure's never does.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const now = Date.now();
    const claims = await Promise.all(
      Array.from({ length: 5 }, () => store.claimRedrive(input.event, now, () => true)),
    );
    expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
    expect(claims.find((claim) => claim)?.lastAttemptAt).toBe(now);
    // A record that is not due, or not pending, is never claimed.
    expect(await store.claimRedrive(input.event, now, () => false)).toBeUndefined();
    await store.markPublished(input.event, "acr-push");
    expect(await store.claimRedrive(input.event, now, () => true)).toBeUndefined();
  });

  it("marks a record dead with its reason and takes it off the pending list", async () => {
    const input = delivery();
    await store.recordDelivery(input);
    await store.markDead(input.event, "gave up after 8 attempts: not found");
    const record = await store.find(input.event);
    expect(record).toMatchObject({
      publishState: "dead",
      lastError: "gave up after 8 attempts: not found",
    });
    const marker = pendingKeys(deliveryKeys(input.event), input.event.occurredAt);
    await expect(pending.getEntity(marker.partitionKey, marker.rowKey)).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("records the cross-check verdict on the delivery", async () => {
    const input = delivery();
    await store.recordDelivery(input);
    await store.setCrossCheck(input.event, "webhook-only");
    expect((await store.find(input.event))?.crossCheck).toBe("webhook-only");
  });
});

describe("TableEventStore re-drive listing", () => {
  it("passes over records still backing off, so newer due ones are not starved", async () => {
    const store = storeFor();
    const waiting = delivery();
    const due = delivery();
    await store.recordDelivery(waiting);
    await store.recordDelivery(due);
    const listed = await store.listPending(
      1000,
      (record) => record.event.eventId !== waiting.event.eventId,
    );
    const ids = listed.map((record) => record.event.eventId);
    expect(ids).toContain(due.event.eventId);
    expect(ids).not.toContain(waiting.event.eventId);
  });
});
