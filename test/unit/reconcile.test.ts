import { describe, expect, it } from "vitest";
import { logicalKeyFor, logicalRefFor, withArrival } from "../../src/core/crossCheck";
import { decideArrival } from "../../src/core/decideArrival";
import type { DeliveryRecord } from "../../src/core/deliveryRecord";
import { type Discrepancy, discrepancyMessage } from "../../src/core/discrepancy";
import { ingestDelivery } from "../../src/core/ingestDelivery";
import { DependencyUnavailableError, PublishRefusedError } from "../../src/core/ports";
import {
  nextAttemptAt,
  RESTORE_TRIES,
  type ReconcilePorts,
  type ReconcileReport,
  type ReconcileSettings,
  type RedrivePolicy,
  reconcile,
  WINDOW_LEASE_MS,
} from "../../src/core/reconcile";
import type { RegistryEvent } from "../../src/core/registryEvent";
import { type RoutingTable, routeForEvent } from "../../src/core/routing";
import { topicMessageFor } from "../../src/core/topicMessage";
import type { Change } from "../../src/core/writePlan";
import { scopeOf } from "../support/scopes";
import {
  always,
  deliveryOf,
  kindsOf,
  MemoryPorts,
  registryEvent,
  T0,
  writing,
} from "./memoryPorts";

const WINDOW_MS = 300_000;
const AFTER_WINDOW = T0 + WINDOW_MS + 60_000;
const DISCREPANCY_TOPIC = "acr-discrepancies";
const POLICY: RedrivePolicy = { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 5_000 };

function routing(pushScopes: string[] = []): RoutingTable {
  return {
    push: { topic: "acr-push", scopes: pushScopes.map(scopeOf) },
    delete: { topic: "acr-delete", scopes: [] },
    chart_push: { topic: "acr-chart-push", scopes: [] },
    chart_delete: { topic: "acr-chart-delete", scopes: [] },
    quarantine: { topic: "acr-quarantine", scopes: [] },
  };
}

function settings(overrides: Partial<ReconcileSettings> = {}): ReconcileSettings {
  return {
    routing: routing(),
    discrepancyTopic: DISCREPANCY_TOPIC,
    recoveryEnabled: true,
    windowMs: WINDOW_MS,
    batchSize: 50,
    redrive: POLICY,
    ...overrides,
  };
}

function portsOf(memory: MemoryPorts): ReconcilePorts {
  return memory.reconcilePorts();
}

const webhook = (overrides: Partial<RegistryEvent> = {}) =>
  registryEvent({ origin: "webhook", region: "westeurope", ...overrides });
const eventGrid = (overrides: Partial<RegistryEvent> = {}) =>
  registryEvent({ origin: "eventgrid", eventId: "eg-1", region: "westeurope", ...overrides });

/** Delivers events through the real ingest, as the webhook and Event Grid functions do. */
async function arrive(
  memory: MemoryPorts,
  events: RegistryEvent[],
  table: RoutingTable = routing(),
  firstAt = T0,
): Promise<void> {
  for (const [index, event] of events.entries()) {
    const input = deliveryOf(event, routeForEvent(event, table), firstAt + index * 1_000);
    await ingestDelivery(input, memory.ingestPorts(WINDOW_MS));
  }
}

function run(memory: MemoryPorts, overrides: Partial<ReconcileSettings> = {}, now = AFTER_WINDOW) {
  return reconcile(portsOf(memory), settings(overrides), now);
}

/**
 * A run whose close of a window is under way (claimed, its finding or recovery being published)
 * while the twin arrives, as when another instance takes the twin: the twin joins the logical
 * event the close is about to settle.
 */
function twinDuringClose(
  memory: MemoryPorts,
  twin: RegistryEvent,
  topic: string,
  overrides: Partial<ReconcileSettings> = {},
  now = AFTER_WINDOW,
) {
  const ports = portsOf(memory);
  let arrived = false;
  ports.publisher = {
    async publish(to, message) {
      if (to === topic && !arrived) {
        arrived = true;
        await arrive(memory, [twin], routing(), now);
      }
      await memory.publisher.publish(to, message);
    },
  };
  return reconcile(ports, settings(overrides), now);
}

const topicsPublished = (memory: MemoryPorts) => memory.published.map((entry) => entry.topic);

/** The findings and resolutions published on the discrepancy topic. */
const discrepancies = (memory: MemoryPorts) =>
  memory.published.filter((entry) => entry.topic === DISCREPANCY_TOPIC);

const wroteAny = (memory: MemoryPorts, kind: Change["kind"]) =>
  memory.writes().some((write) => kindsOf(write.changes).includes(kind));

