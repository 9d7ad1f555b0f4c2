import { describe, expect, it, vi } from "vitest";
import { type LogicalEvent, logicalRefFor, withArrival } from "../../src/core/crossCheck";
import type { NewDelivery } from "../../src/core/deliveryRecord";
import { describeError } from "../../src/core/describeError";
import { type IngestPorts, ingestDelivery, restoreJournaled } from "../../src/core/ingestDelivery";
import { DependencyUnavailableError, type EventStore, type Publisher } from "../../src/core/ports";
import { eventAttributes, type RegistryEvent } from "../../src/core/registryEvent";
import { DONE } from "../../src/core/result";
import type { Route } from "../../src/core/routing";
import { messageIdFor, type TopicMessage, topicMessageFor } from "../../src/core/topicMessage";
import type { Change } from "../../src/core/writePlan";
import { ingested } from "../support/ingested";
import {
  always,
  deliveryOf,
  type Fault,
  kindsOf,
  MemoryPorts,
  type PortCall,
  registryEvent,
  T0,
  writing,
} from "./memoryPorts";
import { NEW_PUSH_WRITE } from "./writeKinds";

const WINDOW_MS = 300_000;
const PUSH_TOPIC: Route = { kind: "topic", topic: "acr-push" };
const DELETE_TOPIC: Route = { kind: "topic", topic: "acr-delete" };

/**
 * The one write of a new routed webhook: its record and its cross-check bookkeeping together, the
 * publication claimed on the logical event, its tag noted. No pending marker: the window's close
 * is the backstop.
 */
const ARRIVAL_WRITE = NEW_PUSH_WRITE;
/** The one write after a first publish: the record marked (it has no pending marker to remove). */
const MARK_PUBLISHED: Change["kind"][] = ["set-record-status"];

/** Fails the writes that book a publish outcome on a record. */
const markingFault = (error: unknown): Fault =>
  writing((change) => change.kind === "set-record-status", error);

function delivery(
  route: Route = PUSH_TOPIC,
  overrides: Partial<RegistryEvent> = {},
  receivedAt = T0 + 1_000,
): NewDelivery {
  return deliveryOf(registryEvent(overrides), route, receivedAt);
}

function portsOf(memory: MemoryPorts, overrides: Partial<IngestPorts> = {}): IngestPorts {
  return { ...memory.ingestPorts(WINDOW_MS), ...overrides };
}

function ingest(memory: MemoryPorts, input: NewDelivery = delivery()) {
  return ingested(ingestDelivery(input, portsOf(memory)));
}

const STORE_TIMEOUT = { dependency: "table-storage", reason: "timeout" };

function writeKinds(memory: MemoryPorts): Change["kind"][][] {
  return memory.writes().map((write) => kindsOf(write.changes));
}

function statusWritten(memory: MemoryPorts) {
  const status = memory
    .writes()
    .flatMap((write) => write.changes)
    .find((change) => change.kind === "set-record-status");
  return status?.kind === "set-record-status" ? status.status : undefined;
}

/** Nothing of the arrival is stored: no record, index entry, logical event, window or marker. */
function expectNothingStored(memory: MemoryPorts): void {
  expect({
    records: memory.records.size,
    index: memory.index.size,
    logicals: memory.logicals.size,
    windows: memory.windows.size,
    pending: memory.pending.size,
  }).toEqual({ records: 0, index: 0, logicals: 0, windows: 0, pending: 0 });
}

describe("ingestDelivery: a routed webhook", () => {
  it("writes its record and cross-check bookkeeping (with the publication claim) at once, publishes, then marks the record", async () => {
    const memory = new MemoryPorts();
    const { settling, ...result } = await ingest(memory);
    expect(memory.calls()).toEqual(["store.write", "publisher.publish", "store.write"]);
    expect(writeKinds(memory)).toEqual([ARRIVAL_WRITE, MARK_PUBLISHED]);
    // The mark is lazy: the outcome does not wait for it, and hands it over to be awaited.
    expect(memory.log.at(-1)?.args[1]).toEqual({ lazy: true });
    expect(await settling).toEqual([]);
    expect(result).toStrictEqual({
      eventId: "evt-1",
      action: "push",
      duplicate: false,
      deliveryCount: 1,
      publishState: "published",
      topic: "acr-push",
      notRoutedReason: undefined,
      warnings: [],
    });
    const [arrival] = memory.writes();
    const created = arrival?.changes.find((change) => change.kind === "create-logical");
    expect(created).toMatchObject({ logical: { publication: { by: "webhook", occurrence: 1 } } });
    expect(memory.logical(registryEvent())?.publication).toEqual({ by: "webhook", occurrence: 1 });
    expect(memory.record(registryEvent())).toMatchObject({
      publishState: "published",
      publishedTopics: ["acr-push"],
      publishAttempts: 1,
      occurrence: 1,
    });
    expect(memory.pendingEventIds()).toEqual([]);
  });

  it("publishes the event's topic message to the routed topic", async () => {
    const memory = new MemoryPorts();
    const input = delivery({ kind: "topic", topic: "custom-topic" });
    await ingest(memory, input);
    expect(memory.published).toEqual([
      { topic: "custom-topic", message: topicMessageFor(input.event) },
    ]);
    expect(statusWritten(memory)?.publishedTopics).toEqual(["custom-topic"]);
  });

  it("opens the cross-check window at its receipt time with the configured window", async () => {
    const memory = new MemoryPorts();
    const input = delivery(PUSH_TOPIC, {}, T0 + 42);
    await ingest(memory, input);
    expect(memory.logical(input.event)).toMatchObject({
      state: "open",
      firstSeenAt: T0 + 42,
      windowClosesAt: T0 + 42 + WINDOW_MS,
      webhook: { eventIds: ["evt-1"], count: 1 },
    });
    expect([...memory.windows.values()]).toEqual([
      { ...logicalRefFor(input.event), windowClosesAt: T0 + 42 + WINDOW_MS },
    ]);
  });

  it("does not publish before the record is stored", async () => {
    let recordSettled = false;
    let publishedBeforeRecord = false;
    const memory = new MemoryPorts();
    const slowStore: EventStore = {
      ...memory.store,
      write: async (changes) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        const outcome = await memory.store.write(changes);
        if (changes.some((change) => change.kind === "create-record")) recordSettled = outcome.ok;
        return outcome;
      },
    };
    const publisher: Publisher = {
      publish: async (topic, message) => {
        publishedBeforeRecord = !recordSettled;
        await memory.publisher.publish(topic, message);
      },
    };
    const result = await ingested(
      ingestDelivery(delivery(), portsOf(memory, { store: slowStore, publisher })),
    );
    await result.settling;
    expect(publishedBeforeRecord).toBe(false);
    expect(memory.calls()).toEqual(["store.write", "publisher.publish", "store.write"]);
    expect(kindsOf(memory.writes()[0]?.changes ?? [])).toContain("create-record");
  });
});

