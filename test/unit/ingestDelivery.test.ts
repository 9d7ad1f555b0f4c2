import { describe, expect, it } from "vitest";
import { type LogicalEvent, logicalKeyFor, withArrival } from "../../src/core/crossCheck";
import type { NewDelivery } from "../../src/core/deliveryRecord";
import { describeError, type IngestPorts, ingestDelivery } from "../../src/core/ingestDelivery";
import { DependencyUnavailableError, type EventStore, type Publisher } from "../../src/core/ports";
import type { RegistryEvent } from "../../src/core/registryEvent";
import type { Route } from "../../src/core/routing";
import { type TopicMessage, topicMessageFor } from "../../src/core/topicMessage";
import { always, MemoryPorts, type PortCall, registryEvent, T0 } from "./memoryPorts";

const WINDOW_MS = 300_000;
const PUSH_TOPIC: Route = { kind: "topic", topic: "acr-push" };
const DELETE_TOPIC: Route = { kind: "topic", topic: "acr-delete" };

function delivery(
  route: Route = PUSH_TOPIC,
  overrides: Partial<RegistryEvent> = {},
  receivedAt = T0 + 1_000,
): NewDelivery {
  return {
    event: registryEvent(overrides),
    route,
    receivedAt,
    request: { method: "POST", uri: "https://bridge/api/acr", headers: {} },
  };
}

function portsOf(memory: MemoryPorts, overrides: Partial<IngestPorts> = {}): IngestPorts {
  return { ...memory.ingestPorts(WINDOW_MS), ...overrides };
}

function ingest(memory: MemoryPorts, input: NewDelivery = delivery()) {
  return ingestDelivery(input, portsOf(memory));
}

/** The calls to the event store and the publisher, in order. */
function storeAndPublish(memory: MemoryPorts): PortCall[] {
  return memory
    .calls()
    .filter((call) => call.startsWith("store.") || call.startsWith("publisher."));
}

function crossCheckCalls(memory: MemoryPorts): PortCall[] {
  return memory
    .calls()
    .filter((call) => call.startsWith("crossCheck.") || call.startsWith("tags."));
}

describe("ingestDelivery: a routed webhook", () => {
  it("records, notes the arrival, publishes, then marks the record and the logical event", async () => {
    const memory = new MemoryPorts();
    const result = await ingest(memory);
    expect(memory.calls()).toEqual([
      "store.recordDelivery",
      "tags.remember",
      "crossCheck.noteArrival",
      "publisher.publish",
      "store.markPublished",
      "crossCheck.markPublishedBy",
    ]);
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
    const key = logicalKeyFor(registryEvent());
    expect(memory.callsOf("crossCheck.markPublishedBy")).toEqual([[key, "webhook"]]);
    expect(memory.logicals.get(key)?.publishedBy).toBe("webhook");
    expect(memory.record(registryEvent())).toMatchObject({
      publishState: "published",
      publishedTopics: ["acr-push"],
    });
  });

  it("publishes the event's topic message to the routed topic", async () => {
    const memory = new MemoryPorts();
    const input = delivery({ kind: "topic", topic: "custom-topic" });
    await ingest(memory, input);
    expect(memory.published).toEqual([
      { topic: "custom-topic", message: topicMessageFor(input.event) },
    ]);
    expect(memory.callsOf("store.markPublished")).toEqual([[input.event, "custom-topic"]]);
  });

  it("notes the arrival at its receipt time with the configured window", async () => {
    const memory = new MemoryPorts();
    const input = delivery(PUSH_TOPIC, {}, T0 + 42);
    await ingest(memory, input);
    expect(memory.callsOf("crossCheck.noteArrival")).toEqual([[input.event, T0 + 42, WINDOW_MS]]);
    expect(memory.logicals.get(logicalKeyFor(input.event))).toMatchObject({
      state: "open",
      firstSeenAt: T0 + 42,
      windowClosesAt: T0 + 42 + WINDOW_MS,
      webhook: { eventIds: ["evt-1"], count: 1 },
    });
  });

  it("does not publish before the record is stored", async () => {
    let recordSettled = false;
    let publishedBeforeRecord = false;
    const memory = new MemoryPorts();
    const slowStore: EventStore = {
      ...memory.store,
      recordDelivery: async (input) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        const outcome = await memory.store.recordDelivery(input);
        recordSettled = true;
        return outcome;
      },
    };
    const publisher: Publisher = {
      publish: async (topic, message) => {
        publishedBeforeRecord = !recordSettled;
        await memory.publisher.publish(topic, message);
      },
    };
    await ingestDelivery(delivery(), portsOf(memory, { store: slowStore, publisher }));
    expect(publishedBeforeRecord).toBe(false);
    expect(storeAndPublish(memory)).toEqual([
      "store.recordDelivery",
      "publisher.publish",
      "store.markPublished",
    ]);
  });
});