describe("reconcile: closing due windows", () => {
  const key = logicalKeyFor(webhook());

  it("a matched event: no finding, nothing published, both records marked", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook(), eventGrid()]);
    const report = await run(memory);
    expect(report).toMatchObject({
      closed: { matched: 1 },
      recovered: 0,
      findingsPublished: 0,
      errors: [],
    });
    expect(memory.findingsRecorded).toEqual([]);
    expect(topicsPublished(memory)).toEqual(["acr-push"]);
    expect(memory.record(webhook())?.crossCheck).toBe("matched");
    expect(memory.record(eventGrid())?.crossCheck).toBe("matched");
    expect(memory.record(eventGrid())?.publishState).toBe("held");
    expect(memory.logical(webhook())?.state).toBe("matched");
    expect(memory.windows.size).toBe(0);
    expect([...memory.verdicts.values()].map((verdict) => verdict.state)).toEqual(["matched"]);
  });

  it("a webhook-only event: a finding recorded and published once, the record marked", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    const report = await run(memory);
    expect(report).toMatchObject({
      closed: { "webhook-only": 1 },
      findingsPublished: 1,
      errors: [],
    });
    const expected: Discrepancy = {
      state: "open",
      kind: "webhook-only",
      logicalKey: key,
      occurrence: 1,
      registry: "myregistry.azurecr.io",
      action: "push",
      repository: "hello-world",
      tag: "v1",
      digest: "sha256:abc",
      detectedAt: T0 + WINDOW_MS,
      webhookEventIds: ["evt-1"],
      eventGridEventIds: [],
      regions: ["westeurope"],
      recovered: false,
    };
    expect(memory.findingsRecorded).toEqual([expected]);
    expect(memory.published.filter((entry) => entry.topic === DISCREPANCY_TOPIC)).toEqual([
      { topic: DISCREPANCY_TOPIC, message: discrepancyMessage(expected) },
    ]);
    expect(memory.record(webhook())?.crossCheck).toBe("webhook-only");
    expect(memory.logical(webhook())?.state).toBe("webhook-only");
    expect(memory.windows.size).toBe(0);

    const again = await run(memory, {}, AFTER_WINDOW + WINDOW_MS);
    expect(again).toMatchObject({ closed: {}, findingsPublished: 0 });
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC]);
  });

  it("an eventgrid-only event is recovered onto the action's topic, as the webhook would have been", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [eventGrid()]);
    const report = await run(memory);
    expect(report).toMatchObject({
      closed: { "eventgrid-only": 1 },
      recovered: 1,
      findingsPublished: 1,
      errors: [],
    });
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC]);
    const recovered = memory.published[0]?.message;
    expect(recovered).toEqual(topicMessageFor(eventGrid()));
    expect(recovered?.messageId).toBe(topicMessageFor(webhook()).messageId);
    expect(recovered?.applicationProperties.origin).toBe("eventgrid");
    expect(memory.findingsRecorded).toMatchObject([
      { kind: "eventgrid-only", recovered: true, eventGridEventIds: ["eg-1"], webhookEventIds: [] },
    ]);
    expect(memory.published[1]?.message.applicationProperties.recovered).toBe("true");
    expect(memory.record(eventGrid())).toMatchObject({
      publishState: "published",
      publishedTopics: ["acr-push"],
      crossCheck: "eventgrid-only",
    });
    expect(memory.logical(webhook())).toMatchObject({
      state: "eventgrid-only",
      publication: { by: "eventgrid", occurrence: 1 },
    });
    // The recovery claims the publication once it is on the topic, before the close.
    const claims = memory
      .writes()
      .flatMap((write) => write.changes)
      .filter((change) => change.kind === "set-publication");
    expect(claims).toMatchObject([{ publication: { by: "eventgrid", occurrence: 1 } }]);
  });

  it("a webhook arriving after the recovery is not published again", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [eventGrid()]);
    await run(memory);
    await arrive(memory, [webhook()]);
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC]);
    expect(memory.record(webhook())?.publishState).toBe("published");
  });

  it.each<{ name: string; overrides: Partial<ReconcileSettings>; ingestRouting: RoutingTable }>([
    { name: "recovery is off", overrides: { recoveryEnabled: false }, ingestRouting: routing() },
    {
      name: "the event is out of scope",
      overrides: { routing: routing(["other:*"]) },
      ingestRouting: routing(["other:*"]),
    },
  ])(
    "an eventgrid-only event is reported, not published, when $name",
    async ({ overrides, ingestRouting }) => {
      const memory = new MemoryPorts();
      await arrive(memory, [eventGrid()], ingestRouting);
      const report = await run(memory, overrides);
      expect(report).toMatchObject({
        closed: { "eventgrid-only": 1 },
        recovered: 0,
        findingsPublished: 1,
        errors: [],
      });
      expect(topicsPublished(memory)).toEqual([DISCREPANCY_TOPIC]);
      expect(memory.findingsRecorded).toMatchObject([{ kind: "eventgrid-only", recovered: false }]);
      expect(memory.logical(webhook())?.publication).toBeUndefined();
    },
  );

  it("a failed recovery publish leaves the window open and reports the error", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": (topic) => (topic === "acr-push" ? new Error("bus down") : undefined),
    });
    await arrive(memory, [eventGrid()]);
    const report = await run(memory);
    expect(report).toMatchObject({ closed: {}, recovered: 0, findingsPublished: 0 });
    expect(report.errors).toEqual([
      `window ${key}: Error: recovery publish failed: Error: bus down`,
    ]);
    expect(wroteAny(memory, "close-window")).toBe(false);
    expect(memory.windows.size).toBe(1);
    expect(memory.findingsRecorded).toEqual([]);
    expect(memory.published).toEqual([]);
    expect(memory.logical(webhook())?.state).toBe("open");

    memory.faults["publisher.publish"] = undefined;
    const leased = await run(memory, {}, AFTER_WINDOW + WINDOW_LEASE_MS - 1);
    expect(leased).toMatchObject({ closed: {}, recovered: 0, errors: [] });
    const retried = await run(memory, {}, AFTER_WINDOW + WINDOW_LEASE_MS);
    expect(retried).toMatchObject({ closed: { "eventgrid-only": 1 }, recovered: 1, errors: [] });
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC]);
  });

  it("gives up after maxAttempts runs when nothing can be published, and closes the window", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new PublishRefusedError("topic missing")),
    });
    await arrive(memory, [eventGrid()]);
    const reports = [];
    for (let attempt = 0; attempt < POLICY.maxAttempts; attempt++) {
      reports.push(await run(memory, {}, AFTER_WINDOW + attempt * WINDOW_LEASE_MS));
    }
    expect(reports.slice(0, -1).every((r) => Object.keys(r.closed).length === 0)).toBe(true);
    const last = reports[reports.length - 1];
    expect(last.closed).toEqual({ "eventgrid-only": 1 });
    expect(last.errors).toEqual([
      `window ${key}: gave up, recovery publish failed: PublishRefusedError: topic missing`,
      `window ${key}: gave up, finding publish failed: PublishRefusedError: topic missing`,
    ]);
    expect(memory.findingsRecorded).toMatchObject([{ kind: "eventgrid-only", recovered: false }]);
    expect(memory.logical(webhook())?.state).toBe("eventgrid-only");
    expect(memory.windows.size).toBe(0);
    // Closed: later runs do not take it again.
    const after = await run(memory, {}, AFTER_WINDOW + POLICY.maxAttempts * WINDOW_LEASE_MS);
    expect(after.errors).toEqual([]);
  });

  it("never gives up a recovery while the service does not answer: recovered once it is back", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new DependencyUnavailableError("service-bus", "timed out")),
    });
    await arrive(memory, [eventGrid()]);
    const runs = POLICY.maxAttempts + 2;
    for (let attempt = 0; attempt < runs; attempt++) {
      const report = await run(memory, {}, AFTER_WINDOW + attempt * WINDOW_LEASE_MS);
      expect(report).toMatchObject({ closed: {}, recovered: 0 });
    }
    expect(memory.windows.size).toBe(1);
    memory.faults["publisher.publish"] = undefined;
    const back = await run(memory, {}, AFTER_WINDOW + runs * WINDOW_LEASE_MS);
    expect(back).toMatchObject({ closed: { "eventgrid-only": 1 }, recovered: 1, errors: [] });
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC]);
  });

  it("a recovered event whose close failed is reported as recovered, not published twice", async () => {
    const memory = new MemoryPorts({ "findings.record": always(new Error("findings down")) });
    await arrive(memory, [eventGrid()]);
    const first = await run(memory);
    expect(first).toMatchObject({ recovered: 1, closed: {} });
    expect(first.errors).toEqual([`window ${key}: Error: findings down`]);

    memory.faults["findings.record"] = undefined;
    const second = await run(memory, {}, AFTER_WINDOW + WINDOW_LEASE_MS);
    expect(second).toMatchObject({ closed: { "eventgrid-only": 1 }, recovered: 0, errors: [] });
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC]);
    expect(memory.findingsRecorded).toMatchObject([{ kind: "eventgrid-only", recovered: true }]);
  });

  it("arrivals whose fields disagree under one id close as mismatched, both of them", async () => {
    const memory = new MemoryPorts();
    const wh = webhook({ eventId: "same-id" });
    const eg = eventGrid({ eventId: "same-id", tag: "v2" });
    await arrive(memory, [wh, eg]);
    const report = await run(memory);
    expect(report).toMatchObject({ closed: { mismatched: 2 }, recovered: 0, findingsPublished: 2 });
    expect(memory.findingsRecorded.map((finding) => [finding.kind, finding.logicalKey])).toEqual([
      ["mismatched", logicalKeyFor(wh)],
      ["mismatched", logicalKeyFor(eg)],
    ]);
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC, DISCREPANCY_TOPIC]);
  });

  it("a webhook-only window looks Event Grid's arrivals up by id in one read; an Event Grid-only window searches for the webhook's", async () => {
    const memory = new MemoryPorts();
    const wh = webhook({ eventId: "wh-only" });
    const eg = eventGrid({ eventId: "eg-only", tag: "v2" });
    await arrive(memory, [wh, eg]);
    await run(memory);
    expect(memory.callsOf("store.arrivalsIndexedById")).toEqual([["wh-only", "eventgrid"]]);
    expect(memory.callsOf("store.arrivalsById")).toEqual([
      ["eg-only", "webhook"],
      ["eg-only", "acr-log"],
    ]);
  });

  it("finds a mismatch through an Event Grid arrival's id alone, not through its record's index", async () => {
    const memory = new MemoryPorts();
    const wh = webhook({ eventId: "same-id" });
    const eg = eventGrid({ eventId: "same-id", repository: "other-repo" });
    await arrive(memory, [wh, eg]);
    // Without its listing by id, the Event Grid arrival is not found from the webhook's window.
    memory.idIndex.clear();
    const report = await run(memory);
    expect(memory.findingsRecorded.map((finding) => [finding.kind, finding.logicalKey])).toEqual([
      ["webhook-only", logicalKeyFor(wh)],
      ["mismatched", logicalKeyFor(eg)],
    ]);
    expect(report.errors).toEqual([]);
  });

  it("two concurrent runs close a window once", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [eventGrid()]);
    const reports = await Promise.all([run(memory), run(memory)]);
    expect(reports.map((report) => report.recovered).sort()).toEqual([0, 1]);
    expect(reports.flatMap((report) => report.errors)).toEqual([]);
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC]);
    expect(memory.findingsRecorded).toHaveLength(1);
  });

  it("a window not yet due is left open", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [eventGrid()]);
    const report = await run(memory, {}, T0 + WINDOW_MS - 1);
    expect(report).toMatchObject({ closed: {}, recovered: 0, findingsPublished: 0, errors: [] });
    expect(memory.published).toEqual([]);
    expect(memory.logical(webhook())?.state).toBe("open");
  });

  it("a window whose logical event is gone (after a crash) is dropped, nothing else", async () => {
    const memory = new MemoryPorts();
    memory.seed([
      { kind: "open-window", window: { ...logicalRefFor(webhook()), windowClosesAt: T0 } },
    ]);
    const report = await run(memory);
    expect(report).toMatchObject({ closed: {}, findingsPublished: 0, errors: [] });
    expect(memory.windows.size).toBe(0);
    expect(memory.findingsRecorded).toEqual([]);
  });

  it("a window its logical event has moved on from (a new occurrence) is dropped; the new one stays", async () => {
    const memory = new MemoryPorts();
    const later = AFTER_WINDOW;
    await arrive(memory, [webhook()]);
    // Pushed again from the same place once the first window was due, before any run closed it.
    await arrive(memory, [webhook({ eventId: "evt-2" })], routing(), later);
    expect(memory.windows.size).toBe(2);
    const report = await run(memory, {}, later);
    expect(report).toMatchObject({ closed: {}, findingsPublished: 0, errors: [] });
    expect([...memory.windows.values()].map((window) => window.windowClosesAt)).toEqual([
      later + WINDOW_MS,
    ]);
    expect(memory.logical(webhook())).toMatchObject({ state: "open", occurrence: 2 });
  });

  it("closes at most batchSize windows per run", async () => {
    const memory = new MemoryPorts();
    await arrive(
      memory,
      ["v1", "v2", "v3"].map((tag) => webhook({ eventId: tag, tag })),
    );
    expect((await run(memory, { batchSize: 2 })).closed).toEqual({ "webhook-only": 2 });
    expect((await run(memory, { batchSize: 2 })).closed).toEqual({ "webhook-only": 1 });
  });

  it("one failing window does not stop the others", async () => {
    const memory = new MemoryPorts({
      "findings.record": (finding) =>
        (finding as Discrepancy).tag === "v1" ? new Error("findings down") : undefined,
    });
    await arrive(
      memory,
      ["v1", "v2"].map((tag) => webhook({ eventId: tag, tag })),
    );
    const report = await run(memory);
    expect(report.closed).toEqual({ "webhook-only": 1 });
    expect(report.errors).toEqual([
      `window ${logicalKeyFor(webhook({ tag: "v1" }))}: Error: findings down`,
    ]);
    expect(memory.logical(webhook({ tag: "v1" }))?.state).toBe("open");
    expect(memory.logical(webhook({ tag: "v2" }))?.state).toBe("webhook-only");
  });
});