describe("ingestDelivery: nothing to publish", () => {
  it("a duplicate delivery is counted and not published again", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.log.length = 0;
    const result = await ingest(memory);
    expect(memory.calls()).not.toContain("publisher.publish");
    expect(memory.published).toHaveLength(1);
    expect(result).toMatchObject({
      duplicate: true,
      deliveryCount: 2,
      publishState: "published",
      topic: "acr-push",
      warnings: [],
    });
    expect(memory.record(registryEvent())).toMatchObject({
      deliveryCount: 2,
      publishState: "published",
    });
    expect(memory.record(registryEvent())?.arrivals).toHaveLength(2);
  });

  it("a duplicate of a delivery whose publish failed stays pending, not re-published", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    await ingest(memory);
    memory.log.length = 0;
    const result = await ingest(memory);
    expect(memory.calls()).not.toContain("publisher.publish");
    expect(result).toMatchObject({ duplicate: true, publishState: "pending" });
    expect(result.publishError).toBeUndefined();
    expect(memory.pendingEventIds()).toEqual(["evt-1"]);
  });

  it.each<{
    reason: "ping" | "unknown-action" | "out-of-scope";
    action: string;
    written: Change["kind"][];
  }>([
    { reason: "ping", action: "ping", written: ["create-record", "index-arrival"] },
    { reason: "unknown-action", action: "untag", written: ["create-record", "index-arrival"] },
    {
      reason: "out-of-scope",
      action: "push",
      written: ARRIVAL_WRITE,
    },
  ])(
    "a not-routed event ($reason) is recorded only, never published",
    async ({ reason, action, written }) => {
      const memory = new MemoryPorts();
      const result = await ingest(memory, delivery({ kind: "not-routed", reason }, { action }));
      expect(memory.calls()).toEqual(["store.write"]);
      expect(writeKinds(memory)).toEqual([written]);
      expect(memory.published).toEqual([]);
      expect(memory.pendingEventIds()).toEqual([]);
      expect(result).toStrictEqual({
        eventId: "evt-1",
        action,
        duplicate: false,
        deliveryCount: 1,
        publishState: "not-routed",
        topic: undefined,
        notRoutedReason: reason,
        warnings: [],
      });
    },
  );
});

