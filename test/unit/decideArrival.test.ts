import { describe, expect, it } from "vitest";
import { type LogicalEvent, logicalRefFor, withArrival } from "../../src/core/crossCheck";
import {
  decideArrival,
  needsStateFirst,
  publishedChanges,
  publishFailedChanges,
} from "../../src/core/decideArrival";
import { type NewDelivery, newRecord } from "../../src/core/deliveryRecord";
import type { RegistryEvent } from "../../src/core/registryEvent";
import type { Route } from "../../src/core/routing";
import { messageIdFor, topicMessageFor } from "../../src/core/topicMessage";
import type { ArrivalState, Change, Versioned } from "../../src/core/writePlan";
import { deliveryOf, kindsOf, registryEvent, T0 } from "./memoryPorts";

const WINDOW_MS = 300_000;
const PUSH: Route = { kind: "topic", topic: "acr-push" };
const DELETE: Route = { kind: "topic", topic: "acr-delete" };
const RECEIVED_AT = T0 + 1_000;

function delivery(
  overrides: Partial<RegistryEvent> = {},
  route: Route = PUSH,
  receivedAt = RECEIVED_AT,
): NewDelivery {
  return deliveryOf(registryEvent(overrides), route, receivedAt);
}

function versioned<T>(value: T, version = "v7"): Versioned<T> {
  return { value, version };
}

/** The logical event of `event` after it arrived at `at`, as the store would return it. */
function seen(event: RegistryEvent, at = T0, extra: Partial<LogicalEvent> = {}) {
  return versioned({ ...withArrival(undefined, event, at, WINDOW_MS), ...extra });
}

function changeOf<K extends Change["kind"]>(changes: Change[], kind: K) {
  return changes.find((change): change is Extract<Change, { kind: K }> => change.kind === kind);
}

describe("needsStateFirst", () => {
  it.each<{ name: string; event: Partial<RegistryEvent>; needs: boolean }>([
    { name: "a webhook push: decided as new content", event: {}, needs: false },
    { name: "a webhook ping", event: { action: "ping", digest: undefined }, needs: false },
    {
      name: "a webhook delete of a digest: needs its tags",
      event: { action: "delete" },
      needs: true,
    },
    {
      name: "a webhook delete without a digest",
      event: { action: "delete", digest: undefined },
      needs: false,
    },
    {
      name: "an Event Grid push: usually joins its webhook",
      event: { origin: "eventgrid" },
      needs: true,
    },
  ])("$name -> $needs", ({ event, needs }) => {
    expect(needsStateFirst(registryEvent(event))).toBe(needs);
  });
});