describe("ingestDelivery: nothing to publish", () => {
  it("a duplicate delivery is counted and not published again", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.log.length = 0;
    const result = await ingest(memory);
    expect(storeAndPublish(memory)).toEqual(["store.recordDelivery"]);
    expect(memory.published).toHaveLength(1);
    expect(result).toMatchObject({
      duplicate: true,
      deliveryCount: 2,
      publishState: "published",
      topic: "acr-push",
      warnings: [],
    });
  });

  it("a duplicate of a delivery whose publish failed stays pending, not re-published", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    await ingest(memory);
    memory.log.length = 0;
    const result = await ingest(memory);
    expect(storeAndPublish(memory)).toEqual(["store.recordDelivery"]);
    expect(result).toMatchObject({ duplicate: true, publishState: "pending" });
    expect(result.publishError).toBeUndefined();
  });

  it.each<{
    reason: "ping" | "unknown-action" | "out-of-scope";
    action: string;
    crossChecked: PortCall[];
  }>([
    { reason: "ping", action: "ping", crossChecked: ["crossCheck.indexArrival"] },
    { reason: "unknown-action", action: "untag", crossChecked: ["crossCheck.indexArrival"] },
    {
      reason: "out-of-scope",
      action: "push",
      crossChecked: ["tags.remember", "crossCheck.noteArrival"],
    },
  ])(
    "a not-routed event ($reason) is recorded only, never published",
    async ({ reason, action, crossChecked }) => {
      const memory = new MemoryPorts();
      const result = await ingest(memory, delivery({ kind: "not-routed", reason }, { action }));
      expect(storeAndPublish(memory)).toEqual(["store.recordDelivery"]);
      expect(crossCheckCalls(memory)).toEqual(crossChecked);
      expect(memory.published).toEqual([]);
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

describe("ingestDelivery: failures", () => {
  it("a publish failure leaves the record pending, with the error, and marks the failure with the time", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new TypeError("bus unreachable")),
    });
    const before = Date.now();
    const result = await ingest(memory);
    const after = Date.now();
    expect(storeAndPublish(memory)).toEqual([
      "store.recordDelivery",
      "publisher.publish",
      "store.markPublishFailed",
    ]);
    expect(memory.calls()).not.toContain("crossCheck.markPublishedBy");
    expect(result).toMatchObject({
      publishState: "pending",
      publishError: "TypeError: bus unreachable",
      duplicate: false,
      topic: "acr-push",
      warnings: [],
    });
    const [[event, error, at]] = memory.callsOf("store.markPublishFailed");
    expect(event).toEqual(registryEvent());
    expect(error).toBe("TypeError: bus unreachable");
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
    expect(await memory.store.listPending(10, () => true)).toMatchObject([
      { publishState: "pending", publishAttempts: 1, lastError: "TypeError: bus unreachable" },
    ]);
    expect(memory.logicals.get(logicalKeyFor(registryEvent()))?.publishedBy).toBeUndefined();
  });

  it("a publish failure that is not an Error is still described", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always("socket closed") });
    const result = await ingest(memory);
    expect(result.publishState).toBe("pending");
    expect(result.publishError).toBe("socket closed");
  });

  it.each<{ name: string; origin: "webhook" | "eventgrid"; failure: Error }>([
    { name: "a webhook's Error", origin: "webhook", failure: new Error("table unavailable") },
    { name: "an Event Grid Error", origin: "eventgrid", failure: new Error("table unavailable") },
    {
      name: "an Event Grid DependencyUnavailableError",
      origin: "eventgrid",
      failure: new DependencyUnavailableError("table-storage", "timeout"),
    },
  ])("a store failure ($name) propagates and nothing else happens", async ({ origin, failure }) => {
    const memory = new MemoryPorts({ "store.recordDelivery": always(failure) });
    await expect(ingest(memory, delivery(PUSH_TOPIC, { origin }))).rejects.toBe(failure);
    expect(memory.calls()).toEqual(["store.recordDelivery"]);
  });

  it.each<{ name: string; fault: PortCall; error: Error; publishState: string; published: number }>(
    [
      {
        name: "markPublished",
        fault: "store.markPublished",
        error: new RangeError("etag mismatch"),
        publishState: "published",
        published: 1,
      },
      {
        name: "markPublishedBy",
        fault: "crossCheck.markPublishedBy",
        error: new Error("logical table down"),
        publishState: "published",
        published: 1,
      },
      {
        name: "the cross-check",
        fault: "crossCheck.noteArrival",
        error: new DependencyUnavailableError("table-storage", "timeout"),
        publishState: "published",
        published: 1,
      },
      {
        name: "the tag memory",
        fault: "tags.remember",
        error: new Error("tags table down"),
        publishState: "published",
        published: 1,
      },
    ],
  )(
    "a webhook's $name failure is a warning; the event is still published",
    async ({ fault, error, publishState, published }) => {
      const memory = new MemoryPorts({ [fault]: always(error) });
      const result = await ingest(memory);
      expect(result.publishState).toBe(publishState);
      expect(result.publishError).toBeUndefined();
      expect(result.warnings).toEqual([describeError(error)]);
      expect(memory.published).toHaveLength(published);
    },
  );

  it("a markPublishFailed failure after a publish failure becomes a warning", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new Error("bus down")),
      "store.markPublishFailed": always(new Error("table down")),
    });
    const result = await ingest(memory);
    expect(result.publishState).toBe("pending");
    expect(result.publishError).toBe("Error: bus down");
    expect(result.warnings).toEqual(["Error: table down"]);
  });

  it("every bookkeeping failure is reported, in order", async () => {
    const memory = new MemoryPorts({
      "crossCheck.noteArrival": always(new Error("cross-check down")),
      "store.markPublished": always(new Error("records down")),
      "crossCheck.markPublishedBy": always(new Error("logical down")),
    });
    const result = await ingest(memory);
    expect(result.publishState).toBe("published");
    expect(result.warnings).toEqual([
      "Error: cross-check down",
      "Error: records down",
      "Error: logical down",
    ]);
  });

  it("a webhook whose tag memory failed is still noted for the cross-check", async () => {
    const memory = new MemoryPorts({ "tags.remember": always(new Error("tags table down")) });
    await ingest(memory);
    expect(memory.logicals.get(logicalKeyFor(registryEvent()))?.webhook?.eventIds).toEqual([
      "evt-1",
    ]);
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
      warnings: [describeError(storageDown)],
    },
    {
      name: "a routed webhook whose publish fails is journaled as pending",
      route: PUSH_TOPIC,
      faults: ["publisher.publish"],
      publishState: "pending",
      published: false,
      journaled: true,
      warnings: [describeError(storageDown), "Error: injected publisher.publish"],
    },
    {
      name: "a not-routed webhook is journaled only",
      route: NOT_ROUTED,
      faults: [],
      publishState: "not-routed",
      published: false,
      journaled: true,
      warnings: [describeError(storageDown)],
    },
    {
      name: "a published webhook whose journal fails is published with a warning",
      route: PUSH_TOPIC,
      faults: ["journal.append"],
      publishState: "published",
      published: true,
      journaled: false,
      warnings: [
        describeError(storageDown),
        "journal: Error: injected journal.append; the message is on its topic, its record is lost",
      ],
    },
  ])("$name", async ({ route, faults, publishState, published, journaled, warnings }) => {
    const memory = new MemoryPorts({ "store.recordDelivery": always(storageDown) });
    for (const fault of faults) memory.faults[fault] = always(new Error(`injected ${fault}`));
    const input = delivery(route);
    const result = await ingest(memory, input);
    expect(result).toMatchObject({ publishState, journaled: true, duplicate: false, warnings });
    expect(memory.published).toEqual(
      published ? [{ topic: "acr-push", message: topicMessageFor(input.event) }] : [],
    );
    expect(memory.journaled).toEqual(journaled ? [{ delivery: input, published }] : []);
    expect(crossCheckCalls(memory)).toEqual([]);
  });

  it("the storage error propagates when neither the topic nor the journal took the delivery", async () => {
    const memory = new MemoryPorts({
      "store.recordDelivery": always(storageDown),
      "publisher.publish": always(new Error("bus down")),
      "journal.append": always(new Error("bus down")),
    });
    await expect(ingest(memory)).rejects.toBe(storageDown);
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
    "a $name arrival is recorded and noted, never published at ingest",
    async ({ route, publishState }) => {
      const memory = new MemoryPorts();
      const input = fromEventGrid(route);
      const result = await ingest(memory, input);
      expect(memory.calls()).toEqual([
        "store.recordDelivery",
        "tags.remember",
        "crossCheck.noteArrival",
      ]);
      expect(memory.published).toEqual([]);
      expect(result).toMatchObject({ duplicate: false, publishState, warnings: [] });
      expect(memory.record(input.event)?.publishState).toBe(publishState);
      expect(memory.logicals.get(logicalKeyFor(input.event))).toMatchObject({
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

  it("a retried Event Grid delivery is counted and noted again, still not published", async () => {
    const memory = new MemoryPorts();
    await ingest(memory, fromEventGrid());
    const result = await ingest(memory, fromEventGrid());
    expect(result).toMatchObject({ duplicate: true, deliveryCount: 2, publishState: "held" });
    expect(memory.callsOf("crossCheck.noteArrival")).toHaveLength(2);
    expect(memory.published).toEqual([]);
    expect(memory.logicals.get(logicalKeyFor(registryEvent()))?.eventGrid).toMatchObject({
      eventIds: ["evt-1"],
      count: 2,
    });
  });

  it.each<{ name: string; fault: PortCall }>([
    { name: "cross-check", fault: "crossCheck.noteArrival" },
    { name: "tag memory", fault: "tags.remember" },
  ])("a $name failure propagates so that Event Grid retries", async ({ fault }) => {
    const failure = new DependencyUnavailableError("table-storage", "timeout");
    const memory = new MemoryPorts({ [fault]: always(failure) });
    await expect(ingest(memory, fromEventGrid())).rejects.toBe(failure);
    expect(memory.published).toEqual([]);
  });
});

describe("ingestDelivery: a logical event already on its topic", () => {
  const key = logicalKeyFor(registryEvent());

  it.each<{ name: string; seed: (memory: MemoryPorts) => Promise<void>; coveredBy: string }>([
    {
      name: "recovered from Event Grid before its webhook came",
      coveredBy: "eventgrid",
      seed: async (memory) => {
        const arrival = registryEvent({ origin: "eventgrid" });
        const open = withArrival(undefined, arrival, T0, WINDOW_MS);
        const closed: LogicalEvent = { ...open, state: "eventgrid-only", publishedBy: "eventgrid" };
        memory.seedLogical(closed, [arrival]);
      },
    },
    {
      name: "published by another regional webhook",
      coveredBy: "webhook",
      seed: async (memory) => {
        await ingest(memory, delivery(PUSH_TOPIC, { eventId: "evt-west", region: "westus" }));
      },
    },
  ])(
    "a webhook of a logical event $name is marked published without publishing",
    async ({ seed, coveredBy }) => {
      const memory = new MemoryPorts();
      await seed(memory);
      const before = memory.published.length;
      memory.log.length = 0;
      const input = delivery(PUSH_TOPIC, { eventId: "evt-late", region: "eastus" }, T0 + 60_000);
      const result = await ingest(memory, input);
      expect(memory.published).toHaveLength(before);
      expect(storeAndPublish(memory)).toEqual(["store.recordDelivery", "store.markPublished"]);
      expect(memory.callsOf("store.markPublished")).toEqual([[input.event, "acr-push"]]);
      expect(result).toMatchObject({
        eventId: "evt-late",
        duplicate: false,
        publishState: "published",
        coveredBy,
        warnings: [],
      });
      expect(memory.record(input.event)?.publishState).toBe("published");
      expect(memory.logicals.get(key)?.publishedBy).toBe(coveredBy);
    },
  );

  it("a covered webhook's markPublished failure is a warning", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.faults["store.markPublished"] = always(new Error("table down"));
    // Another region's webhook for the same push.
    const result = await ingest(
      memory,
      delivery(PUSH_TOPIC, { eventId: "evt-2", region: "eastus" }),
    );
    expect(result).toMatchObject({
      publishState: "published",
      coveredBy: "webhook",
      warnings: ["Error: table down"],
    });
    expect(memory.published).toHaveLength(1);
  });

  it("when the cross-check cannot answer, the webhook is published (duplicate detection drops a copy)", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    memory.faults["crossCheck.noteArrival"] = always(new Error("cross-check down"));
    const result = await ingest(memory, delivery(PUSH_TOPIC, { eventId: "evt-2" }));
    expect(result.coveredBy).toBeUndefined();
    expect(result.publishState).toBe("published");
    expect(memory.published.map((entry) => entry.message.messageId)).toEqual([
      topicMessageFor(registryEvent()).messageId,
      topicMessageFor(registryEvent()).messageId,
    ]);
  });
});

describe("ingestDelivery: tags of a digest", () => {
  it.each<{ name: string; event: Partial<RegistryEvent>; remembered: boolean }>([
    { name: "a webhook push with tag and digest", event: {}, remembered: true },
    {
      name: "an Event Grid push with tag and digest",
      event: { origin: "eventgrid" },
      remembered: true,
    },
    { name: "a push without a tag", event: { tag: undefined }, remembered: false },
    { name: "a push without a digest", event: { digest: undefined }, remembered: false },
    { name: "a chart push", event: { action: "chart_push" }, remembered: false },
    { name: "a delete", event: { action: "delete", tag: undefined }, remembered: false },
  ])("$name: remembered $remembered", async ({ event, remembered }) => {
    const memory = new MemoryPorts();
    await ingest(memory, delivery(PUSH_TOPIC, event));
    expect(memory.callsOf("tags.remember")).toHaveLength(remembered ? 1 : 0);
    expect(memory.tagsByDigest.size).toBe(remembered ? 1 : 0);
  });

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

  it("a push is published without looking tags up", async () => {
    const memory = new MemoryPorts();
    await ingest(memory);
    expect(memory.calls()).not.toContain("tags.tagsOf");
    expect(memory.published[0]?.message.applicationProperties.tags).toBeUndefined();
  });

  it("a tag lookup failure does not hold the delete back: it is published without tags", async () => {
    const memory = new MemoryPorts({ "tags.tagsOf": always(new Error("tags table down")) });
    const result = await ingest(
      memory,
      delivery(DELETE_TOPIC, { action: "delete", tag: undefined }),
    );
    expect(result).toMatchObject({ publishState: "published" });
    expect(memory.published).toHaveLength(1);
    expect(memory.published[0].message.applicationProperties.tags).toBeUndefined();
  });
});

describe("ingestDelivery: actions without a twin", () => {
  it.each<{ action: string; route: Route }>([
    { action: "quarantine", route: { kind: "topic", topic: "acr-quarantine" } },
    { action: "ping", route: { kind: "not-routed", reason: "ping" } },
  ])(
    "$action is only indexed by id: no logical event, no tag memory",
    async ({ action, route }) => {
      const memory = new MemoryPorts({
        "crossCheck.noteArrival": always(new Error("must not be called")),
        "crossCheck.markPublishedBy": always(new Error("must not be called")),
        "tags.remember": always(new Error("must not be called")),
      });
      const result = await ingest(memory, delivery(route, { action }));
      expect(crossCheckCalls(memory)).toEqual(["crossCheck.indexArrival"]);
      expect(result.warnings).toEqual([]);
      expect(memory.published).toHaveLength(route.kind === "topic" ? 1 : 0);
    },
  );
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