describe("reconcile: a late twin resolves its finding", () => {
  const LATE_AT = AFTER_WINDOW + 120_000;

  it("a late Event Grid twin of a webhook-only finding: the finding is resolved and the resolution published, once", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await run(memory);
    const [open] = memory.findingsRecorded;
    expect(open).toMatchObject({ kind: "webhook-only", state: "open" });

    await arrive(memory, [eventGrid()], routing(), LATE_AT);
    expect(memory.logical(webhook())).toMatchObject({
      state: "matched",
      late: { finding: "webhook-only", at: LATE_AT, findingResolved: false },
    });
    // The window marker the late twin added is due at once.
    expect([...memory.windows.values()]).toEqual([
      { ...logicalRefFor(webhook()), windowClosesAt: T0 + WINDOW_MS },
    ]);

    const report = await run(memory, {}, LATE_AT + 1);
    expect(report).toMatchObject({ resolved: 1, closed: {}, findingsPublished: 0, errors: [] });
    // The same finding, now naming the twin that resolved it.
    const resolved: Discrepancy = {
      ...(open as Discrepancy),
      eventGridEventIds: ["eg-1"],
      state: "resolved",
      resolution: "late-twin",
      resolvedAt: LATE_AT,
      lateByMs: LATE_AT - T0,
    };
    expect(memory.findingsRecorded).toEqual([open, resolved]);
    const messages = discrepancies(memory);
    expect(messages.map((entry) => entry.message)).toEqual([
      discrepancyMessage(open as Discrepancy),
      discrepancyMessage(resolved),
    ]);
    expect(messages[1]?.message.messageId).not.toBe(messages[0]?.message.messageId);
    expect(messages[1]?.message.applicationProperties).toMatchObject({
      logicalKey: logicalKeyFor(webhook()),
      state: "resolved",
      resolution: "late-twin",
    });
    expect(memory.logical(webhook())).toMatchObject({
      state: "matched",
      late: { finding: "webhook-only", findingResolved: true },
    });
    expect(memory.windows.size).toBe(0);
    expect(memory.record(webhook())?.crossCheck).toBe("matched");
    expect(memory.record(eventGrid())?.crossCheck).toBe("matched");
    expect(memory.record(eventGrid())?.publishState).toBe("held");
    expect([...memory.verdicts.values()].map((verdict) => verdict.state)).toEqual(["matched"]);

    const again = await run(memory, {}, LATE_AT + WINDOW_MS);
    expect(again).toMatchObject({ resolved: 0, closed: {}, findingsPublished: 0, errors: [] });
    // An Event Grid retry of the late twin changes nothing either.
    await arrive(memory, [eventGrid()], routing(), LATE_AT + 2 * WINDOW_MS);
    expect((await run(memory, {}, LATE_AT + 3 * WINDOW_MS)).resolved).toBe(0);
    expect(memory.findingsRecorded).toHaveLength(2);
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC, DISCREPANCY_TOPIC]);
  });

  it("an Event Grid twin arriving while the webhook-only close publishes its finding: a late match, the finding resolved by the next run", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    const report = await twinDuringClose(memory, eventGrid(), DISCREPANCY_TOPIC);
    expect(report).toMatchObject({ closed: { "webhook-only": 1 }, findingsPublished: 1 });
    expect(memory.logical(webhook())).toMatchObject({
      state: "matched",
      late: { finding: "webhook-only", at: AFTER_WINDOW, findingResolved: false },
    });
    expect(memory.windows.size).toBe(1);

    const next = await run(memory, {}, AFTER_WINDOW + 1);
    expect(next).toMatchObject({ resolved: 1, errors: [] });
    expect(memory.findingsRecorded.map((finding) => finding.state)).toEqual(["open", "resolved"]);
    expect(memory.logical(webhook())).toMatchObject({
      state: "matched",
      late: { findingResolved: true },
    });
    expect(memory.windows.size).toBe(0);
    expect(memory.record(eventGrid())?.crossCheck).toBe("matched");
    expect(memory.record(webhook())?.crossCheck).toBe("matched");
  });

  it("a webhook arriving while the eventgrid-only close recovers: a late match, the recovered finding resolved by the next run", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [eventGrid()]);
    const report = await twinDuringClose(memory, webhook({ eventId: "eg-1" }), "acr-push");
    expect(report).toMatchObject({ closed: { "eventgrid-only": 1 }, recovered: 1 });
    expect(memory.logical(eventGrid())).toMatchObject({
      state: "matched",
      late: { finding: "eventgrid-only", findingResolved: false },
    });
    const next = await run(memory, {}, AFTER_WINDOW + 1);
    expect(next).toMatchObject({ resolved: 1, errors: [] });
    expect(memory.findingsRecorded.map((finding) => [finding.state, finding.recovered])).toEqual([
      ["open", true],
      ["resolved", true],
    ]);
    // The webhook that came during the recovery went out under the recovery's message id.
    const pushes = memory.published.filter((entry) => entry.topic === "acr-push");
    expect(new Set(pushes.map((entry) => entry.message.messageId)).size).toBe(1);
  });

  it("an Event Grid twin arriving after a close recorded its finding and could not publish it: the finding goes out, then its resolution, none left open", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": (topic) =>
        topic === DISCREPANCY_TOPIC
          ? new DependencyUnavailableError("service-bus", "timed out")
          : undefined,
    });
    await arrive(memory, [webhook()]);
    const failed = await run(memory);
    expect(failed).toMatchObject({ closed: {}, findingsPublished: 0 });
    expect(memory.findingsRecorded).toMatchObject([{ kind: "webhook-only", state: "open" }]);

    // Event Grid's retry comes once the close's lease is over, before the next run.
    const lateAt = AFTER_WINDOW + WINDOW_LEASE_MS + 1;
    await arrive(memory, [eventGrid()], routing(), lateAt);
    expect(memory.logical(webhook())).toMatchObject({
      state: "matched",
      late: { finding: "webhook-only", at: lateAt, findingResolved: false },
    });

    memory.faults["publisher.publish"] = undefined;
    const next = await run(memory, {}, lateAt + 1);
    expect(next).toMatchObject({ resolved: 1, findingsPublished: 1, errors: [] });
    expect(memory.findingsRecorded.map((finding) => finding.state)).toEqual([
      "open",
      "open",
      "resolved",
    ]);
    expect(
      discrepancies(memory).map((entry) => entry.message.applicationProperties?.state),
    ).toEqual(["open", "resolved"]);
    expect(memory.windows.size).toBe(0);
    expect(memory.record(webhook())?.crossCheck).toBe("matched");
    expect(memory.record(eventGrid())?.crossCheck).toBe("matched");
  });

  it("an Event Grid twin arriving after a close decided its finding and could not record it: the finding and its resolution go out in order, under the finding's own message id", async () => {
    const memory = new MemoryPorts({
      "findings.record": () => new DependencyUnavailableError("table-storage", "timed out"),
    });
    await arrive(memory, [webhook()]);
    expect(await run(memory)).toMatchObject({ closed: {}, findingsPublished: 0 });
    expect(memory.findingsRecorded).toEqual([]);
    expect(discrepancies(memory)).toEqual([]);

    const lateAt = AFTER_WINDOW + WINDOW_LEASE_MS + 1;
    await arrive(memory, [eventGrid()], routing(), lateAt);
    memory.faults["findings.record"] = undefined;
    const next = await run(memory, {}, lateAt + 1);
    expect(next).toMatchObject({ resolved: 1, findingsPublished: 1, errors: [] });
    const published = discrepancies(memory).map((entry) => entry.message);
    expect(published.map((message) => message.applicationProperties?.state)).toEqual([
      "open",
      "resolved",
    ]);
    // The id a close that had published it would have used: duplicate detection drops a copy.
    const opening = memory.findingsRecorded[0];
    expect(opening).toMatchObject({ kind: "webhook-only", state: "open" });
    expect(published[0]?.messageId).toBe(discrepancyMessage(opening as Discrepancy).messageId);
    expect(memory.findingsRecorded.at(-1)).toMatchObject({
      kind: "webhook-only",
      state: "resolved",
      resolution: "late-twin",
    });
    expect(memory.windows.size).toBe(0);
    expect(memory.logical(webhook())?.late?.findingResolved).toBe(true);
  });

  it("a new occurrence of the content arriving while the close publishes its finding keeps its own window", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    // Pushed again (a new id from the same region) while the first occurrence's close is under way.
    const again = webhook({ eventId: "wh-again" });
    await twinDuringClose(memory, again, DISCREPANCY_TOPIC);
    expect(memory.logical(again)).toMatchObject({ occurrence: 2, state: "open" });
    expect([...memory.verdicts.values()]).toHaveLength(1);
    // Its own window closes in its own time, with its own finding.
    const report = await run(memory, {}, AFTER_WINDOW + WINDOW_MS + 1);
    expect(report).toMatchObject({ closed: { "webhook-only": 1 }, findingsPublished: 1 });
    expect(memory.findingsRecorded.map((finding) => finding.webhookEventIds)).toEqual([
      [webhook().eventId],
      ["wh-again"],
    ]);
  });

  it("a resolution that cannot be published is tried maxAttempts runs, then recorded and closed without it", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await run(memory);
    await arrive(memory, [eventGrid()], routing(), LATE_AT);
    memory.faults["publisher.publish"] = (topic) =>
      topic === DISCREPANCY_TOPIC ? new PublishRefusedError("topic missing") : undefined;
    const reports = [];
    for (let attempt = 0; attempt < POLICY.maxAttempts; attempt++) {
      reports.push(await run(memory, {}, LATE_AT + 1 + attempt * WINDOW_LEASE_MS));
    }
    expect(reports.map((report) => report.resolved)).toEqual([0, 0, 1]);
    expect(reports.at(-1)?.errors).toEqual([
      `window ${logicalKeyFor(webhook())}: gave up, resolution publish failed: PublishRefusedError: topic missing`,
    ]);
    expect(memory.findingsRecorded.map((finding) => finding.state)).toEqual([
      "open",
      "resolved",
      "resolved",
      "resolved",
    ]);
    expect(memory.logical(webhook())?.late?.findingResolved).toBe(true);
    expect(memory.windows.size).toBe(0);
    expect(discrepancies(memory)).toHaveLength(1);
  });

  it("a late webhook of a recovered eventgrid-only finding: covered, not published again, the recovered finding resolved", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [eventGrid()]);
    await run(memory);
    await arrive(memory, [webhook()], routing(), LATE_AT);
    expect(memory.record(webhook())?.publishState).toBe("published");

    const report = await run(memory, {}, LATE_AT + 1);
    expect(report).toMatchObject({ resolved: 1, recovered: 0, errors: [] });
    expect(memory.findingsRecorded.map((finding) => [finding.state, finding.recovered])).toEqual([
      ["open", true],
      ["resolved", true],
    ]);
    expect(memory.findingsRecorded[1]).toMatchObject({
      kind: "eventgrid-only",
      resolution: "late-twin",
      resolvedAt: LATE_AT,
      lateByMs: LATE_AT - T0,
    });
    expect(topicsPublished(memory)).toEqual(["acr-push", DISCREPANCY_TOPIC, DISCREPANCY_TOPIC]);
    expect(memory.logical(webhook())).toMatchObject({
      state: "matched",
      publication: { by: "eventgrid", occurrence: 1 },
      late: { findingResolved: true },
    });
  });

  it("two concurrent runs resolve a late match once", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await run(memory);
    await arrive(memory, [eventGrid()], routing(), LATE_AT);
    const reports = await Promise.all([run(memory, {}, LATE_AT + 1), run(memory, {}, LATE_AT + 1)]);
    expect(reports.map((report) => report.resolved).sort()).toEqual([0, 1]);
    // Both runs may publish the resolution: under one message id, which duplicate detection drops.
    const resolutions = memory.published.filter(
      (entry) => entry.message.applicationProperties.state === "resolved",
    );
    expect(new Set(resolutions.map((entry) => entry.message.messageId)).size).toBe(1);
    expect(memory.logical(webhook())?.late?.findingResolved).toBe(true);
    expect(memory.windows.size).toBe(0);
  });

  it("a resolution whose publish failed is retried by the next run, and counted once", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await run(memory);
    await arrive(memory, [eventGrid()], routing(), LATE_AT);
    memory.faults["publisher.publish"] = always(new Error("bus down"));
    const failed = await run(memory, {}, LATE_AT + 1);
    expect(failed.resolved).toBe(0);
    expect(failed.errors).toEqual([`window ${logicalKeyFor(webhook())}: Error: bus down`]);
    expect(memory.logical(webhook())?.late?.findingResolved).toBe(false);
    expect(memory.windows.size).toBe(1);

    memory.faults["publisher.publish"] = undefined;
    // The failed run's lease keeps the next one off until it ends.
    expect((await run(memory, {}, LATE_AT + 2)).resolved).toBe(0);
    const afterLease = LATE_AT + 2 + WINDOW_LEASE_MS;
    const retried = await run(memory, {}, afterLease);
    expect(retried).toMatchObject({ resolved: 1, errors: [] });
    expect(memory.logical(webhook())?.late?.findingResolved).toBe(true);
    expect((await run(memory, {}, afterLease + 1)).resolved).toBe(0);
    expect(
      memory.published.filter((entry) => entry.message.applicationProperties.state === "resolved"),
    ).toHaveLength(1);
  });
});

