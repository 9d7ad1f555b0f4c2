import { describe, expect, it } from "vitest";
import { type LogicalEvent, logicalRefFor, withArrival } from "../../src/core/crossCheck";
import {
  decideArrival,
  digestOf,
  onPendingList,
  patchBaseOf,
  publishedChanges,
  publishFailedChanges,
  readsLogicalFirst,
} from "../../src/core/decideArrival";
import {
  MAX_ARRIVALS,
  MAX_ATTEMPTS_KEPT,
  type NewDelivery,
  newRecord,
  withRepeatArrival,
} from "../../src/core/deliveryRecord";
import { eventAttributes, type RegistryEvent } from "../../src/core/registryEvent";
import type { Route } from "../../src/core/routing";
import { messageIdFor, topicMessageFor } from "../../src/core/topicMessage";
import type { ArrivalState, Change, Versioned } from "../../src/core/writePlan";
import { deliveryOf, kindsOf, registryEvent, T0 } from "./memoryPorts";
import { NEW_PUSH_WRITE } from "./writeKinds";

const WINDOW_MS = 300_000;
const PUSH: Route = { kind: "topic", topic: "acr-push" };
const DELETE: Route = { kind: "topic", topic: "acr-delete" };
const RECEIVED_AT = T0 + 1_000;
/** What a new push that opens a window on a logical event already stored changes. */
const PUSH_ON_A_KNOWN_LOGICAL_EVENT: Change["kind"][] = [
  "create-record",
  "index-arrival",
  "replace-logical",
  "open-window",
  "note-tag",
  "note-digest-tag",
];

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

describe("what an arrival reads before its first decision", () => {
  it.each<{ name: string; event: Partial<RegistryEvent>; logical: boolean; tags: boolean }>([
    { name: "a webhook push: decided as new content", event: {}, logical: false, tags: false },
    {
      name: "a webhook ping",
      event: { action: "ping", digest: undefined },
      logical: false,
      tags: false,
    },
    {
      name: "a webhook delete of a digest: its digest's tags",
      event: { action: "delete" },
      logical: false,
      tags: true,
    },
    {
      name: "a webhook delete without a digest",
      event: { action: "delete", digest: undefined },
      logical: false,
      tags: false,
    },
    {
      name: "an Event Grid push: usually joins its webhook",
      event: { origin: "eventgrid" },
      logical: true,
      tags: false,
    },
    {
      name: "an Event Grid delete of a digest: both",
      event: { origin: "eventgrid", action: "delete" },
      logical: true,
      tags: true,
    },
  ])("$name", ({ event, logical, tags }) => {
    const arrival = registryEvent(event);
    expect(readsLogicalFirst(arrival)).toBe(logical);
    expect(digestOf(arrival)).toEqual(
      tags
        ? { registry: arrival.registry, repository: arrival.repository, digest: arrival.digest }
        : undefined,
    );
  });
});

describe("patchBaseOf", () => {
  it.each<{ event: Partial<RegistryEvent>; base: string | undefined }>([
    { event: { tag: "1.25-1" }, base: "1.25" },
    { event: { tag: "1.25-999" }, base: "1.25" },
    { event: { tag: "v2-patched" }, base: "v2" },
    { event: { tag: "1.25" }, base: undefined },
    { event: { tag: "1.25-0" }, base: undefined },
    { event: { tag: undefined }, base: undefined },
    { event: { action: "delete", tag: "1.25-1" }, base: undefined },
  ])("$event -> $base", ({ event, base }) => {
    const pushed = registryEvent(event);
    expect(patchBaseOf(pushed)).toEqual(
      base === undefined
        ? undefined
        : { registry: pushed.registry, repository: pushed.repository, tag: base },
    );
  });
});

