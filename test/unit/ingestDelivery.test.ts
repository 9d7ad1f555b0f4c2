import { describe, expect, it } from "vitest";
import {
  type DeliveryRecord,
  initialPublishState,
  type NewDelivery,
} from "../../src/core/deliveryRecord";
import { describeError, ingestDelivery } from "../../src/core/ingestDelivery";
import type { EventStore, Publisher, RecordOutcome } from "../../src/core/ports";
import { DependencyUnavailableError } from "../../src/core/ports";
import type { RegistryEvent } from "../../src/core/registryEvent";
import type { Route } from "../../src/core/routing";
import { type TopicMessage, topicMessageFor } from "../../src/core/topicMessage";

type Call =
  | { op: "record"; eventId: string }
  | { op: "publish"; topic: string; message: TopicMessage }
  | { op: "markPublished"; eventId: string; topic: string }
  | { op: "markPublishFailed"; eventId: string; error: string };

interface Faults {
  record?: Error;
  publish?: Error;
  markPublished?: Error;
  markPublishFailed?: Error;
}

/** An in-memory EventStore and Publisher writing every call, in order, to one shared log. */
class Recorder {
  readonly calls: Call[] = [];
  readonly records = new Map<string, DeliveryRecord>();
  constructor(private readonly faults: Faults = {}) {}

  readonly store: EventStore = {
    recordDelivery: async (delivery: NewDelivery): Promise<RecordOutcome> => {
      this.calls.push({ op: "record", eventId: delivery.event.eventId });
      if (this.faults.record) throw this.faults.record;
      const existing = this.records.get(delivery.event.eventId);
      if (existing) {
        existing.deliveryCount += 1;
        return { kind: "duplicate", record: existing };
      }
      const record: DeliveryRecord = {
        ...delivery,
        publishState: initialPublishState(delivery.route),
        deliveryCount: 1,
        arrivals: [],
        publishedTopics: [],
        publishAttempts: 0,
      };
      this.records.set(delivery.event.eventId, record);
      return { kind: "created", record };
    },
    markPublished: async (event: RegistryEvent, topic: string) => {
      this.calls.push({ op: "markPublished", eventId: event.eventId, topic });
      if (this.faults.markPublished) throw this.faults.markPublished;
      const record = this.records.get(event.eventId);
      if (record) record.publishState = "published";
    },
    markPublishFailed: async (event: RegistryEvent, error: string) => {
      this.calls.push({ op: "markPublishFailed", eventId: event.eventId, error });
      if (this.faults.markPublishFailed) throw this.faults.markPublishFailed;
    },
    listPending: async () => [...this.records.values()].filter((r) => r.publishState === "pending"),
  };

  readonly publisher: Publisher = {
    publish: async (topic: string, message: TopicMessage) => {
      this.calls.push({ op: "publish", topic, message });
      if (this.faults.publish) throw this.faults.publish;
    },
  };

  ops(): string[] {
    return this.calls.map((call) => call.op);
  }
}

const PUSH_TOPIC: Route = { kind: "topic", topic: "acr-push" };

function delivery(route: Route = PUSH_TOPIC, eventId = "evt-1"): NewDelivery {
  const event: RegistryEvent = {
    eventId,
    action: "push",
    timestamp: "2023-11-17T16:52:01.343145347Z",
    occurredAt: Date.parse("2023-11-17T16:52:01.343Z"),
    registry: "myregistry.azurecr.io",
    repository: "hello-world",
    tag: "v1",
    digest: "sha256:abc",
    origin: "webhook",
    payload: { id: eventId, action: "push" },
  };
  return {
    event,
    route,
    receivedAt: Date.parse("2023-11-17T16:52:02Z"),
    request: { method: "POST", uri: "https://bridge/api/acr", headers: {} },
  };
}

describe("ingestDelivery: a routed event", () => {
  it("records, then publishes, then marks published", async () => {
    const recorder = new Recorder();
    const input = delivery();
    const result = await ingestDelivery(input, recorder.store, recorder.publisher);
    expect(recorder.ops()).toEqual(["record", "publish", "markPublished"]);
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
  });

  it("publishes the event's topic message to the routed topic", async () => {
    const recorder = new Recorder();
    const input = delivery({ kind: "topic", topic: "custom-topic" });
    await ingestDelivery(input, recorder.store, recorder.publisher);
    const publish = recorder.calls.find((call) => call.op === "publish");
    expect(publish).toEqual({
      op: "publish",
      topic: "custom-topic",
      message: topicMessageFor(input.event),
    });
    expect(recorder.calls.at(-1)).toEqual({
      op: "markPublished",
      eventId: "evt-1",
      topic: "custom-topic",
    });
  });

  it("does not publish before the record is stored", async () => {
    let recordSettled = false;
    let publishedBeforeRecord = false;
    const recorder = new Recorder();
    const slowStore: EventStore = {
      ...recorder.store,
      recordDelivery: async (input) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        const outcome = await recorder.store.recordDelivery(input);
        recordSettled = true;
        return outcome;
      },
    };
    const publisher: Publisher = {
      publish: async (topic, message) => {
        publishedBeforeRecord = !recordSettled;
        await recorder.publisher.publish(topic, message);
      },
    };
    await ingestDelivery(delivery(), slowStore, publisher);
    expect(publishedBeforeRecord).toBe(false);
    expect(recorder.ops()).toEqual(["record", "publish", "markPublished"]);
  });
});