describe("reconcile: an Event Grid push of a quarantined digest", () => {
  const HOLD_MS = 10 * WINDOW_MS;
  const quarantine = webhook({ action: "quarantine", eventId: "q-1" });
  /** The Event Grid push arrives one second after the quarantine webhook (see `arrive`). */
  const HOLD_ENDS = T0 + 1_000 + HOLD_MS;

  async function heldPush(memory: MemoryPorts) {
    await arrive(memory, [quarantine, eventGrid()]);
    return run(memory, { quarantineHoldMs: HOLD_MS });
  }

  it("is held when its window closes: no recovery, no finding, the window moved to the hold's end", async () => {
    const memory = new MemoryPorts();
    const report = await heldPush(memory);
    expect(report).toMatchObject({
      held: 1,
      closed: {},
      recovered: 0,
      findingsPublished: 0,
      errors: [],
    });
    expect(topicsPublished(memory)).toEqual(["acr-quarantine"]);
    expect(memory.findingsRecorded).toEqual([]);
    expect(memory.logical(eventGrid())).toMatchObject({
      state: "awaiting-release",
      windowClosesAt: HOLD_ENDS,
    });
    expect(memory.logical(eventGrid())?.closingUntil).toBeUndefined();
    expect([...memory.windows.values()]).toEqual([
      { ...logicalRefFor(eventGrid()), windowClosesAt: HOLD_ENDS },
    ]);
    expect(memory.record(eventGrid())).toMatchObject({
      publishState: "held",
      crossCheck: "awaiting-release",
    });
    expect(memory.logical(quarantine)).toMatchObject({ state: "no-twin" });

    const during = await run(memory, { quarantineHoldMs: HOLD_MS }, HOLD_ENDS - 1);
    expect(during).toMatchObject({ held: 0, closed: {}, recovered: 0, errors: [] });
    expect(topicsPublished(memory)).toEqual(["acr-quarantine"]);
  });

  it("released by its webhook (the scan passed): matched, published once by the webhook, never recovered", async () => {
    const memory = new MemoryPorts();
    await heldPush(memory);
    const passedAt = AFTER_WINDOW + WINDOW_MS;
    await arrive(memory, [webhook()], routing(), passedAt);
    // The hold is over: its window closes at the next run, not at the hold's end.
    expect(memory.logical(webhook())).toMatchObject({
      state: "open",
      windowClosesAt: passedAt,
      publication: { by: "webhook", occurrence: 1 },
    });
    expect(memory.logical(webhook())?.late).toBeUndefined();
    expect([...memory.windows.values()]).toEqual([
      { ...logicalRefFor(webhook()), windowClosesAt: passedAt },
    ]);

    const report = await run(memory, { quarantineHoldMs: HOLD_MS }, passedAt);
    expect(report).toMatchObject({
      closed: { matched: 1 },
      held: 0,
      recovered: 0,
      findingsPublished: 0,
      errors: [],
    });
    const pushes = memory.published.filter((entry) => entry.topic === "acr-push");
    expect(pushes).toEqual([{ topic: "acr-push", message: topicMessageFor(webhook()) }]);
    expect(memory.findingsRecorded).toEqual([]);
    expect(memory.logical(webhook())?.state).toBe("matched");
    expect(memory.record(eventGrid())).toMatchObject({
      publishState: "held",
      crossCheck: "matched",
    });
    expect(memory.record(webhook())).toMatchObject({
      publishState: "published",
      crossCheck: "matched",
    });
    expect(memory.windows.size).toBe(0);
  });

  it("when the hold ends without its webhook: a quarantine-held finding, never recovered", async () => {
    const memory = new MemoryPorts();
    await heldPush(memory);
    const report = await run(memory, { quarantineHoldMs: HOLD_MS }, HOLD_ENDS);
    expect(report).toMatchObject({
      closed: { "quarantine-held": 1 },
      held: 0,
      recovered: 0,
      findingsPublished: 1,
      errors: [],
    });
    expect(memory.findingsRecorded).toMatchObject([
      {
        kind: "quarantine-held",
        state: "open",
        recovered: false,
        eventGridEventIds: ["eg-1"],
        webhookEventIds: [],
        detectedAt: HOLD_ENDS,
      },
    ]);
    expect(topicsPublished(memory)).toEqual(["acr-quarantine", DISCREPANCY_TOPIC]);
    expect(memory.published[1]?.message.body.type).toMatch(/discrepancy\.quarantine-held$/);
    expect(memory.logical(eventGrid())?.state).toBe("quarantine-held");
    expect(memory.record(eventGrid())).toMatchObject({
      publishState: "held",
      crossCheck: "quarantine-held",
    });
    expect(memory.windows.size).toBe(0);
    expect((await run(memory, { quarantineHoldMs: HOLD_MS }, HOLD_ENDS + HOLD_MS)).closed).toEqual(
      {},
    );
  });

  it("a webhook arriving while the hold's quarantine-held close publishes its finding: a late match, the finding resolved by the next run", async () => {
    const memory = new MemoryPorts();
    await heldPush(memory);
    const hold = { quarantineHoldMs: HOLD_MS };
    // The run comes a while after the hold's end; the webhook, released, at that moment.
    const closedAt = HOLD_ENDS + 30_000;
    const report = await twinDuringClose(memory, webhook(), DISCREPANCY_TOPIC, hold, closedAt);
    expect(report).toMatchObject({ closed: { "quarantine-held": 1 }, findingsPublished: 1 });
    // One window left for the next run: the closed one, kept; not the one the release moved it to.
    expect(memory.windows.size).toBe(1);
    expect(memory.logical(eventGrid())).toMatchObject({
      state: "matched",
      late: { finding: "quarantine-held", at: closedAt, findingResolved: false },
    });

    const next = await run(memory, hold, closedAt + 1);
    expect(next).toMatchObject({ resolved: 1, recovered: 0, errors: [] });
    const [open, resolved] = memory.findingsRecorded;
    expect(memory.findingsRecorded).toHaveLength(2);
    // The same finding (the same row), now resolved by the webhook.
    expect(resolved).toStrictEqual({
      ...open,
      webhookEventIds: [webhook().eventId],
      state: "resolved",
      resolution: "late-twin",
      resolvedAt: closedAt,
      lateByMs: closedAt - (T0 + 1_000),
    });
    expect(memory.logical(eventGrid())?.late?.findingResolved).toBe(true);
    expect(memory.record(webhook())?.crossCheck).toBe("matched");
    expect(memory.record(eventGrid())?.crossCheck).toBe("matched");
    // Released: published once, by the webhook; never recovered.
    expect(topicsPublished(memory)).toEqual([
      "acr-quarantine",
      "acr-push",
      DISCREPANCY_TOPIC,
      DISCREPANCY_TOPIC,
    ]);
    expect((await run(memory, hold, closedAt + WINDOW_MS)).resolved).toBe(0);
    expect(memory.windows.size).toBe(0);
  });

  it("a webhook arriving after the hold's close recorded its finding and could not publish it: the same finding resolved", async () => {
    const memory = new MemoryPorts();
    await heldPush(memory);
    const hold = { quarantineHoldMs: HOLD_MS };
    memory.faults["publisher.publish"] = always(
      new DependencyUnavailableError("service-bus", "timed out"),
    );
    const closedAt = HOLD_ENDS + 30_000;
    expect(await run(memory, hold, closedAt)).toMatchObject({ closed: {}, findingsPublished: 0 });
    const [open] = memory.findingsRecorded;
    expect(open).toMatchObject({ kind: "quarantine-held", state: "open" });

    const releasedAt = closedAt + WINDOW_LEASE_MS + 1;
    await arrive(memory, [webhook()], routing(), releasedAt);
    memory.faults["publisher.publish"] = undefined;
    expect(await run(memory, hold, releasedAt + 1)).toMatchObject({ resolved: 1, errors: [] });
    // The row the failed close wrote, published at last, then resolved; nothing left open.
    expect(memory.findingsRecorded.slice(1)).toStrictEqual([
      { ...open, webhookEventIds: [webhook().eventId] },
      {
        ...open,
        webhookEventIds: [webhook().eventId],
        state: "resolved",
        resolution: "late-twin",
        resolvedAt: releasedAt,
        lateByMs: releasedAt - (T0 + 1_000),
      },
    ]);
    expect(memory.windows.size).toBe(0);
    expect(memory.record(webhook())?.crossCheck).toBe("matched");
  });

  it("a webhook arriving while the close decides to hold its push: not held, the claim released, the next run closes it matched", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [quarantine, eventGrid()]);
    const ports = portsOf(memory);
    const store = ports.store;
    let arrived = false;
    // The webhook joins while the close reads the digest's quarantine, after its claim.
    ports.store = new Proxy(store, {
      get(target, name) {
        const value: unknown = Reflect.get(target, name, target);
        if (typeof value !== "function") return value;
        if (name !== "relatedLogicals") return value.bind(target);
        return async (...args: unknown[]) => {
          if (!arrived) {
            arrived = true;
            await arrive(memory, [webhook()], routing(), AFTER_WINDOW);
          }
          return value.apply(target, args);
        };
      },
    });
    const hold = { quarantineHoldMs: HOLD_MS };
    const report = await reconcile(ports, settings(hold), AFTER_WINDOW);
    expect(arrived).toBe(true);
    expect(report).toMatchObject({ held: 0, closed: {}, errors: [] });
    expect(memory.logical(eventGrid())?.state).toBe("open");
    expect(memory.logical(eventGrid())?.closingUntil).toBeUndefined();

    const next = await run(memory, hold, AFTER_WINDOW + 1);
    expect(next).toMatchObject({ held: 0, closed: { matched: 1 }, errors: [] });
    expect(memory.record(eventGrid())?.crossCheck).toBe("matched");
  });

  it("when the hold ends and its finding cannot be published, the close has every attempt of its own", async () => {
    const memory = new MemoryPorts();
    await heldPush(memory);
    memory.faults["publisher.publish"] = (topic) =>
      topic === DISCREPANCY_TOPIC ? new PublishRefusedError("topic missing") : undefined;
    const closed = [];
    for (let attempt = 0; attempt < POLICY.maxAttempts; attempt++) {
      const now = HOLD_ENDS + attempt * WINDOW_LEASE_MS;
      closed.push((await run(memory, { quarantineHoldMs: HOLD_MS }, now)).closed);
    }
    expect(closed).toEqual([{}, {}, { "quarantine-held": 1 }]);
  });

  it("with the hold off, a quarantined digest's Event Grid push is recovered as any other", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [quarantine, eventGrid()]);
    const report = await run(memory);
    expect(report).toMatchObject({ closed: { "eventgrid-only": 1 }, recovered: 1, held: 0 });
    expect(topicsPublished(memory)).toEqual(["acr-quarantine", "acr-push", DISCREPANCY_TOPIC]);
  });

  it("an Event Grid push of a digest never quarantined is recovered, hold on or not", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [eventGrid()]);
    const report = await run(memory, { quarantineHoldMs: HOLD_MS });
    expect(report).toMatchObject({ closed: { "eventgrid-only": 1 }, recovered: 1, held: 0 });
  });
});