describe("ingestDelivery: a write that conflicts is decided again", () => {
  it("the same delivery again: its record conflicts, the record is read and the arrival counted", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.log.length = 0;
    await ingest(memory);
    expect(memory.calls()).toEqual([
      "store.write",
      "store.logicalOf",
      "store.recordOf",
      "store.write",
    ]);
    const [first, second] = memory.writes();
    expect(first?.outcome).toEqual({ ok: false, failure: "create-record" });
    expect(second?.outcome).toEqual(DONE);
    expect(kindsOf(second?.changes ?? [])).toEqual(["replace-record", "replace-logical"]);
  });

  it("the same event id with other content: refused naming the fields, nothing written or published", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    const stored = memory.record(registryEvent());
    const published = memory.published.length;
    const other = delivery(PUSH_TOPIC, { tag: "v2", digest: "sha256:other" });
    memory.log.length = 0;
    const result = await ingest(memory, other);
    expect(result).toMatchObject({ conflictingFields: ["digest", "tag"], duplicate: false });
    expect(memory.writes().map((write) => write.outcome)).toEqual([
      { ok: false, failure: "create-record" },
      DONE,
    ]);
    expect(memory.writes()[1]?.changes).toEqual([]);
    expect(memory.record(registryEvent())).toEqual(stored);
    expect(memory.logical(other.event)).toBeUndefined();
    expect(memory.published).toHaveLength(published);

    const deleted = delivery(DELETE_TOPIC, { action: "delete", tag: undefined });
    expect((await ingest(memory, deleted)).conflictingFields).toEqual(["action", "tag"]);
  });

  it("another arrival of the content wrote first: the logical event conflicts, nothing is kept, and the arrival joins it", async () => {
    const memory = new MemoryPorts();
    const rival = delivery(PUSH_TOPIC, { eventId: "evt-west", region: "westus" });
    const input = delivery(PUSH_TOPIC, { eventId: "evt-east", region: "eastus" });
    let raced = false;
    const racingStore: EventStore = {
      ...memory.store,
      write: async (changes) => {
        if (!raced) {
          raced = true;
          await ingest(memory, rival);
          memory.log.length = 0;
        }
        return memory.store.write(changes);
      },
    };
    const result = await ingested(ingestDelivery(input, portsOf(memory, { store: racingStore })));
    expect(memory.calls()).toEqual(["store.write", "store.logicalOf", "store.write"]);
    const [lost, joined] = memory.writes();
    expect(lost?.outcome).toEqual({ ok: false, failure: "create-logical" });
    // The record in the refused write was not kept: created again, it does not conflict.
    expect(kindsOf(joined?.changes ?? [])).toEqual([
      "create-record",
      "index-arrival",
      "replace-logical",
      "note-tag",
      "note-digest-tag",
    ]);
    expect(joined?.outcome).toEqual(DONE);
    expect(result).toMatchObject({
      duplicate: false,
      publishState: "published",
      coveredBy: "webhook",
    });
    expect(memory.published).toHaveLength(1);
    expect(memory.logical(input.event)?.webhook).toMatchObject({
      eventIds: ["evt-west", "evt-east"],
      count: 2,
    });
  });

  it("two identical deliveries at once: one is recorded and published, the other counted", async () => {
    const memory = new MemoryPorts();
    const results = await Promise.all([ingest(memory), ingest(memory)]);
    expect(results.map((result) => result.duplicate).sort()).toEqual([false, true]);
    expect(memory.published).toHaveLength(1);
    expect(memory.record(registryEvent())).toMatchObject({
      deliveryCount: 2,
      publishState: "published",
    });
    expect(memory.logical(registryEvent())?.webhook?.count).toBe(2);
  });

  it.each<{ origin: "webhook" | "eventgrid"; journaled: boolean }>([
    { origin: "webhook", journaled: true },
    { origin: "eventgrid", journaled: false },
  ])(
    "a $origin arrival still contended after every retry is a storage failure (journaled: $journaled)",
    async ({ origin, journaled }) => {
      const memory = new MemoryPorts();
      const contended: EventStore = {
        ...memory.store,
        write: async () => ({ ok: false, failure: "create-logical" }),
      };
      const input = delivery(PUSH_TOPIC, { origin });
      const ingesting = ingestDelivery(input, portsOf(memory, { store: contended }));
      if (journaled) {
        const result = await ingested(ingesting);
        expect(result).toMatchObject({ journaled: true, publishState: "published" });
        expect(result.warnings[0]).toMatch(
          /^store unavailable: still contended after 40 attempts$/,
        );
        expect(memory.journaled).toEqual([{ delivery: input, published: true }]);
      } else {
        expect(await ingesting).toEqual({
          ok: false,
          failure: { dependency: "store", reason: "still contended after 40 attempts" },
        });
        expect(memory.journaled).toEqual([{ refusedAt: input.receivedAt }]);
        expect(memory.published).toEqual([]);
      }
    },
  );
});

describe("ingestDelivery: failures", () => {
  it("a publish failure leaves the record pending, with the error, puts it on the pending list, and keeps the claim for the re-drive", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new TypeError("bus unreachable")),
    });
    const before = Date.now();
    const result = await ingest(memory);
    const after = Date.now();
    expect(memory.calls()).toEqual(["store.write", "publisher.publish", "store.write"]);
    expect(writeKinds(memory)).toEqual([ARRIVAL_WRITE, ["set-record-status", "add-pending"]]);
    expect(result).toMatchObject({
      publishState: "pending",
      publishError: "TypeError: bus unreachable",
      duplicate: false,
      topic: "acr-push",
      warnings: [],
    });
    const status = statusWritten(memory);
    expect(status).toMatchObject({ publishAttempts: 1, lastError: "TypeError: bus unreachable" });
    expect(status?.lastAttemptAt).toBeGreaterThanOrEqual(before);
    expect(status?.lastAttemptAt).toBeLessThanOrEqual(after);
    expect(memory.record(registryEvent())).toMatchObject({
      publishState: "pending",
      publishAttempts: 1,
      lastError: "TypeError: bus unreachable",
    });
    expect(memory.pendingEventIds()).toEqual(["evt-1"]);
    // The re-drive finishes this arrival's publish: no other arrival publishes the event again.
    expect(memory.logical(registryEvent())?.publication).toEqual({ by: "webhook", occurrence: 1 });
  });

  it("after a failed publish, another regional webhook of the event is covered by the claim", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    await ingest(memory);
    memory.faults["publisher.publish"] = undefined;
    const result = await ingest(
      memory,
      delivery(PUSH_TOPIC, { eventId: "evt-east", region: "eastus" }),
    );
    expect(result).toMatchObject({ publishState: "published", coveredBy: "webhook" });
    expect(memory.published).toEqual([]);
    expect(memory.pendingEventIds()).toEqual(["evt-1"]);
  });

  it("a publish failure that is not an Error is still described", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always("socket closed") });
    const result = await ingest(memory);
    expect(result.publishState).toBe("pending");
    expect(result.publishError).toBe("socket closed");
  });

  it.each<{
    name: string;
    origin: "webhook" | "eventgrid";
    fault: PortCall;
    failure: Error;
    calls: PortCall[];
  }>([
    {
      name: "a webhook's Error on its write",
      origin: "webhook",
      fault: "store.write",
      failure: new Error("table unavailable"),
      calls: ["store.write"],
    },
    {
      name: "an Event Grid Error on its write",
      origin: "eventgrid",
      fault: "store.write",
      failure: new Error("table unavailable"),
      calls: ["store.logicalOf", "store.write"],
    },
  ])(
    "a store's unexpected error ($name) propagates and nothing else happens",
    async ({ origin, fault, failure, calls }) => {
      const memory = new MemoryPorts({ [fault]: always(failure) });
      await expect(ingest(memory, delivery(PUSH_TOPIC, { origin }))).rejects.toBe(failure);
      expect(memory.calls()).toEqual(calls);
      expectNothingStored(memory);
      expect(memory.journaled).toEqual([]);
    },
  );

  it.each<{ name: string; store: (memory: MemoryPorts) => EventStore; warning: string }>([
    {
      name: "fails",
      store: (memory) => {
        memory.faults["store.write"] = markingFault(new RangeError("etag mismatch"));
        return memory.store;
      },
      warning: "RangeError: etag mismatch",
    },
    {
      name: "is refused as conflicting",
      store: (memory) => ({
        ...memory.store,
        write: async (changes) =>
          changes.some((change) => change.kind === "set-record-status")
            ? { ok: false, failure: "set-record-status" }
            : memory.store.write(changes),
      }),
      warning: "Error: write refused: set-record-status conflicted",
    },
  ])(
    "a webhook whose marking write $name gets a warning; the event is still published and its record stays pending, without a marker until its window closes",
    async ({ store, warning }) => {
      const memory = new MemoryPorts();
      const result = await ingested(
        ingestDelivery(delivery(), portsOf(memory, { store: store(memory) })),
      );
      expect(result.publishState).toBe("published");
      expect(result.publishError).toBeUndefined();
      // The mark is written after the outcome: its failure comes with the settling bookkeeping.
      expect(result.warnings).toEqual([]);
      expect(await result.settling).toEqual([warning]);
      expect(memory.published).toHaveLength(1);
      expect(memory.record(registryEvent())?.publishState).toBe("pending");
      expect(memory.pendingEventIds()).toEqual([]);
      expect([...memory.windows.values()]).toEqual([
        { ...logicalRefFor(registryEvent()), windowClosesAt: T0 + 1_000 + WINDOW_MS },
      ]);
    },
  );

  it("a failed marking write after a publish failure becomes a warning", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new Error("bus down")),
      "store.write": markingFault(new Error("table down")),
    });
    const result = await ingest(memory);
    expect(result.publishState).toBe("pending");
    expect(result.publishError).toBe("Error: bus down");
    expect(result.warnings).toEqual(["Error: table down"]);
  });
});

