import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { createTableClient } from "../../src/adapters/clients";
import { TableCrossCheckStore } from "../../src/adapters/tableCrossCheckStore";
import { TableEventStore } from "../../src/adapters/tableEventStore";
import {
  CROSS_CHECKS_TABLE,
  DELIVERIES_TABLE,
  EVENT_IDS_TABLE,
  LOGICAL_EVENTS_TABLE,
  OPEN_WINDOWS_TABLE,
  PENDING_TABLE,
} from "../../src/adapters/tableLayout";
import { logicalKeyFor } from "../../src/core/crossCheck";
import type { RegistryEvent } from "../../src/core/registryEvent";

const tables = { kind: "connection-string" as const, connectionString: inject("tablesConnection") };
const deliveries = new TableEventStore({
  deliveries: createTableClient(tables, DELIVERIES_TABLE),
  pending: createTableClient(tables, PENDING_TABLE),
  timeoutMs: 2000,
});
const crossCheck = new TableCrossCheckStore({
  logicalEvents: createTableClient(tables, LOGICAL_EVENTS_TABLE),
  openWindows: createTableClient(tables, OPEN_WINDOWS_TABLE),
  eventIds: createTableClient(tables, EVENT_IDS_TABLE),
  crossChecks: createTableClient(tables, CROSS_CHECKS_TABLE),
  deliveries,
  timeoutMs: 2000,
});

function push(overrides: Partial<RegistryEvent> = {}): RegistryEvent {
  const timestamp = new Date().toISOString();
  return {
    eventId: randomUUID(),
    action: "push",
    timestamp,
    occurredAt: Date.parse(timestamp),
    registry: `x${randomUUID().slice(0, 8)}.azurecr.io`,
    repository: "team/api",
    tag: "v1",
    digest: `sha256:${randomUUID()}`,
    origin: "webhook",
    payload: {},
    ...overrides,
  };
}

describe("TableCrossCheckStore on Azurite", () => {
  it("gathers concurrent arrivals of one logical event into one, counting each", async () => {
    const first = push();
    const arrivals = Array.from({ length: 8 }, (_, index) => ({
      ...first,
      eventId: randomUUID(),
      origin: index % 2 === 0 ? ("webhook" as const) : ("eventgrid" as const),
      // One arrival per region and side: regional copies of one push, not a new occurrence.
      region: `region-${Math.floor(index / 2)}`,
    }));
    const now = Date.now();
    await Promise.all(arrivals.map((event) => crossCheck.noteArrival(event, now, 60_000)));
    const [logical] = await crossCheck
      .dueWindows(now + 60_000, 1000)
      .then((due) => due.filter((candidate) => candidate.key === logicalKeyFor(first)));
    expect(logical.webhook?.count).toBe(4);
    expect(logical.eventGrid?.count).toBe(4);
    expect(logical.occurrence).toBe(1);
    expect(logical.webhook?.regions).toHaveLength(4);
  });

  it("lists a window only once it is due, and lets one of two runs claim it", async () => {
    const event = push();
    const now = Date.now();
    const logical = await crossCheck.noteArrival(event, now, 1000);
    const isListed = async (at: number) =>
      (await crossCheck.dueWindows(at, 1000)).some((due) => due.key === logical.key);
    expect(await isListed(now)).toBe(false);
    expect(await isListed(now + 1000)).toBe(true);

    const claims = await Promise.all([
      crossCheck.claimWindow(logical, now + 1000, 60_000),
      crossCheck.claimWindow(logical, now + 1000, 60_000),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);

    await crossCheck.closeWindow(logical, "webhook-only");
    expect(await isListed(now + 2000)).toBe(false);
  });

  it("flags an event id seen on both sides with different fields as mismatched", async () => {
    const webhook = push();
    const eventGrid = { ...webhook, origin: "eventgrid" as const, tag: "v2" };
    await crossCheck.noteArrival(webhook, Date.now(), 60_000);
    const flagged = await crossCheck.noteArrival(eventGrid, Date.now(), 60_000);
    expect(flagged.mismatchedIds).toEqual([webhook.eventId]);
    const found = await crossCheck.findByEventId(webhook.eventId);
    expect(found.records).toHaveLength(2);
  });
});