describe("decideArrival: what each arrival changes", () => {
  it.each<{
    name: string;
    input: NewDelivery;
    state?: ArrivalState;
    kinds: Change["kind"][];
    publishState: string;
    published: boolean;
  }>([
    {
      name: "new content, nothing read",
      input: delivery(),
      kinds: ["create-record", "index-arrival", "create-logical", "open-window", "add-pending"],
      publishState: "pending",
      published: true,
    },
    {
      name: "new content, nothing stored",
      input: delivery(),
      state: { related: [] },
      kinds: ["create-record", "index-arrival", "create-logical", "open-window", "add-pending"],
      publishState: "pending",
      published: true,
    },
    {
      name: "a not-routed push: cross-checked, not pending",
      input: delivery({}, { kind: "not-routed", reason: "out-of-scope" }),
      kinds: ["create-record", "index-arrival", "create-logical", "open-window"],
      publishState: "not-routed",
      published: false,
    },
    {
      name: "an Event Grid arrival: held, not pending, not published",
      input: delivery({ origin: "eventgrid" }),
      state: { related: [] },
      kinds: ["create-record", "index-arrival", "create-logical", "open-window"],
      publishState: "held",
      published: false,
    },
    {
      name: "a ping: no logical event",
      input: delivery({ action: "ping" }, { kind: "not-routed", reason: "ping" }),
      kinds: ["create-record", "index-arrival"],
      publishState: "not-routed",
      published: false,
    },
    {
      name: "a quarantine: no logical event, published",
      input: delivery({ action: "quarantine" }, { kind: "topic", topic: "acr-quarantine" }),
      kinds: ["create-record", "index-arrival", "add-pending"],
      publishState: "pending",
      published: true,
    },
    {
      name: "the other side's twin joins the logical event; the window stays where it is",
      input: delivery({ origin: "eventgrid", eventId: "eg-1" }),
      state: { related: [seen(registryEvent())] },
      kinds: ["create-record", "index-arrival", "replace-logical"],
      publishState: "held",
      published: false,
    },
  ])("$name: $kinds", ({ input, state, kinds, publishState, published }) => {
    const decision = decideArrival(input, state, WINDOW_MS);
    expect(kindsOf(decision.changes)).toEqual(kinds);
    expect(decision.duplicate).toBe(false);
    expect(decision.record.publishState).toBe(publishState);
    expect(decision.publish !== undefined).toBe(published);
    expect(decision.coveredBy).toBeUndefined();
    expect(changeOf(decision.changes, "create-record")?.record).toEqual(decision.record);
    expect(changeOf(decision.changes, "index-arrival")).toEqual({
      kind: "index-arrival",
      event: input.event,
      logicalKey: logicalRefFor(input.event).key,
    });
  });

  it("new content: one record, one logical event with its window, pending, published with the content's message id", () => {
    const input = delivery();
    const decision = decideArrival(input, undefined, WINDOW_MS);
    const logical = withArrival(undefined, input.event, RECEIVED_AT, WINDOW_MS);
    expect(decision.logical).toEqual(logical);
    expect(decision.record).toEqual(newRecord(input, 1));
    expect(decision.changes).toEqual([
      { kind: "create-record", record: decision.record },
      { kind: "index-arrival", event: input.event, logicalKey: logical.key },
      { kind: "create-logical", logical },
      { kind: "open-window", window: logical },
      { kind: "add-pending", record: decision.record },
    ]);
    expect(decision.publish).toEqual({ topic: "acr-push", message: topicMessageFor(input.event) });
    expect(decision.publish?.message.messageId).toBe(messageIdFor(input.event, 1));
    expect(logical.windowClosesAt).toBe(RECEIVED_AT + WINDOW_MS);
  });

  it("a repeat of a recorded id: its record counted under its version, a duplicate, nothing published", () => {
    const input = delivery();
    const recorded = versioned(
      { ...newRecord(input, 1), publishState: "published" as const },
      "r3",
    );
    const logical = seen(input.event, RECEIVED_AT);
    const decision = decideArrival(input, { recorded, related: [logical] }, WINDOW_MS);
    expect(decision.duplicate).toBe(true);
    expect(decision.publish).toBeUndefined();
    expect(kindsOf(decision.changes)).toEqual(["replace-record", "replace-logical"]);
    expect(changeOf(decision.changes, "replace-record")).toMatchObject({
      version: "r3",
      record: { deliveryCount: 2, publishState: "published" },
    });
    expect(decision.record.arrivals).toHaveLength(2);
    expect(changeOf(decision.changes, "replace-logical")).toMatchObject({
      version: logical.version,
      logical: { webhook: { eventIds: ["evt-1"], count: 2 } },
    });
  });

  it.each<{ name: string; by: "webhook" | "eventgrid"; first: RegistryEvent }>([
    {
      name: "recovered from Event Grid",
      by: "eventgrid",
      first: registryEvent({ origin: "eventgrid", eventId: "eg-1" }),
    },
    {
      name: "published by another regional webhook",
      by: "webhook",
      first: registryEvent({ eventId: "evt-west", region: "westus" }),
    },
  ])(
    "a logical event $name covers the arrival: recorded as published, nothing to publish",
    ({ by, first }) => {
      const covered = seen(first, T0, { publication: { by, occurrence: 1 } });
      const input = delivery({ eventId: "evt-east", region: "eastus" });
      const decision = decideArrival(input, { related: [covered] }, WINDOW_MS);
      expect(decision.coveredBy).toBe(by);
      expect(decision.publish).toBeUndefined();
      expect(decision.record).toMatchObject({
        publishState: "published",
        publishedTopics: ["acr-push"],
        occurrence: 1,
      });
      expect(kindsOf(decision.changes)).toEqual([
        "create-record",
        "index-arrival",
        "replace-logical",
      ]);
    },
  );

  it("a recurrence is a new occurrence: its own window and its own message id, published again", () => {
    const earlier = seen(registryEvent({ region: "westeurope" }), T0, {
      state: "matched",
      publication: { by: "webhook", occurrence: 1 },
    });
    const later = T0 + 10 * WINDOW_MS;
    const input = delivery({ eventId: "evt-2", region: "westeurope" }, PUSH, later);
    const decision = decideArrival(input, { related: [earlier] }, WINDOW_MS);
    expect(decision.logical).toMatchObject({ occurrence: 2, state: "open", firstSeenAt: later });
    expect(decision.logical?.publication).toBeUndefined();
    expect(decision.record.occurrence).toBe(2);
    expect(decision.coveredBy).toBeUndefined();
    expect(decision.publish?.message).toEqual(topicMessageFor(input.event, [], 2));
    expect(decision.publish?.message.messageId).not.toBe(messageIdFor(input.event));
    // Read state or not, a push carries no tags property: only deletes are enriched.
    expect(decision.publish?.message.applicationProperties.tags).toBeUndefined();
    expect(changeOf(decision.changes, "open-window")?.window).toMatchObject({
      windowClosesAt: later + WINDOW_MS,
    });
    expect(changeOf(decision.changes, "replace-logical")?.version).toBe(earlier.version);
  });

  it("a delete is published with the tags of its digest's pushes", () => {
    const input = delivery({ eventId: "del-1", action: "delete", tag: undefined }, DELETE);
    const related = [
      seen(registryEvent({ eventId: "p1", tag: "v2" })),
      seen(registryEvent({ eventId: "p2", tag: "latest", origin: "eventgrid" })),
      seen(registryEvent({ eventId: "c1", action: "chart_push", tag: "chart" })),
    ];
    const decision = decideArrival(input, { related }, WINDOW_MS);
    expect(decision.publish).toEqual({
      topic: "acr-delete",
      message: topicMessageFor(input.event, ["latest", "v2"]),
    });
    expect(decision.publish?.message.applicationProperties.tags).toBe("latest,v2");
    expect(kindsOf(decision.changes)).toEqual([
      "create-record",
      "index-arrival",
      "create-logical",
      "open-window",
      "add-pending",
    ]);
  });

  it("a delete decided without state is published without tags", () => {
    const input = delivery({ action: "delete", tag: undefined }, DELETE);
    const decision = decideArrival(input, undefined, WINDOW_MS);
    expect(decision.publish?.message.applicationProperties.tags).toBeUndefined();
  });
});