describe("ingestDelivery: a webhook while Table Storage is down", () => {
  const storageDown = new DependencyUnavailableError("table-storage", "timeout");
  const NOT_ROUTED: Route = { kind: "not-routed", reason: "out-of-scope" };

  it.each<{
    name: string;
    route: Route;
    faults: PortCall[];
    publishState: string;
    published: boolean;
    journaled: boolean;
    warnings: string[];
  }>([
    {
      name: "a routed webhook is published and journaled",
      route: PUSH_TOPIC,
      faults: [],
      publishState: "published",
      published: true,
      journaled: true,
      warnings: ["table-storage unavailable: timeout"],
    },
    {
      name: "a routed webhook whose publish fails is journaled as pending",
      route: PUSH_TOPIC,
      faults: ["publisher.publish"],
      publishState: "pending",
      published: false,
      journaled: true,
      warnings: ["table-storage unavailable: timeout", "Error: injected publisher.publish"],
    },
    {
      name: "a not-routed webhook is journaled only",
      route: NOT_ROUTED,
      faults: [],
      publishState: "not-routed",
      published: false,
      journaled: true,
      warnings: ["table-storage unavailable: timeout"],
    },
    {
      name: "a published webhook whose journal fails is published with a warning",
      route: PUSH_TOPIC,
      faults: ["journal.append"],
      publishState: "published",
      published: true,
      journaled: false,
      warnings: [
        "table-storage unavailable: timeout",
        "journal: Error: injected journal.append; the message is on its topic, its record is lost",
      ],
    },
  ])("$name", async ({ route, faults, publishState, published, journaled, warnings }) => {
    const memory = new MemoryPorts({ "store.write": always(storageDown) });
    for (const fault of faults) memory.faults[fault] = always(new Error(`injected ${fault}`));
    const input = delivery(route);
    const result = await ingest(memory, input);
    expect(result).toMatchObject({ publishState, journaled: true, duplicate: false, warnings });
    expect(memory.published).toEqual(
      published ? [{ topic: "acr-push", message: topicMessageFor(input.event) }] : [],
    );
    expect(memory.journaled).toEqual(journaled ? [{ delivery: input, published }] : []);
    expectNothingStored(memory);
  });

  it("a delete whose digest's tags cannot be read is not held back: recorded, published without tags, with a warning", async () => {
    const memory = new MemoryPorts({ "store.digestTags": always(storageDown) });
    const input = delivery(DELETE_TOPIC, { action: "delete", tag: undefined });
    const result = await ingest(memory, input);
    expect(result).toMatchObject({ publishState: "published", duplicate: false });
    expect(result.journaled).toBeUndefined();
    expect(result.warnings).toEqual([
      `published without its digest's tags: ${storageDown.name}: ${storageDown.message}`,
    ]);
    expect(memory.published).toEqual([
      { topic: "acr-delete", message: topicMessageFor(input.event) },
    ]);
    expect(memory.record(input.event)?.publishState).toBe("published");
    expect(memory.journaled).toEqual([]);
  });

  it("the store's failure is the answer when neither the topic nor the journal took the delivery", async () => {
    const memory = new MemoryPorts({
      "store.write": always(storageDown),
      "publisher.publish": always(new Error("bus down")),
      "journal.append": always(new Error("bus down")),
    });
    expect(await ingestDelivery(delivery(), portsOf(memory))).toEqual({
      ok: false,
      failure: STORE_TIMEOUT,
    });
    expectNothingStored(memory);
  });
});