describe("nextAttemptAt", () => {
  const record = (publishAttempts: number, lastAttemptAt?: number) =>
    ({ receivedAt: T0 - 50_000, publishAttempts, lastAttemptAt }) as DeliveryRecord;

  it.each<{ attempts: number; lastAttemptAt?: number; due: number }>([
    { attempts: 0, lastAttemptAt: undefined, due: T0 - 50_000 + 1_000 },
    { attempts: 0, lastAttemptAt: T0, due: T0 + 1_000 },
    { attempts: 1, lastAttemptAt: T0, due: T0 + 1_000 },
    { attempts: 2, lastAttemptAt: T0, due: T0 + 2_000 },
    { attempts: 3, lastAttemptAt: T0, due: T0 + 4_000 },
    { attempts: 4, lastAttemptAt: T0, due: T0 + 5_000 },
    { attempts: 60, lastAttemptAt: T0, due: T0 + 5_000 },
  ])(
    "after $attempts attempts, the last at $lastAttemptAt: due at $due",
    ({ attempts, lastAttemptAt, due }) => {
      expect(nextAttemptAt(record(attempts, lastAttemptAt), POLICY)).toBe(due);
    },
  );
});

describe("reconcile: a delete published late keeps its tags", () => {
  it("a delete whose publish failed is re-driven with the tags of its digest's pushes", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook({ tag: "v1" }), webhook({ eventId: "push-2", tag: "latest" })]);
    memory.faults["publisher.publish"] = always(new Error("bus down"));
    const deletion = webhook({ action: "delete", eventId: "del-1", tag: undefined });
    await arrive(memory, [deletion], routing(), T0 + 10_000);
    memory.faults["publisher.publish"] = undefined;

    // The failed attempt was stamped with the clock; the re-drive comes after its backoff.
    const report = await run(memory, {}, Date.now() + POLICY.maxDelayMs);
    expect(report).toMatchObject({ redriven: 1, errors: [] });
    const deletes = memory.published.filter((entry) => entry.topic === "acr-delete");
    expect(deletes.map((entry) => entry.message.applicationProperties.tags)).toEqual(["latest,v1"]);
  });
});