describe("publishedChanges and publishFailedChanges", () => {
  const record = newRecord(delivery(), 2);

  it("after a first publish of an event with a window: only the record is marked published", () => {
    expect(publishedChanges(record, "acr-push")).toEqual([
      {
        kind: "set-record-status",
        record,
        status: {
          publishState: "published",
          publishedTopics: ["acr-push"],
          publishAttempts: 1,
          lastError: undefined,
        },
      },
    ]);
  });

  it("after a re-driven publish: the record also leaves the pending list", () => {
    const redriven = { ...record, lastAttemptAt: T0 };
    expect(kindsOf(publishedChanges(redriven, "acr-push"))).toEqual([
      "set-record-status",
      "remove-pending",
    ]);
  });

  it("an action without a twin has no logical event to mark", () => {
    const quarantine = newRecord(
      delivery({ action: "quarantine" }, { kind: "topic", topic: "acr-quarantine" }),
    );
    expect(kindsOf(publishedChanges(quarantine, "acr-quarantine"))).toEqual([
      "set-record-status",
      "remove-pending",
    ]);
  });

  it("after a failed publish: the attempt counted with its time and error, still pending", () => {
    expect(publishFailedChanges(record, "Error: bus down", T0 + 5)).toEqual([
      {
        kind: "set-record-status",
        record,
        status: { publishAttempts: 1, lastAttemptAt: T0 + 5, lastError: "Error: bus down" },
      },
    ]);
  });
});