describe("restoreJournaled", () => {
  const storageDown = new DependencyUnavailableError("table-storage", "timeout");

  it("a later occurrence journaled while storage was down gets its own message on restore: the journal's carried the first one's id", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.faults["store.write"] = always(storageDown);
    const again = delivery(PUSH_TOPIC, { eventId: "evt-2" }, T0 + 60_000);
    expect(await ingest(memory, again)).toMatchObject({ journaled: true });
    memory.faults["store.write"] = undefined;
    const [entry] = memory.journaledDeliveries();
    await restoreJournaled(entry, portsOf(memory));
    expect(memory.published.map((sent) => sent.message.messageId)).toEqual([
      messageIdFor(registryEvent(), 1),
      messageIdFor(registryEvent(), 1),
      messageIdFor(registryEvent(), 2),
    ]);
    expect(memory.record(again.event)).toMatchObject({ occurrence: 2, publishState: "published" });
  });

  it("a first occurrence journaled while storage was down is marked sent on restore, not sent again", async () => {
    const memory = new MemoryPorts({ "store.write": always(storageDown) });
    expect(await ingest(memory)).toMatchObject({ journaled: true });
    memory.faults["store.write"] = undefined;
    await restoreJournaled(memory.journaledDeliveries()[0], portsOf(memory));
    expect(memory.published.map((sent) => sent.message.messageId)).toEqual([
      messageIdFor(registryEvent(), 1),
    ]);
    expect(memory.record(registryEvent())?.publishState).toBe("published");
  });

  it("a journal entry restored again (its run ended before completing it) is not a second delivery", async () => {
    const memory = new MemoryPorts({ "store.write": always(storageDown) });
    expect(await ingest(memory)).toMatchObject({ journaled: true });
    memory.faults["store.write"] = undefined;
    const [entry] = memory.journaledDeliveries();
    await restoreJournaled(entry, portsOf(memory));
    await restoreJournaled(entry, portsOf(memory));
    expect(memory.record(registryEvent())).toMatchObject({
      deliveryCount: 1,
      arrivals: [{ receivedAt: new Date(entry.delivery.receivedAt).toISOString() }],
      publishState: "published",
    });
    expect(memory.published).toHaveLength(1);
  });

  it("a restore that recorded the delivery but failed to mark it sent marks it when the entry comes back", async () => {
    const memory = new MemoryPorts({ "store.write": always(storageDown) });
    expect(await ingest(memory)).toMatchObject({ journaled: true });
    memory.faults["store.write"] = markingFault(storageDown);
    const [entry] = memory.journaledDeliveries();
    await expect(restoreJournaled(entry, portsOf(memory))).rejects.toThrow();
    expect(memory.record(registryEvent())?.publishState).toBe("pending");
    memory.faults["store.write"] = undefined;
    await restoreJournaled(entry, portsOf(memory));
    expect(memory.record(registryEvent())).toMatchObject({
      deliveryCount: 1,
      publishState: "published",
    });
    expect(memory.published).toHaveLength(1);
  });

  it("a repeat delivery recorded before its journaled first delivery is restored is counted as a second delivery", async () => {
    const memory = new MemoryPorts({ "store.write": always(storageDown) });
    expect(await ingest(memory)).toMatchObject({ journaled: true });
    memory.faults["store.write"] = undefined;
    expect(await ingest(memory, delivery(PUSH_TOPIC, {}, T0 + 5_000))).toMatchObject({
      duplicate: false,
    });
    await restoreJournaled(memory.journaledDeliveries()[0], portsOf(memory));
    expect(memory.record(registryEvent())?.deliveryCount).toBe(2);
  });

  it("a journaled delivery whose id was recorded meanwhile with other content leaves that record as it is", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    const other = delivery(PUSH_TOPIC, { tag: "v2" });
    await ingest(memory, other);
    const before = memory.record(other.event);
    expect(before?.publishState).toBe("pending");
    await restoreJournaled({ delivery: delivery(), published: true }, portsOf(memory));
    expect(memory.record(other.event)).toEqual(before);
  });
});