describe("reconcile: re-driving pending records", () => {
  function pending(eventId: string, overrides: Partial<DeliveryRecord> = {}): DeliveryRecord {
    const event = webhook({ eventId, tag: eventId });
    return {
      ...deliveryOf(event, { kind: "topic", topic: "acr-push" }, T0),
      publishState: "pending",
      deliveryCount: 1,
      arrivals: [],
      publishedTopics: [],
      publishAttempts: 0,
      ...overrides,
    };
  }

  /**
   * A record on the pending list, with its logical event long closed, as storage holds them: the
   * arrival claimed the publication of its occurrence when it was written.
   */
  function seedPending(memory: MemoryPorts, record: DeliveryRecord): void {
    const { event } = record;
    const logical = withArrival(undefined, event, record.receivedAt, WINDOW_MS);
    const occurrence = record.occurrence ?? 1;
    const publication = { by: event.origin, occurrence };
    memory.seed([
      { kind: "create-record", record },
      { kind: "index-arrival", record, logicalKey: logical.key },
      {
        kind: "create-logical",
        logical: { ...logical, occurrence, state: "webhook-only", publication },
      },
      { kind: "add-pending", record },
    ]);
  }

  /** The re-drive books its outcome on the record only: the claim was the arrival's. */
  const touchedLogical = (memory: MemoryPorts) =>
    memory
      .writes()
      .some((write) =>
        write.changes.some((change) =>
          ["create-logical", "replace-logical", "set-publication"].includes(change.kind),
        ),
      );

  it("a crash between the arrival's write and its publish: pending without a marker until its window closes, then the close lists it and the same run re-drives it, once", async () => {
    const memory = new MemoryPorts();
    const arrival = deliveryOf(webhook(), { kind: "topic", topic: "acr-push" }, T0);
    const decision = decideArrival(arrival, undefined, WINDOW_MS);
    // The arrival's write landed; the process died before publishing.
    memory.seed(decision.changes);
    expect(memory.pendingEventIds()).toEqual([]);
    expect(memory.logical(webhook())?.publication).toEqual({ by: "webhook", occurrence: 1 });

    const early = await run(memory, {}, T0 + 10_000);
    expect(early).toMatchObject({ closed: {}, redriven: 0, errors: [] });
    expect(memory.published).toEqual([]);
    expect(memory.record(webhook())?.publishState).toBe("pending");

    const atClose = await run(memory, {}, T0 + WINDOW_MS);
    expect(atClose).toMatchObject({ closed: { "webhook-only": 1 }, redriven: 1, errors: [] });
    const closing = memory.writes().find((write) => kindsOf(write.changes).includes("log-verdict"));
    expect(closing?.changes.find((change) => change.kind === "add-pending")).toMatchObject({
      record: { event: { eventId: "evt-1" }, publishState: "pending" },
    });
    expect(memory.published.filter((entry) => entry.topic === "acr-push")).toEqual([
      decision.publish,
    ]);
    expect(memory.record(webhook())).toMatchObject({
      publishState: "published",
      crossCheck: "webhook-only",
    });
    expect(memory.pendingEventIds()).toEqual([]);
    expect((await run(memory, {}, T0 + 2 * WINDOW_MS)).redriven).toBe(0);
    expect(topicsPublished(memory)).toEqual([DISCREPANCY_TOPIC, "acr-push"]);
  });

  it("a pending record of a later occurrence is re-driven with that occurrence's message id", async () => {
    const memory = new MemoryPorts();
    const record = pending("a", { occurrence: 2 });
    seedPending(memory, record);
    await run(memory, {}, T0 + 10_000);
    expect(memory.published).toEqual([
      { topic: "acr-push", message: topicMessageFor(record.event, [], 2) },
    ]);
    expect(touchedLogical(memory)).toBe(false);
  });

  it("a marker whose record is no longer pending is removed, nothing published", async () => {
    const memory = new MemoryPorts();
    const record = pending("a", { publishState: "published", publishedTopics: ["acr-push"] });
    seedPending(memory, record);
    const report = await run(memory, {}, T0 + 10_000);
    expect(report).toMatchObject({ redriven: 0, redriveFailed: 0, dead: 0, errors: [] });
    expect(memory.published).toEqual([]);
    expect(memory.pendingEventIds()).toEqual([]);
  });

  it.each<{ name: string; record: DeliveryRecord; now: number; redriven: boolean }>([
    {
      name: "never attempted, still in its delivery's hands",
      record: pending("a"),
      now: T0 + 999,
      redriven: false,
    },
    {
      name: "never attempted, one base delay after arrival",
      record: pending("a"),
      now: T0 + 1_000,
      redriven: true,
    },
    {
      name: "backing off after 2 attempts",
      record: pending("a", { publishAttempts: 2, lastAttemptAt: T0, lastError: "x" }),
      now: T0 + 1_999,
      redriven: false,
    },
    {
      name: "due after 2 attempts",
      record: pending("a", { publishAttempts: 2, lastAttemptAt: T0, lastError: "x" }),
      now: T0 + 2_000,
      redriven: true,
    },
  ])("$name: re-driven $redriven", async ({ record, now, redriven }) => {
    const memory = new MemoryPorts();
    seedPending(memory, record);
    const report = await run(memory, {}, now);
    expect(report.redriven).toBe(redriven ? 1 : 0);
    expect(memory.published).toHaveLength(redriven ? 1 : 0);
    expect(memory.record(record.event)?.publishState).toBe(redriven ? "published" : "pending");
  });

  it("a successful re-drive publishes the event's message and marks it published", async () => {
    const memory = new MemoryPorts();
    const record = pending("a", { publishAttempts: 1, lastAttemptAt: T0, lastError: "bus down" });
    seedPending(memory, record);
    const report = await run(memory, {}, T0 + 10_000);
    expect(report).toMatchObject({ redriven: 1, redriveFailed: 0, dead: 0, errors: [] });
    expect(memory.published).toEqual([
      { topic: "acr-push", message: topicMessageFor(record.event) },
    ]);
    expect(memory.record(record.event)).toMatchObject({
      publishState: "published",
      publishedTopics: ["acr-push"],
      lastError: undefined,
    });
    expect(touchedLogical(memory)).toBe(false);
    expect(memory.pendingEventIds()).toEqual([]);
  });

  it("a failed re-drive counts the attempt and stays pending", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    const record = pending("a", { publishAttempts: 1, lastAttemptAt: T0, lastError: "x" });
    seedPending(memory, record);
    const now = T0 + 10_000;
    const report = await run(memory, {}, now);
    expect(report).toMatchObject({ redriven: 0, redriveFailed: 1, dead: 0, errors: [] });
    expect(memory.record(record.event)).toMatchObject({
      publishState: "pending",
      publishAttempts: 2,
      lastAttemptAt: now,
      lastError: "Error: bus down",
    });
  });

  it("the attempt reaching maxAttempts marks the record dead with its reason", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new PublishRefusedError("topic missing")),
    });
    const record = pending("a", { publishAttempts: 2, lastAttemptAt: T0, lastError: "x" });
    seedPending(memory, record);
    const report = await run(memory, {}, T0 + 10_000);
    expect(report).toMatchObject({ redriven: 0, redriveFailed: 1, dead: 1, errors: [] });
    // Named in the run's report, so that its log line says which event was lost to its topic.
    expect(report.gaveUp).toEqual([
      {
        eventId: record.event.eventId,
        action: record.event.action,
        registry: record.event.registry,
        reason: "gave up after 3 attempts: PublishRefusedError: topic missing",
      },
    ]);
    expect(memory.record(record.event)).toMatchObject({
      publishState: "dead",
      publishAttempts: 3,
      lastError: "gave up after 3 attempts: PublishRefusedError: topic missing",
    });
    expect(memory.pendingEventIds()).toEqual([]);
  });

  it("a record already past maxAttempts is tried again: published if the service takes it, dead at its refusal", async () => {
    const memory = new MemoryPorts();
    const taken = pending("a", { publishAttempts: 5, lastAttemptAt: T0, lastError: "x" });
    seedPending(memory, taken);
    expect(await run(memory, {}, T0 + 10_000)).toMatchObject({ redriven: 1, dead: 0 });
    expect(memory.record(taken.event)?.publishState).toBe("published");

    memory.faults["publisher.publish"] = always(new PublishRefusedError("topic missing"));
    const refused = pending("b", { publishAttempts: 5, lastAttemptAt: T0, lastError: "x" });
    seedPending(memory, refused);
    expect(await run(memory, {}, T0 + 10_000)).toMatchObject({ redriveFailed: 1, dead: 1 });
    expect(memory.record(refused.event)).toMatchObject({
      publishState: "dead",
      lastError: "gave up after 6 attempts: PublishRefusedError: topic missing",
    });
  });

  it("a service that does not answer never makes a record dead: it waits, at the capped backoff, and is published once the service is back", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new DependencyUnavailableError("service-bus", "timed out")),
    });
    const record = pending("a", { publishAttempts: 1, lastAttemptAt: T0, lastError: "x" });
    seedPending(memory, record);
    let now = T0;
    for (let run_ = 0; run_ < POLICY.maxAttempts + 2; run_++) {
      now += POLICY.maxDelayMs;
      expect(await run(memory, {}, now)).toMatchObject({ redriveFailed: 1, dead: 0, errors: [] });
    }
    expect(memory.record(record.event)).toMatchObject({
      publishState: "pending",
      publishAttempts: POLICY.maxAttempts + 3,
    });
    memory.faults["publisher.publish"] = undefined;
    expect(await run(memory, {}, now + POLICY.maxDelayMs)).toMatchObject({ redriven: 1 });
    expect(memory.record(record.event)?.publishState).toBe("published");
  });

  it("once the service does not answer, the run tries no other publish: each record waits for the next run", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": always(new DependencyUnavailableError("service-bus", "timed out")),
    });
    for (const id of ["a", "b", "c"]) seedPending(memory, pending(id));
    const report = await run(memory, {}, T0 + 10_000);
    expect(report).toMatchObject({ redriven: 0, redriveFailed: 3, dead: 0, errors: [] });
    expect(memory.callsOf("publisher.publish")).toHaveLength(1);
    memory.faults["publisher.publish"] = undefined;
    const next = await run(memory, {}, T0 + 10_000 + POLICY.maxDelayMs);
    expect(next).toMatchObject({ redriven: 3 });
    for (const id of ["a", "b", "c"]) {
      expect(memory.record(webhook({ eventId: id, tag: id }))?.publishState).toBe("published");
    }
  });

  it("a refusal is not an outage: the run goes on publishing the others", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": (_topic, message) =>
        (message as { subject: string }).subject === "hello-world:a"
          ? new PublishRefusedError("message too large")
          : undefined,
    });
    for (const id of ["a", "b"]) seedPending(memory, pending(id));
    expect(await run(memory, {}, T0 + 10_000)).toMatchObject({ redriven: 1, redriveFailed: 1 });
  });

  it("ingest, a failed publish, backoff, then the re-drive finishes it", async () => {
    const memory = new MemoryPorts({ "publisher.publish": always(new Error("bus down")) });
    await arrive(memory, [webhook()]);
    const failedAt = memory.record(webhook())?.lastAttemptAt as number;
    memory.faults["publisher.publish"] = undefined;
    expect((await run(memory, {}, failedAt + 999)).redriven).toBe(0);
    expect((await run(memory, {}, failedAt + 1_000)).redriven).toBe(1);
    expect(memory.record(webhook())?.publishState).toBe("published");
    expect(memory.logical(webhook())?.publication).toEqual({ by: "webhook", occurrence: 1 });
  });

  it("one failing record does not stop the others", async () => {
    const memory = new MemoryPorts({
      "publisher.publish": (_topic, message) =>
        (message as { subject: string }).subject === "hello-world:b"
          ? new PublishRefusedError("topic missing")
          : undefined,
      "store.write": writing(
        (change) => change.kind === "set-record-status" && change.status.publishState === "dead",
        new Error("table down"),
      ),
    });
    seedPending(memory, pending("a"));
    seedPending(memory, pending("b", { publishAttempts: 2, lastAttemptAt: T0 }));
    seedPending(memory, pending("c"));
    const report = await run(memory, {}, T0 + 10_000);
    expect(report).toMatchObject({ redriven: 2, redriveFailed: 1, dead: 0 });
    expect(report.errors).toEqual(["record b: Error: table down"]);
    expect(memory.record(webhook({ eventId: "a", tag: "a" }))?.publishState).toBe("published");
    expect(memory.record(webhook({ eventId: "c", tag: "c" }))?.publishState).toBe("published");
    expect(memory.record(webhook({ eventId: "b", tag: "b" }))?.publishState).toBe("pending");
  });

  it("two concurrent runs re-drive a record once", async () => {
    const memory = new MemoryPorts();
    seedPending(memory, pending("a"));
    const reports = await Promise.all([run(memory, {}, T0 + 10_000), run(memory, {}, T0 + 10_000)]);
    expect(reports.map((report) => report.redriven).sort()).toEqual([0, 1]);
    expect(memory.published).toHaveLength(1);
  });

  it("after a long pause a run stops taking windows and records once its time is up, leaves the re-drive its share, and the runs after it finish everything once", async () => {
    const memory = new MemoryPorts();
    // Thirty windows only the webhook saw, and ten records left pending by an outage, all due.
    await arrive(
      memory,
      Array.from({ length: 30 }, (_, index) => webhook({ eventId: `w${index}`, tag: `w${index}` })),
    );
    for (let index = 0; index < 10; index++) seedPending(memory, pending(`p${index}`));
    const published = memory.published.length;
    // Each publish takes a second of the run's clock (a slow namespace); a run has 12 s.
    let clock = AFTER_WINDOW;
    const ports = portsOf(memory);
    const slow: ReconcilePorts = {
      ...ports,
      publisher: {
        publish: async (topic, message) => {
          clock += 1_000;
          await ports.publisher.publish(topic, message);
        },
      },
    };
    const RUN_MS = 12_000;
    const reports: ReconcileReport[] = [];
    for (let runs = 0; runs < 10; runs++) {
      const started = clock;
      const report = await reconcile(slow, settings({ runMs: RUN_MS }), clock, () => clock);
      reports.push(report);
      // Within its time, give or take the one close or re-drive under way.
      expect(clock - started).toBeLessThanOrEqual(RUN_MS + 1_000);
      if (report.deferred === 0) break;
      clock += 60_000;
    }
    const [first] = reports;
    expect(first.closed["webhook-only"]).toBeGreaterThan(0);
    expect(first.redriven).toBeGreaterThan(0);
    expect(first.deferred).toBeGreaterThan(0);
    const total = (count: (report: ReconcileReport) => number) =>
      reports.reduce((sum, report) => sum + count(report), 0);
    expect(total((report) => report.closed["webhook-only"] ?? 0)).toBe(30);
    expect(total((report) => report.redriven)).toBe(10);
    expect(reports.at(-1)?.deferred).toBe(0);
    // Each finding and each record on its topic once.
    const sent = memory.published.slice(published).map((entry) => entry.message.messageId);
    expect(sent).toHaveLength(40);
    expect(new Set(sent).size).toBe(40);
    expect(memory.windows.size).toBe(0);
    expect(memory.pendingEventIds()).toEqual([]);
  });

  it("re-drives at most batchSize records per run", async () => {
    const memory = new MemoryPorts();
    for (const id of ["a", "b", "c"]) seedPending(memory, pending(id));
    expect((await run(memory, { batchSize: 2 }, T0 + 10_000)).redriven).toBe(2);
    expect((await run(memory, { batchSize: 2 }, T0 + 10_000)).redriven).toBe(1);
  });
});