describe("decideArrival: Continuous Patching tags", () => {
  const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

  it.each<{
    name: string;
    event: Partial<RegistryEvent>;
    state?: ArrivalState;
    artifactKind: string;
  }>([
    {
      name: "a patch-like tag whose base was pushed",
      event: { tag: "1.25-1" },
      state: { baseTagSeen: true },
      artifactKind: "patch",
    },
    {
      name: "a floating `-patched` tag whose base was pushed",
      event: { tag: "1.25-patched" },
      state: { baseTagSeen: true },
      artifactKind: "patch",
    },
    {
      name: "a patch-like tag whose base was never pushed",
      event: { tag: "1.25-1" },
      state: { baseTagSeen: false },
      artifactKind: "image",
    },
    {
      name: "a patch-like tag decided without state",
      event: { tag: "1.25-1" },
      artifactKind: "image",
    },
    {
      name: "a multi-arch index with a patch-like tag: still an index",
      event: { tag: "1.25-1", mediaType: OCI_INDEX },
      state: { baseTagSeen: true },
      artifactKind: "index",
    },
    {
      name: "an Event Grid push of a patch (held, recorded as a patch)",
      event: { tag: "1.25-2", origin: "eventgrid" },
      state: { baseTagSeen: true },
      artifactKind: "patch",
    },
  ])("$name: $artifactKind on the record and the message", ({ event, state, artifactKind }) => {
    const input = delivery(event);
    const decision = decideArrival(input, state, WINDOW_MS);
    const recorded = changeOf(decision.changes, "create-record")?.record;
    expect(recorded && eventAttributes(recorded.event).artifactKind).toBe(artifactKind);
    if (decision.publish) {
      expect(decision.publish.message.applicationProperties.artifactKind).toBe(artifactKind);
    }
    // The content is the same whatever it is classified as: one logical event, one message id.
    expect(decision.logical?.key).toBe(logicalRefFor(input.event).key);
  });

  it.each<{ name: string; event: Partial<RegistryEvent>; noted: string | undefined }>([
    { name: "a tagged push", event: { tag: "1.25" }, noted: "1.25" },
    { name: "a patch-like push", event: { tag: "1.25-1" }, noted: "1.25-1" },
    { name: "an Event Grid push", event: { origin: "eventgrid" }, noted: "v1" },
    { name: "a digest-only push", event: { tag: undefined }, noted: undefined },
    { name: "a delete", event: { action: "delete" }, noted: undefined },
    { name: "a chart push", event: { action: "chart_push", tag: "1.0" }, noted: undefined },
  ])("$name notes its tag as pushed: $noted", ({ event, noted }) => {
    const input = delivery(event);
    const decision = decideArrival(input, {}, WINDOW_MS);
    expect(changeOf(decision.changes, "note-tag")?.tag).toEqual(
      noted === undefined
        ? undefined
        : { registry: input.event.registry, repository: input.event.repository, tag: noted },
    );
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
      name: "new content, nothing read: no pending marker, its window's close is the backstop",
      input: delivery(),
      kinds: NEW_PUSH_WRITE,
      publishState: "pending",
      published: true,
    },
    {
      name: "new content, nothing stored",
      input: delivery(),
      state: {},
      kinds: NEW_PUSH_WRITE,
      publishState: "pending",
      published: true,
    },
    {
      name: "a not-routed push: cross-checked, not pending",
      input: delivery({}, { kind: "not-routed", reason: "out-of-scope" }),
      kinds: NEW_PUSH_WRITE,
      publishState: "not-routed",
      published: false,
    },
    {
      name: "an Event Grid arrival: held, not pending, not published",
      input: delivery({ origin: "eventgrid" }),
      state: {},
      kinds: ["index-id", ...NEW_PUSH_WRITE],
      publishState: "held",
      published: false,
    },
    {
      name: "a connected registry's Event Grid push (no webhook to wait for): published, on the pending list",
      input: delivery({ origin: "eventgrid", connectedRegistry: "edge01" }),
      state: {},
      kinds: [
        "index-id",
        "create-record",
        "index-arrival",
        "add-pending",
        "note-tag",
        "note-digest-tag",
      ],
      publishState: "pending",
      published: true,
    },
    {
      name: "a ping: no logical event",
      input: delivery({ action: "ping" }, { kind: "not-routed", reason: "ping" }),
      kinds: ["create-record", "index-arrival"],
      publishState: "not-routed",
      published: false,
    },
    {
      name: "a quarantine of a digest: a no-twin logical event without a window, on the pending list",
      input: delivery({ action: "quarantine" }, { kind: "topic", topic: "acr-quarantine" }),
      kinds: ["create-record", "index-arrival", "create-logical", "add-pending"],
      publishState: "pending",
      published: true,
    },
    {
      name: "a quarantine without a digest: nothing to keep, on the pending list",
      input: delivery(
        { action: "quarantine", digest: undefined },
        { kind: "topic", topic: "acr-quarantine" },
      ),
      kinds: ["create-record", "index-arrival", "add-pending"],
      publishState: "pending",
      published: true,
    },
    {
      name: "the other side's twin joins the logical event; the window stays where it is",
      input: delivery({ origin: "eventgrid", eventId: "eg-1" }),
      state: { own: seen(registryEvent()) },
      kinds: [
        "index-id",
        "create-record",
        "index-arrival",
        "replace-logical",
        "note-tag",
        "note-digest-tag",
      ],
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
      record: decision.record,
      logicalKey: logicalRefFor(input.event).key,
    });
  });

  it("new content: one record, one logical event with its window claimed for this publish, pending without a marker, published with the content's message id", () => {
    const input = delivery();
    const decision = decideArrival(input, undefined, WINDOW_MS);
    const logical: LogicalEvent = {
      ...withArrival(undefined, input.event, RECEIVED_AT, WINDOW_MS),
      publication: { by: "webhook", occurrence: 1 },
    };
    expect(decision.logical).toEqual(logical);
    expect(decision.record).toEqual(newRecord(input, 1));
    expect(onPendingList(decision.record)).toBe(false);
    expect(decision.changes).toEqual([
      { kind: "create-record", record: decision.record },
      { kind: "index-arrival", record: decision.record, logicalKey: logical.key },
      { kind: "create-logical", logical },
      { kind: "open-window", window: logical },
      {
        kind: "note-tag",
        tag: { registry: input.event.registry, repository: "hello-world", tag: "v1" },
      },
      {
        kind: "note-digest-tag",
        digest: {
          registry: input.event.registry,
          repository: "hello-world",
          digest: input.event.digest,
        },
        tag: "v1",
      },
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
    const decision = decideArrival(input, { recorded, own: logical }, WINDOW_MS);
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

  it("a record keeps its latest arrivals, bounded, and counts every delivery", () => {
    let record = newRecord(delivery());
    for (let repeat = 1; repeat <= MAX_ARRIVALS; repeat++) {
      record = withRepeatArrival(record, delivery({}, PUSH, RECEIVED_AT + repeat));
    }
    expect(record.deliveryCount).toBe(MAX_ARRIVALS + 1);
    expect(record.arrivals).toHaveLength(MAX_ARRIVALS);
    expect(record.arrivals[0]?.receivedAt).toBe(new Date(RECEIVED_AT + 1).toISOString());
    expect(record.arrivals.at(-1)?.receivedAt).toBe(
      new Date(RECEIVED_AT + MAX_ARRIVALS).toISOString(),
    );
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
      const decision = decideArrival(input, { own: covered }, WINDOW_MS);
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
        "note-tag",
        "note-digest-tag",
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
    const decision = decideArrival(input, { own: earlier }, WINDOW_MS);
    expect(decision.logical).toMatchObject({ occurrence: 2, state: "open", firstSeenAt: later });
    // The earlier occurrence's publication does not cover this one: this arrival claims it.
    expect(decision.logical?.publication).toEqual({ by: "webhook", occurrence: 2 });
    expect(decision.record.occurrence).toBe(2);
    expect(decision.coveredBy).toBeUndefined();
    expect(decision.publish?.message).toEqual(topicMessageFor(input.event, [], 2));
    expect(decision.publish?.message.messageId).not.toBe(messageIdFor(input.event));
    // Read state or not, a push carries no tags property: only deletes are enriched.
    expect(decision.publish?.message.applicationProperties.tags).toBeUndefined();
    expect(changeOf(decision.changes, "open-window")?.window).toMatchObject({
      windowClosesAt: later + WINDOW_MS,
    });
    expect(changeOf(decision.changes, "replace-logical")).toMatchObject({
      version: earlier.version,
      logical: { occurrence: 2, publication: { by: "webhook", occurrence: 2 } },
    });
  });

  it("a recurrence while the earlier window is still open: its own window, the earlier marker left for the reconcile", () => {
    const earlier = seen(registryEvent({ region: "westeurope" }), T0);
    const input = delivery({ eventId: "evt-2", region: "westeurope" });
    const decision = decideArrival(input, { own: earlier }, WINDOW_MS);
    expect(decision.logical).toMatchObject({ occurrence: 2, state: "open" });
    // The earlier marker's window no longer matches the logical event: the reconcile drops it.
    expect(kindsOf(decision.changes)).toEqual(PUSH_ON_A_KNOWN_LOGICAL_EVENT);
    expect(changeOf(decision.changes, "open-window")?.window.windowClosesAt).toBe(
      RECEIVED_AT + WINDOW_MS,
    );
  });

  it("a delete is decided on nothing read: its digest's tags are not part of its changes", () => {
    const input = delivery({ eventId: "del-1", action: "delete", tag: undefined }, DELETE);
    const decision = decideArrival(input, undefined, WINDOW_MS);
    expect(decision.publish).toEqual({
      topic: "acr-delete",
      message: topicMessageFor(input.event),
    });
    expect(kindsOf(decision.changes)).toEqual([
      "create-record",
      "index-arrival",
      "create-logical",
      "open-window",
    ]);
  });
});

describe("decideArrival: publication claim, quarantine, late twin", () => {
  it("the arrival that plans the publish claims it on its logical event in the same write", () => {
    const heldTwin = seen(registryEvent({ origin: "eventgrid", eventId: "eg-1" }));
    const decision = decideArrival(delivery(), { own: heldTwin }, WINDOW_MS);
    expect(decision.publish?.topic).toBe("acr-push");
    expect(changeOf(decision.changes, "replace-logical")?.logical.publication).toEqual({
      by: "webhook",
      occurrence: 1,
    });
    expect(kindsOf(decision.changes)).not.toContain("set-publication");
  });

  it.each<{ name: string; input: NewDelivery; state?: ArrivalState }>([
    {
      name: "a held Event Grid arrival",
      input: delivery({ origin: "eventgrid" }),
      state: {},
    },
    {
      name: "a not-routed push",
      input: delivery({}, { kind: "not-routed", reason: "out-of-scope" }),
    },
    {
      name: "an arrival covered by its twin's publication",
      input: delivery({ eventId: "evt-east", region: "eastus" }),
      state: {
        own: seen(registryEvent({ eventId: "evt-west", region: "westus" }), T0, {
          publication: { by: "webhook", occurrence: 1 },
        }),
      },
    },
  ])("$name publishes nothing and claims nothing new", ({ input, state }) => {
    const decision = decideArrival(input, state, WINDOW_MS);
    expect(decision.publish).toBeUndefined();
    const before = state?.own?.value.publication;
    expect(decision.logical?.publication).toEqual(before);
  });

  it("a quarantine of a digest starts a no-twin logical event without a window; its publish claims it", () => {
    const input = delivery(
      { action: "quarantine", eventId: "q-1" },
      {
        kind: "topic",
        topic: "acr-quarantine",
      },
    );
    const decision = decideArrival(input, {}, WINDOW_MS);
    const logical = changeOf(decision.changes, "create-logical")?.logical;
    expect(logical).toMatchObject({
      action: "quarantine",
      digest: "sha256:abc",
      state: "no-twin",
      webhook: { eventIds: ["q-1"], count: 1 },
      publication: { by: "webhook", occurrence: 1 },
    });
    expect(kindsOf(decision.changes)).not.toContain("open-window");
    expect(changeOf(decision.changes, "add-pending")?.record).toEqual(decision.record);
    expect(decision.publish?.topic).toBe("acr-quarantine");
  });

  it("a repeated quarantine joins its no-twin logical event, still without a window", () => {
    const first = registryEvent({ action: "quarantine", eventId: "q-1" });
    const kept = versioned({
      ...withArrival(undefined, first, T0, WINDOW_MS),
      state: "no-twin" as const,
    });
    const input = delivery(
      { action: "quarantine", eventId: "q-1", region: "westus" },
      {
        kind: "topic",
        topic: "acr-quarantine",
      },
    );
    const decision = decideArrival(input, { own: kept }, WINDOW_MS);
    expect(kindsOf(decision.changes)).toEqual([
      "create-record",
      "index-arrival",
      "replace-logical",
      "add-pending",
    ]);
    expect(decision.logical).toMatchObject({ state: "no-twin", webhook: { count: 2 } });
  });

  it("a late Event Grid twin of a webhook-only finding: matched, late, with a window marker for the reconcile", () => {
    const webhook = registryEvent();
    const closed = seen(webhook, T0, { state: "webhook-only" });
    const lateAt = T0 + 3 * WINDOW_MS;
    const input = delivery({ origin: "eventgrid", eventId: "eg-1" }, PUSH, lateAt);
    const decision = decideArrival(input, { own: closed }, WINDOW_MS);
    expect(decision.record.publishState).toBe("held");
    expect(decision.publish).toBeUndefined();
    expect(decision.logical).toMatchObject({
      state: "matched",
      occurrence: 1,
      windowClosesAt: T0 + WINDOW_MS,
      late: { finding: "webhook-only", at: lateAt, delayMs: lateAt - T0, findingResolved: false },
    });
    expect(decision.changes.slice(3)).toEqual([
      { kind: "replace-logical", logical: decision.logical, version: closed.version },
      { kind: "open-window", window: decision.logical },
      {
        kind: "note-tag",
        tag: { registry: webhook.registry, repository: webhook.repository, tag: "v1" },
      },
      {
        kind: "note-digest-tag",
        digest: {
          registry: webhook.registry,
          repository: webhook.repository,
          digest: webhook.digest,
        },
        tag: "v1",
      },
    ]);
  });

  it("a late webhook of a recovered eventgrid-only finding is covered, late, with a window marker", () => {
    const eventGrid = registryEvent({ origin: "eventgrid", eventId: "eg-1" });
    const closed = seen(eventGrid, T0, {
      state: "eventgrid-only",
      publication: { by: "eventgrid", occurrence: 1 },
    });
    const lateAt = T0 + 2 * WINDOW_MS;
    const decision = decideArrival(delivery({}, PUSH, lateAt), { own: closed }, WINDOW_MS);
    expect(decision.coveredBy).toBe("eventgrid");
    expect(decision.publish).toBeUndefined();
    expect(decision.record.publishState).toBe("published");
    expect(decision.logical?.late).toEqual({
      finding: "eventgrid-only",
      at: lateAt,
      delayMs: T0 - lateAt,
      findingResolved: false,
    });
    expect(kindsOf(decision.changes)).toEqual(PUSH_ON_A_KNOWN_LOGICAL_EVENT);
  });

  it("a repeat of a late twin adds no second window marker", () => {
    const twin = registryEvent({ origin: "eventgrid", eventId: "eg-1" });
    const closed = seen(registryEvent(), T0, { state: "webhook-only" }).value;
    const lateAt = T0 + 3 * WINDOW_MS;
    const late = versioned(withArrival(closed, twin, lateAt, WINDOW_MS));
    const input = delivery({ origin: "eventgrid", eventId: "eg-1" }, PUSH, lateAt + 10);
    const recorded = versioned(newRecord(input, 1), "r1");
    const decision = decideArrival(input, { recorded, own: late }, WINDOW_MS);
    expect(decision.duplicate).toBe(true);
    expect(kindsOf(decision.changes)).toEqual(["replace-record", "replace-logical"]);
    expect(decision.logical?.late).toEqual(late.value.late);
  });
});

describe("publishedChanges and publishFailedChanges", () => {
  const record = newRecord(delivery(), 2);
  const sent = { topic: "acr-push", message: topicMessageFor(record.event, [], 2) };
  const attempt = { topic: "acr-push", messageId: sent.message.messageId, at: T0 + 5 };

  it("after a first publish of an event with a window: only the record is marked published, the attempt logged", () => {
    expect(publishedChanges(record, sent, T0 + 5)).toEqual([
      {
        kind: "set-record-status",
        record,
        status: {
          publishState: "published",
          publishedTopics: ["acr-push"],
          publishAttempts: 1,
          lastError: undefined,
          attemptLog: [{ ...attempt, outcome: "published" }],
        },
      },
    ]);
  });

  it("after a re-driven publish: the record also leaves the pending list", () => {
    const redriven = { ...record, lastAttemptAt: T0 };
    expect(kindsOf(publishedChanges(redriven, sent, T0 + 5))).toEqual([
      "set-record-status",
      "remove-pending",
    ]);
  });

  it("an action without a window is on the pending list from its first attempt: a publish takes it off", () => {
    const quarantine = newRecord(
      delivery({ action: "quarantine" }, { kind: "topic", topic: "acr-quarantine" }),
    );
    const toQuarantine = { topic: "acr-quarantine", message: topicMessageFor(quarantine.event) };
    expect(kindsOf(publishedChanges(quarantine, toQuarantine, T0 + 5))).toEqual([
      "set-record-status",
      "remove-pending",
    ]);
  });

  it("after a failed publish: the attempt counted and logged with its time and error, still pending", () => {
    const failedStatus = {
      publishAttempts: 1,
      lastAttemptAt: T0 + 5,
      lastError: "Error: bus down",
      attemptLog: [{ ...attempt, outcome: "failed", error: "Error: bus down" }],
    };
    expect(publishFailedChanges(record, sent, "Error: bus down", T0 + 5)).toEqual([
      { kind: "set-record-status", record, status: failedStatus },
      { kind: "add-pending", record: { ...record, ...failedStatus } },
    ]);
  });

  it("keeps the most recent attempts, each with its message id", () => {
    let current = record;
    for (let at = 0; at < MAX_ATTEMPTS_KEPT + 5; at++) {
      const [change] = publishFailedChanges(current, sent, `Error ${at}`, at);
      current = change?.kind === "set-record-status" ? { ...current, ...change.status } : current;
    }
    expect(current.attemptLog).toHaveLength(MAX_ATTEMPTS_KEPT);
    expect(current.attemptLog?.at(-1)).toMatchObject({ error: `Error ${MAX_ATTEMPTS_KEPT + 4}` });
    expect(current.publishAttempts).toBe(MAX_ATTEMPTS_KEPT + 5);
  });

  it("once an attempt failed, the record is on the pending list: its publish takes it off", () => {
    const [, marker] = publishFailedChanges(record, sent, "Error: bus down", T0 + 5);
    const failed = marker?.kind === "add-pending" ? marker.record : record;
    expect(onPendingList(failed)).toBe(true);
    expect(kindsOf(publishedChanges(failed, sent, T0 + 6))).toEqual([
      "set-record-status",
      "remove-pending",
    ]);
  });
});