describe("ingestDelivery: Event Grid arrivals", () => {
  const fromEventGrid = (route: Route = PUSH_TOPIC, overrides: Partial<RegistryEvent> = {}) =>
    delivery(route, { origin: "eventgrid", region: "westeurope", ...overrides });

  it.each<{ name: string; route: Route; publishState: string }>([
    { name: "routed", route: PUSH_TOPIC, publishState: "held" },
    {
      name: "out of scope",
      route: { kind: "not-routed", reason: "out-of-scope" },
      publishState: "not-routed",
    },
  ])(
    "a $name arrival is recorded and cross-checked, never published at ingest",
    async ({ route, publishState }) => {
      const memory = new MemoryPorts();
      const input = fromEventGrid(route);
      const result = await ingest(memory, input);
      expect(memory.calls()).toEqual(["store.logicalOf", "store.write"]);
      expect(writeKinds(memory)).toEqual([["index-id", ...ARRIVAL_WRITE]]);
      expect(memory.published).toEqual([]);
      expect(memory.pendingEventIds()).toEqual([]);
      expect(result).toMatchObject({ duplicate: false, publishState, warnings: [] });
      expect(memory.record(input.event)?.publishState).toBe(publishState);
      expect(memory.logical(input.event)).toMatchObject({
        state: "open",
        eventGrid: { eventIds: ["evt-1"], regions: ["westeurope"], count: 1 },
      });
    },
  );

  it("is held even when its webhook twin was never published", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    await ingest(memory);
    memory.faults["publisher.publish"] = undefined;
    const result = await ingest(memory, fromEventGrid());
    expect(result.publishState).toBe("held");
    expect(memory.published).toEqual([]);
  });

  it("a retried Event Grid delivery is counted and joins its logical event again, still not published", async () => {
    const memory = new MemoryPorts();
    await ingest(memory, fromEventGrid());
    const result = await ingest(memory, fromEventGrid());
    expect(result).toMatchObject({ duplicate: true, deliveryCount: 2, publishState: "held" });
    expect(memory.published).toEqual([]);
    expect(memory.logical(registryEvent())?.eventGrid).toMatchObject({
      eventIds: ["evt-1"],
      count: 2,
    });
  });

  it.each<{ name: string; fault: PortCall; calls: PortCall[] }>([
    { name: "read", fault: "store.logicalOf", calls: ["store.logicalOf", "journal.append"] },
    {
      name: "write",
      fault: "store.write",
      calls: ["store.logicalOf", "store.write", "journal.append"],
    },
  ])(
    "a storage failure on its $name is the answer, so that Event Grid retries; the refusal is noted on the journal, for the cross-check to wait out the outage",
    async ({ fault, calls }) => {
      const memory = new MemoryPorts({
        [fault]: always(new DependencyUnavailableError("table-storage", "timeout")),
      });
      const input = fromEventGrid();
      expect(await ingestDelivery(input, portsOf(memory))).toEqual({
        ok: false,
        failure: STORE_TIMEOUT,
      });
      expect(memory.calls()).toEqual(calls);
      expectNothingStored(memory);
      expect(memory.published).toEqual([]);
      expect(memory.journaled).toEqual([{ refusedAt: input.receivedAt }]);
    },
  );

  it("a refusal the journal cannot note is still the answer", async () => {
    const memory = new MemoryPorts({
      "store.write": always(new DependencyUnavailableError("table-storage", "timeout")),
      "journal.append": always(new Error("bus down")),
    });
    expect(await ingestDelivery(fromEventGrid(), portsOf(memory))).toEqual({
      ok: false,
      failure: STORE_TIMEOUT,
    });
    expect(memory.journaled).toEqual([]);
  });
});

describe("ingestDelivery: a logical event already on its topic", () => {
  it.each<{ name: string; seed: (memory: MemoryPorts) => Promise<void>; coveredBy: string }>([
    {
      name: "recovered from Event Grid before its webhook came",
      coveredBy: "eventgrid",
      seed: async (memory) => {
        const arrival = registryEvent({ origin: "eventgrid" });
        const open = withArrival(undefined, arrival, T0, WINDOW_MS);
        const closed: LogicalEvent = {
          ...open,
          state: "eventgrid-only",
          publication: { by: "eventgrid", occurrence: 1 },
        };
        memory.seed([{ kind: "create-logical", logical: closed }]);
      },
    },
    {
      name: "published by another regional webhook",
      coveredBy: "webhook",
      seed: async (memory) => {
        await ingest(memory, delivery(PUSH_TOPIC, { eventId: "evt-west", region: "westus" }));
      },
    },
    {
      name: "published by another regional webhook, its window closed since (replication outlasted it)",
      coveredBy: "webhook",
      seed: async (memory) => {
        const arrival = registryEvent({ eventId: "evt-west", region: "westus" });
        const open = withArrival(undefined, arrival, T0, WINDOW_MS);
        const closed: LogicalEvent = {
          ...open,
          state: "matched",
          publication: { by: "webhook", occurrence: 1 },
        };
        memory.seed([{ kind: "create-logical", logical: closed }]);
      },
    },
  ])(
    "a webhook of a logical event $name is recorded as published without publishing",
    async ({ seed, coveredBy }) => {
      const memory = new MemoryPorts();
      await seed(memory);
      const before = memory.published.length;
      memory.log.length = 0;
      const input = delivery(PUSH_TOPIC, { eventId: "evt-late", region: "eastus" }, T0 + 60_000);
      const result = await ingest(memory, input);
      expect(memory.published).toHaveLength(before);
      expect(memory.calls()).toEqual(["store.write", "store.logicalOf", "store.write"]);
      const recorded = memory.writes()[1]?.changes.find((c) => c.kind === "create-record");
      expect(recorded).toMatchObject({
        record: { publishState: "published", publishedTopics: ["acr-push"] },
      });
      expect(result).toMatchObject({
        eventId: "evt-late",
        duplicate: false,
        publishState: "published",
        coveredBy,
        warnings: [],
      });
      expect(memory.record(input.event)?.publishState).toBe("published");
      expect(memory.pendingEventIds()).not.toContain("evt-late");
      expect(memory.logical(input.event)?.publication?.by).toBe(coveredBy);
    },
  );

  it("a covered webhook needs no write after its arrival's: a marking failure cannot touch it", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.faults["store.write"] = markingFault(new Error("table down"));
    // Another region's webhook for the same push.
    const result = await ingest(
      memory,
      delivery(PUSH_TOPIC, { eventId: "evt-2", region: "eastus" }),
    );
    expect(result).toMatchObject({ publishState: "published", coveredBy: "webhook", warnings: [] });
    expect(memory.published).toHaveLength(1);
  });

  it("when the store cannot answer after a conflict, the webhook is published with the content's message id (duplicate detection drops the copy) and journaled", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.faults["store.logicalOf"] = always(
      new DependencyUnavailableError("table-storage", "timeout"),
    );
    const result = await ingest(memory, delivery(PUSH_TOPIC, { eventId: "evt-2" }));
    expect(result.coveredBy).toBeUndefined();
    expect(result).toMatchObject({ publishState: "published", journaled: true });
    expect(memory.published.map((entry) => entry.message.messageId)).toEqual([
      topicMessageFor(registryEvent()).messageId,
      topicMessageFor(registryEvent()).messageId,
    ]);
  });
});