describe("reconcile: the journal", () => {
  it.each<{ name: string; publishFails: boolean; restoredState: string; redriven: number }>([
    {
      name: "a journaled delivery already on its topic is recorded as published",
      publishFails: false,
      restoredState: "published",
      redriven: 0,
    },
    {
      name: "a journaled delivery not yet published is published when it is restored",
      publishFails: true,
      restoredState: "published",
      redriven: 0,
    },
  ])("$name", async ({ publishFails, restoredState, redriven }) => {
    const memory = new MemoryPorts({
      "store.write": always(new DependencyUnavailableError("table-storage", "timeout")),
    });
    if (publishFails) memory.faults["publisher.publish"] = always(new Error("bus down"));
    await arrive(memory, [webhook()]);
    expect(memory.journaled).toHaveLength(1);
    expect(memory.record(webhook())).toBeUndefined();
    memory.faults["store.write"] = undefined;
    memory.faults["publisher.publish"] = undefined;

    const report = await run(memory);
    expect(report).toMatchObject({ restored: 1, redriven, errors: [] });
    expect(memory.journaled).toEqual([]);
    expect(memory.record(webhook())?.publishState).toBe(restoredState);
    expect(memory.published.filter((entry) => entry.topic === "acr-push")).toHaveLength(1);
    expect(memory.logical(webhook())).toMatchObject({
      publication: { by: "webhook", occurrence: 1 },
      webhook: { eventIds: ["evt-1"] },
    });
  });

  it.each([
    {
      name: "storage refuses it for its content: set aside at once",
      failure: new DependencyUnavailableError("table-storage", "0:bad value", true),
      setAsideAt: 1,
      reason: "table-storage refused: 0:bad value",
    },
    {
      name: `it fails for a reason of the bridge's own: set aside on its try ${RESTORE_TRIES}`,
      failure: new TypeError("Cannot read properties of undefined (reading 'digest')"),
      setAsideAt: RESTORE_TRIES,
      reason: `taken ${RESTORE_TRIES} times, failed: TypeError: Cannot read properties of undefined (reading 'digest')`,
    },
    {
      name: "storage does not answer: it stays on the journal, however many runs",
      failure: new DependencyUnavailableError("table-storage", "timeout on 0:bad value"),
      setAsideAt: undefined,
      reason: undefined,
    },
  ])("a journaled webhook whose restore fails, $name", async ({ failure, setAsideAt, reason }) => {
    const memory = new MemoryPorts({
      "store.write": always(new DependencyUnavailableError("table-storage", "timeout")),
    });
    const ids = ["a", "bad", "c"];
    await arrive(
      memory,
      ids.map((id) => webhook({ eventId: id, tag: id })),
    );
    expect(memory.journaled).toHaveLength(3);
    // Storage is back, and the restore of `bad` fails each time.
    memory.faults["store.write"] = writing(
      (change) => change.kind === "create-record" && change.record.event.eventId === "bad",
      failure,
    );

    for (let runs = 1; runs <= RESTORE_TRIES + 1; runs++) {
      const report = await run(memory, {}, T0 + runs * 60_000);
      const left = memory.journaledDeliveries().map((entry) => entry.delivery.event.eventId);
      if (runs === setAsideAt) {
        expect(report.setAside).toBe(1);
        expect(report.errors).toEqual([
          expect.stringMatching(
            /^journal: the webhook delivery of event bad \(push, registry .+, received .+\) set aside: /,
          ),
        ]);
        expect(report.errors[0]?.endsWith(`set aside: ${reason}`)).toBe(true);
        expect(left).toEqual([]);
        expect(memory.journalSetAside).toEqual([{ entry: expect.anything(), reason }]);
      } else if (setAsideAt === undefined || runs < setAsideAt) {
        expect(report.setAside).toBe(0);
        expect(report.errors).toEqual([
          expect.stringMatching(/^journal: an entry was not restored: .*(bad value|digest)/),
        ]);
        expect(left).toEqual(["bad"]);
        expect(memory.journalSetAside).toEqual([]);
      } else {
        expect(report).toMatchObject({ restored: 0, setAside: 0, errors: [] });
      }
    }
    // The entries around it were restored by the first run, whatever became of it.
    expect(memory.record(webhook({ eventId: "a", tag: "a" }))?.publishState).toBe("published");
    expect(memory.record(webhook({ eventId: "c", tag: "c" }))?.publishState).toBe("published");
    expect(memory.record(webhook({ eventId: "bad", tag: "bad" }))).toBeUndefined();
  });

  it("a window only Event Grid saw waits while the journal is not drained: its webhook may be in it, already on its topic", async () => {
    // Table Storage is down: three webhooks are published at once and journaled.
    const memory = new MemoryPorts({
      "store.write": always(new DependencyUnavailableError("table-storage", "timeout")),
    });
    const ids = ["a", "b", "c"];
    await arrive(
      memory,
      ids.map((id) => webhook({ eventId: id, tag: id })),
    );
    expect(memory.journaled).toHaveLength(3);
    memory.faults["store.write"] = undefined;
    // Storage is back; Event Grid's retries come in another order than the journal's.
    const later = T0 + 600_000;
    await arrive(
      memory,
      [...ids].reverse().map((id) => eventGrid({ eventId: id, tag: id })),
      routing(),
      later,
    );
    // The journal gives back two entries a run (the batch), as after a long outage it gives 500.
    const due = later + WINDOW_MS + 60_000;
    const first = await run(memory, { batchSize: 2 }, due);
    expect(first).toMatchObject({ restored: 2, recovered: 0, errors: [] });
    const second = await run(memory, { batchSize: 2 }, due + 60_000);
    expect(second).toMatchObject({ restored: 1, recovered: 0, errors: [] });
    await run(memory, { batchSize: 2 }, due + 120_000);
    expect(memory.journaled).toEqual([]);
    for (const id of ids) {
      expect(memory.logical(webhook({ eventId: id, tag: id }))?.state).toBe("matched");
    }
    // Each push on its topic once, the journal's; no finding blames ACR for a lost webhook.
    const pushes = memory.published.filter((entry) => entry.topic === "acr-push");
    expect(pushes.map((entry) => entry.message.applicationProperties.tag).sort()).toEqual(ids);
    expect(memory.findingsRecorded).toEqual([]);
  });

  it("a journaled webhook's window opens when it is restored: its twin, refused during an outage longer than the window, comes on Event Grid's retry and matches", async () => {
    const memory = new MemoryPorts({
      "store.write": always(new DependencyUnavailableError("table-storage", "timeout")),
    });
    await arrive(memory, [webhook()]);
    expect(memory.journaled).toHaveLength(1);
    memory.faults["store.write"] = undefined;

    const restoredAt = T0 + 3 * WINDOW_MS;
    expect(await run(memory, {}, restoredAt)).toMatchObject({ restored: 1, errors: [] });
    expect(memory.logical(webhook())).toMatchObject({
      state: "open",
      firstSeenAt: T0,
      windowClosesAt: restoredAt + WINDOW_MS,
    });
    // A run before the window closes leaves it open for the twin.
    const retriedAt = restoredAt + WINDOW_MS / 2;
    expect(await run(memory, {}, retriedAt - 1)).toMatchObject({ closed: {}, errors: [] });
    await arrive(memory, [eventGrid()], routing(), retriedAt);
    const closed = await run(memory, {}, restoredAt + WINDOW_MS + 60_000);
    expect(closed).toMatchObject({ closed: { matched: 1 }, errors: [] });
    expect(memory.logical(webhook())).toMatchObject({ state: "matched" });
    expect(memory.logical(webhook())?.late).toBeUndefined();
    expect(memory.findingsRecorded).toEqual([]);
    expect(memory.published.filter((entry) => entry.topic === "acr-push")).toHaveLength(1);
  });

  it("a long outage's journal is restored a share of each run's time at a time, and the runs after it finish it", async () => {
    const memory = new MemoryPorts({
      "store.write": always(new DependencyUnavailableError("table-storage", "timeout")),
    });
    await arrive(
      memory,
      Array.from({ length: 30 }, (_, index) => webhook({ eventId: `j${index}`, tag: `j${index}` })),
    );
    expect(memory.journaled).toHaveLength(30);
    memory.faults["store.write"] = undefined;
    // Each write takes a second of the run's clock (a slow account); a run has 12 s.
    let clock = AFTER_WINDOW;
    const ports = portsOf(memory);
    const slow: ReconcilePorts = {
      ...ports,
      store: {
        ...ports.store,
        write: async (changes, options) => {
          clock += 1_000;
          return ports.store.write(changes, options);
        },
      },
    };
    const RUN_MS = 12_000;
    const restored: number[] = [];
    for (let runs = 0; runs < 30 && memory.journaled.length > 0; runs++) {
      const started = clock;
      const report = await reconcile(slow, settings({ runMs: RUN_MS }), clock, () => clock);
      restored.push(report.restored);
      // Within its time, give or take the restore or close under way (two writes at most).
      expect(clock - started).toBeLessThanOrEqual(RUN_MS + 2_000);
      clock += 60_000;
    }
    expect(restored[0]).toBeGreaterThan(0);
    expect(restored[0]).toBeLessThan(30);
    expect(restored.reduce((a, b) => a + b, 0)).toBe(30);
    expect(memory.journaled).toEqual([]);
    const pushes = memory.published.filter((entry) => entry.topic === "acr-push");
    expect(pushes).toHaveLength(30);
  });

  it("an entry the journal cannot restore yet is reported, and waits on the journal", async () => {
    const memory = new MemoryPorts({
      "store.write": always(new DependencyUnavailableError("table-storage", "timeout")),
    });
    await arrive(memory, [webhook({ eventId: "stuck" })]);
    expect(memory.journaled).toHaveLength(1);
    const report = await run(memory);
    expect(report.restored).toBe(0);
    expect(report.errors).toEqual([
      "journal: an entry was not restored: DependencyUnavailableError: table-storage unavailable: timeout",
    ]);
    expect(memory.journaled).toHaveLength(1);
  });

  it("a journaled delivery whose event id was recorded with other content is reported: its message went out, its record cannot be", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook({ tag: "v1" })]);
    memory.faults["store.write"] = always(
      new DependencyUnavailableError("table-storage", "timeout"),
    );
    await arrive(memory, [webhook({ tag: "v2" })]);
    expect(memory.journaled).toHaveLength(1);
    memory.faults["store.write"] = undefined;

    const report = await run(memory);
    expect(report.errors).toEqual([
      "journal: event evt-1 was recorded with other content (differing: tag): not recorded, though its message went out while storage was down",
    ]);
    expect(memory.record(webhook())?.event.tag).toBe("v1");
    expect(memory.journaled).toEqual([]);
  });

  it("a journal failure is reported and the rest of the run goes on", async () => {
    const memory = new MemoryPorts({ "journal.drain": always(new Error("queue down")) });
    await arrive(memory, [webhook()]);
    const report = await run(memory);
    expect(report.errors).toEqual(["journal: Error: queue down"]);
    expect(report.closed).toEqual({ "webhook-only": 1 });
  });
});