describe("ingestDelivery: nothing to publish", () => {
  it("a duplicate delivery is counted and not published again", async () => {
    const recorder = new Recorder();
    await ingestDelivery(delivery(), recorder.store, recorder.publisher);
    recorder.calls.length = 0;
    const result = await ingestDelivery(delivery(), recorder.store, recorder.publisher);
    expect(recorder.ops()).toEqual(["record"]);
    expect(result).toMatchObject({
      duplicate: true,
      deliveryCount: 2,
      publishState: "published",
      topic: "acr-push",
      warnings: [],
    });
  });

  it("a duplicate of a delivery whose publish failed stays pending, not re-published", async () => {
    const failing = new Recorder({ publish: new Error("bus down") });
    await ingestDelivery(delivery(), failing.store, failing.publisher);
    failing.calls.length = 0;
    const result = await ingestDelivery(delivery(), failing.store, failing.publisher);
    expect(failing.ops()).toEqual(["record"]);
    expect(result).toMatchObject({ duplicate: true, publishState: "pending" });
    expect(result.publishError).toBeUndefined();
  });

  it.each(["ping", "unknown-action", "out-of-scope"] as const)(
    "a not-routed event (%s) is recorded only",
    async (reason) => {
      const recorder = new Recorder();
      const result = await ingestDelivery(
        delivery({ kind: "not-routed", reason }),
        recorder.store,
        recorder.publisher,
      );
      expect(recorder.ops()).toEqual(["record"]);
      expect(result).toStrictEqual({
        eventId: "evt-1",
        action: "push",
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
  it("a publish failure leaves the record pending, with the error, and marks the failure", async () => {
    const recorder = new Recorder({ publish: new TypeError("bus unreachable") });
    const result = await ingestDelivery(delivery(), recorder.store, recorder.publisher);
    expect(recorder.ops()).toEqual(["record", "publish", "markPublishFailed"]);
    expect(recorder.ops()).not.toContain("markPublished");
    expect(result.publishState).toBe("pending");
    expect(result.publishError).toBe("TypeError: bus unreachable");
    expect(result.duplicate).toBe(false);
    expect(result.topic).toBe("acr-push");
    expect(result.warnings).toEqual([]);
    expect(recorder.calls.at(-1)).toEqual({
      op: "markPublishFailed",
      eventId: "evt-1",
      error: "TypeError: bus unreachable",
    });
    expect(await recorder.store.listPending(10)).toHaveLength(1);
  });

  it("a publish failure that is not an Error is still described", async () => {
    const recorder = new Recorder();
    const publisher: Publisher = {
      publish: async () => {
        throw "socket closed";
      },
    };
    const result = await ingestDelivery(delivery(), recorder.store, publisher);
    expect(result.publishState).toBe("pending");
    expect(result.publishError).toBe("socket closed");
  });

  it("a markPublishFailed failure after a publish failure becomes a warning", async () => {
    const recorder = new Recorder({
      publish: new Error("bus down"),
      markPublishFailed: new Error("table down"),
    });
    const result = await ingestDelivery(delivery(), recorder.store, recorder.publisher);
    expect(result.publishState).toBe("pending");
    expect(result.publishError).toBe("Error: bus down");
    expect(result.warnings).toEqual(["Error: table down"]);
  });

  it.each([
    ["an Error", new Error("table unavailable")],
    ["a DependencyUnavailableError", new DependencyUnavailableError("table-storage", "timeout")],
  ])("a store failure (%s) propagates and nothing is published", async (_name, failure) => {
    const recorder = new Recorder({ record: failure });
    await expect(ingestDelivery(delivery(), recorder.store, recorder.publisher)).rejects.toBe(
      failure,
    );
    expect(recorder.ops()).toEqual(["record"]);
  });

  it("a markPublished failure is a warning; the result is still published", async () => {
    const recorder = new Recorder({ markPublished: new RangeError("etag mismatch") });
    const result = await ingestDelivery(delivery(), recorder.store, recorder.publisher);
    expect(recorder.ops()).toEqual(["record", "publish", "markPublished"]);
    expect(result.publishState).toBe("published");
    expect(result.publishError).toBeUndefined();
    expect(result.warnings).toEqual(["RangeError: etag mismatch"]);
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