describe("ingestDelivery: occurrences", () => {
  it("the content pushed again from the same place is published again with its own message id", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    await ingest(memory, delivery(PUSH_TOPIC, { eventId: "evt-2" }, T0 + 60_000));
    expect(memory.published.map((entry) => entry.message.messageId)).toEqual([
      messageIdFor(registryEvent(), 1),
      messageIdFor(registryEvent(), 2),
    ]);
    expect(memory.record(registryEvent({ eventId: "evt-2" }))).toMatchObject({
      occurrence: 2,
      publishState: "published",
    });
    expect(memory.logical(registryEvent())).toMatchObject({
      occurrence: 2,
      publication: { by: "webhook", occurrence: 2 },
      windowClosesAt: T0 + 60_000 + WINDOW_MS,
    });
  });
});

describe("ingestDelivery: tags of a digest", () => {
  it.each<{ name: string; event: Partial<RegistryEvent>; enriches: boolean }>([
    { name: "a webhook push with tag and digest", event: {}, enriches: true },
    {
      name: "an Event Grid push with tag and digest",
      event: { origin: "eventgrid" },
      enriches: true,
    },
    { name: "a push without a tag", event: { tag: undefined }, enriches: false },
    { name: "a push without a digest", event: { digest: undefined }, enriches: false },
    { name: "a chart push", event: { action: "chart_push" }, enriches: false },
    { name: "a delete", event: { action: "delete", tag: undefined }, enriches: false },
  ])(
    "$name: its tag enriches a later delete of the digest: $enriches",
    async ({ event, enriches }) => {
      const memory = new MemoryPorts();
      await ingest(memory, delivery(PUSH_TOPIC, { eventId: "first", ...event }));
      await ingest(
        memory,
        delivery(DELETE_TOPIC, { eventId: "del-1", action: "delete", tag: undefined }),
      );
      const deleted = memory.published.find((entry) => entry.topic === "acr-delete");
      expect(deleted?.message.applicationProperties.tags).toBe(enriches ? "v1" : undefined);
    },
  );

  it.each<{ name: string; pushed: Partial<RegistryEvent>[]; tags: string | undefined }>([
    {
      name: "every tag pushed for its digest",
      pushed: [
        { eventId: "p1", tag: "v2" },
        { eventId: "p2", tag: "latest", origin: "eventgrid" },
      ],
      tags: "latest,v2",
    },
    {
      name: "only the tags of its own digest and repository",
      pushed: [
        { eventId: "p1", tag: "v1" },
        { eventId: "p2", tag: "other-digest", digest: "sha256:def" },
        { eventId: "p3", tag: "other-repo", repository: "other" },
      ],
      tags: "v1",
    },
    { name: "no tags property when none was seen", pushed: [], tags: undefined },
  ])("a delete is published with $name", async ({ pushed, tags }) => {
    const memory = new MemoryPorts();
    for (const push of pushed) await ingest(memory, delivery(PUSH_TOPIC, push));
    const deletion = delivery(DELETE_TOPIC, { eventId: "del-1", action: "delete", tag: undefined });
    await ingest(memory, deletion);
    const message = memory.published.find((entry) => entry.topic === "acr-delete")
      ?.message as TopicMessage;
    expect(message.applicationProperties.tags).toBe(tags);
    expect(message).toEqual(topicMessageFor(deletion.event, tags ? tags.split(",") : []));
  });

  it("a delete's tags are read alongside its write, and its message waits for them", async () => {
    const memory = new MemoryPorts();
    await ingest(memory, delivery(PUSH_TOPIC, { eventId: "p1", tag: "v1" }));
    let answerTags = (_tags: string[]) => {};
    const tagsRead = new Promise<string[]>((resolve) => {
      answerTags = resolve;
    });
    const slowTags: EventStore = { ...memory.store, digestTags: () => tagsRead };
    const deletion = delivery(DELETE_TOPIC, { eventId: "del-1", action: "delete", tag: undefined });
    const ingesting = ingested(ingestDelivery(deletion, portsOf(memory, { store: slowTags })));
    await vi.waitFor(() => expect(memory.record(deletion.event)).toBeDefined());
    expect(memory.published.map((entry) => entry.topic)).toEqual(["acr-push"]);
    answerTags(["v1"]);
    await ingesting;
    expect(memory.published[1]).toEqual({
      topic: "acr-delete",
      message: topicMessageFor(deletion.event, ["v1"]),
    });
  });

  it("an Event Grid delete, held for the reconcile, reads no tags", async () => {
    const memory = new MemoryPorts();
    const input = delivery(DELETE_TOPIC, { origin: "eventgrid", action: "delete", tag: undefined });
    await ingest(memory, input);
    expect(memory.calls()).not.toContain("store.digestTags");
    expect(memory.published).toEqual([]);
  });

  it("a push is published without reading anything first, and without tags", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    expect(memory.calls()[0]).toBe("store.write");
    expect(memory.calls()).not.toContain("store.logicalOf");
    expect(memory.published[0]?.message.applicationProperties.tags).toBeUndefined();
  });

  it("a push decided on what the store holds carries no tags either", async () => {
    const memory = new MemoryPorts();
    await ingest(memory, delivery(PUSH_TOPIC, { eventId: "p1", tag: "v1" }));
    // The same digest and tag pushed again: decided again after its logical event conflicts.
    await ingest(memory, delivery(PUSH_TOPIC, { eventId: "p2", tag: "v1" }, T0 + 60_000));
    expect(memory.calls()).toContain("store.logicalOf");
    expect(memory.published).toHaveLength(2);
    expect(memory.published[1]?.message.applicationProperties.tags).toBeUndefined();
  });
});