describe("reconcile: Event Grid refused during a storage outage", () => {
  const storageDown = new DependencyUnavailableError("table-storage", "timeout");
  const MINUTE = 60_000;
  const refusedAt = T0 + MINUTE;
  const restoredAt = T0 + 10 * MINUTE;
  // Refused for 9 minutes, Event Grid's next retry comes within 10; the window waits one more.
  const retriedBy = restoredAt + 10 * MINUTE + WINDOW_MS;

  /** Event Grid's delivery of the webhook's twin, refused: storage does not answer. */
  async function twinRefused(memory: MemoryPorts, at = refusedAt): Promise<void> {
    memory.faults["store.write"] = always(storageDown);
    await arrive(memory, [eventGrid()], routing(), at);
    memory.faults["store.write"] = undefined;
  }

  it("a webhook recorded just before the outage waits for Event Grid's retry after it: the twin retried then matches, no finding", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await twinRefused(memory);
    expect(memory.journaled).toEqual([{ refusedAt }]);

    const restored = await run(memory, {}, restoredAt);
    expect(restored).toMatchObject({ restored: 1, extended: 1, closed: {}, errors: [] });
    expect(memory.outagesKept?.value).toEqual([{ from: refusedAt, to: restoredAt }]);
    expect(memory.logical(webhook())).toMatchObject({ state: "open", windowClosesAt: retriedBy });
    expect([...memory.windows.values()].map((window) => window.windowClosesAt)).toEqual([
      retriedBy,
    ]);

    await arrive(memory, [eventGrid()], routing(), restoredAt + 9 * MINUTE);
    expect(await run(memory, {}, retriedBy - 1)).toMatchObject({ closed: {}, extended: 0 });
    expect(await run(memory, {}, retriedBy)).toMatchObject({ closed: { matched: 1 }, errors: [] });
    expect(memory.logical(webhook())).toMatchObject({ state: "matched" });
    expect(memory.logical(webhook())?.late).toBeUndefined();
    expect(memory.findingsRecorded).toEqual([]);
    expect(discrepancies(memory)).toEqual([]);
  });

  it("a webhook whose twin never comes gets its webhook-only finding once Event Grid's retries are due, once", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await twinRefused(memory);
    await run(memory, {}, restoredAt);
    expect(await run(memory, {}, retriedBy - 1)).toMatchObject({ closed: {} });
    expect(discrepancies(memory)).toEqual([]);

    const closed = await run(memory, {}, retriedBy);
    expect(closed).toMatchObject({ closed: { "webhook-only": 1 }, extended: 0, errors: [] });
    await run(memory, {}, retriedBy + MINUTE);
    expect(discrepancies(memory).map((entry) => entry.message.applicationProperties)).toEqual([
      expect.objectContaining({ kind: "webhook-only", state: "open" }),
    ]);
  });

  it("a window that had closed before the outage began is closed as any other: its twin was not refused", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await twinRefused(memory, T0 + WINDOW_MS + MINUTE);
    const report = await run(memory, {}, restoredAt);
    expect(report).toMatchObject({ restored: 1, extended: 0, closed: { "webhook-only": 1 } });
  });

  it("a window only the webhook saw waits while the journal is not drained: the refusal of its twin may be in it", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    memory.faults["store.write"] = always(storageDown);
    await arrive(memory, [
      webhook({ eventId: "j1", tag: "j1" }),
      webhook({ eventId: "j2", tag: "j2" }),
    ]);
    memory.faults["store.write"] = undefined;
    await twinRefused(memory);
    expect(memory.journaled).toHaveLength(3);

    // The journal gives back one entry a run; the refusal comes last.
    const first = await run(memory, { batchSize: 1 }, restoredAt);
    expect(first).toMatchObject({ restored: 1, deferred: 1, closed: {} });
    await run(memory, { batchSize: 1 }, restoredAt + 1);
    const last = await run(memory, { batchSize: 1 }, restoredAt + 2);
    expect(last).toMatchObject({ restored: 1, extended: 1, closed: {} });
    expect(memory.journaled).toEqual([]);
    expect(memory.findingsRecorded).toEqual([]);
  });

  it("a refusal whose outage cannot be kept yet (storage failing again) stays on the journal, and is kept by the next run", async () => {
    const memory = new MemoryPorts();
    await arrive(memory, [webhook()]);
    await twinRefused(memory);
    memory.faults["outages.write"] = always(storageDown);
    const failed = await run(memory, {}, restoredAt);
    expect(failed.errors).toEqual([
      "journal: an entry was not restored: DependencyUnavailableError: table-storage unavailable: timeout",
    ]);
    expect(failed).toMatchObject({ restored: 0, closed: {}, deferred: 1 });
    expect(memory.journaled).toEqual([{ refusedAt }]);

    memory.faults["outages.write"] = undefined;
    const later = restoredAt + MINUTE;
    expect(await run(memory, {}, later)).toMatchObject({ restored: 1, extended: 1, closed: {} });
    expect(memory.outagesKept?.value).toEqual([{ from: refusedAt, to: later }]);
  });
});