describe("ingestDelivery: Continuous Patching tags", () => {
  const push = (overrides: Partial<RegistryEvent>) => delivery(PUSH_TOPIC, overrides);

  it.each<{ name: string; before: Partial<RegistryEvent>[]; artifactKind: string }>([
    { name: "its base tag was pushed before", before: [{ tag: "1.25" }], artifactKind: "patch" },
    { name: "nothing was pushed before", before: [], artifactKind: "image" },
    {
      name: "only another patch of the base was pushed",
      before: [{ tag: "1.25-2" }],
      artifactKind: "image",
    },
    {
      name: "its base tag was pushed in another repository",
      before: [{ tag: "1.25", repository: "other" }],
      artifactKind: "image",
    },
    {
      name: "its base tag arrived from Event Grid only",
      before: [{ tag: "1.25", origin: "eventgrid" }],
      artifactKind: "patch",
    },
  ])("`1.25-1` after $name: $artifactKind", async ({ before, artifactKind }) => {
    const memory = new MemoryPorts();
    for (const [index, earlier] of before.entries()) {
      await ingest(memory, push({ eventId: `before-${index}`, digest: "sha256:old", ...earlier }));
    }
    memory.log.length = 0;
    const patched = push({ eventId: "patched", tag: "1.25-1", digest: "sha256:new" });
    const result = await ingest(memory, patched);
    expect(result).toMatchObject({ duplicate: false, publishState: "published" });
    // One point read of the base tag before the write; the push is new content.
    expect(memory.calls().slice(0, 2)).toEqual(["store.tagSeen", "store.write"]);
    expect(memory.callsOf("store.tagSeen")).toEqual([
      [{ registry: patched.event.registry, repository: "hello-world", tag: "1.25" }],
    ]);
    expect(memory.published.at(-1)?.message.applicationProperties.artifactKind).toBe(artifactKind);
    expect(eventAttributes(memory.record(patched.event)?.event ?? patched.event).artifactKind).toBe(
      artifactKind,
    );
  });

  it("a push of an ordinary tag reads nothing first and notes its tag with its record", async () => {
    const memory = new MemoryPorts();
    await ingest(memory, push({ tag: "1.25" }));
    expect(memory.calls()[0]).toBe("store.write");
    expect(memory.calls()).not.toContain("store.tagSeen");
    expect(writeKinds(memory)[0]).toEqual(ARRIVAL_WRITE);
    expect(
      await memory.store.tagSeen({
        registry: registryEvent().registry,
        repository: "hello-world",
        tag: "1.25",
      }),
    ).toBe(true);
  });

  it("a webhook whose base tag cannot be read is not held back: published as an image, journaled", async () => {
    const storageDown = new DependencyUnavailableError("table-storage", "timeout");
    const memory = new MemoryPorts({ "store.tagSeen": always(storageDown) });
    const input = push({ tag: "1.25-1" });
    const result = await ingest(memory, input);
    expect(result).toMatchObject({ publishState: "published", journaled: true });
    expect(memory.published[0]?.message.applicationProperties.artifactKind).toBe("image");
    expect(memory.journaled).toEqual([{ delivery: input, published: true }]);
  });
});

describe("ingestDelivery: actions without a twin", () => {
  const QUARANTINE_TOPIC: Route = { kind: "topic", topic: "acr-quarantine" };

  it("a ping is only indexed by id: no logical event, no window", async () => {
    const memory = new MemoryPorts({
      "store.write": writing(
        (change) => change.kind === "create-logical" || change.kind === "open-window",
        new Error("must not be written"),
      ),
    });
    const input = delivery({ kind: "not-routed", reason: "ping" }, { action: "ping" });
    const result = await ingest(memory, input);
    expect(result.warnings).toEqual([]);
    expect(memory.index.size).toBe(1);
    expect(memory.logicals.size).toBe(0);
    expect(memory.windows.size).toBe(0);
    expect(memory.published).toEqual([]);
    expect(memory.record(input.event)?.publishState).toBe("not-routed");
  });

  it("a quarantine is kept as a no-twin logical event without a window, published, and off the pending list once published", async () => {
    const memory = new MemoryPorts();
    const input = delivery(QUARANTINE_TOPIC, { action: "quarantine", eventId: "q-1" });
    const result = await ingest(memory, input);
    expect(result).toMatchObject({ publishState: "published", topic: "acr-quarantine" });
    expect(writeKinds(memory)).toEqual([
      ["create-record", "index-arrival", "create-logical", "add-pending"],
      ["set-record-status", "remove-pending"],
    ]);
    expect(memory.logical(input.event)).toMatchObject({
      action: "quarantine",
      digest: "sha256:abc",
      state: "no-twin",
      webhook: { eventIds: ["q-1"], count: 1 },
      publication: { by: "webhook", occurrence: 1 },
    });
    expect(memory.windows.size).toBe(0);
    expect(memory.pendingEventIds()).toEqual([]);
    expect(memory.published).toEqual([
      { topic: "acr-quarantine", message: topicMessageFor(input.event) },
    ]);
  });

  it("a quarantine whose publish failed waits on the pending list (it has no window to fall back on)", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    const input = delivery(QUARANTINE_TOPIC, { action: "quarantine", eventId: "q-1" });
    await ingest(memory, input);
    expect(memory.pendingEventIds()).toEqual(["q-1"]);
    expect(memory.windows.size).toBe(0);
  });
});

describe("describeError", () => {
  it.each<[unknown, string]>([
    [new Error("boom"), "Error: boom"],
    [
      new DependencyUnavailableError("service-bus", "timeout"),
      "DependencyUnavailableError: service-bus unavailable: timeout",
    ],
    ["text", "text"],
    [42, "42"],
    [undefined, "undefined"],
  ])("%o -> %s", (error, expected) => {
    expect(describeError(error)).toBe(expected);
  });
});
