import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { createTableClient } from "../../src/adapters/clients";
import { EventTables } from "../../src/adapters/eventTables";
import { TableAccess } from "../../src/adapters/tableAccess";
import { TableEventStore } from "../../src/adapters/tableEventStore";
import { operation, TableGroupCommit } from "../../src/adapters/tableGroupCommit";
import {
  CROSS_CHECKS_TABLE,
  eventIdKeys,
  eventPartition,
  OUTAGES_TABLE,
  REGISTRIES_TABLE,
  registryPartitions,
  tagKeys,
} from "../../src/adapters/tableLayout";
import { TableOutageLog } from "../../src/adapters/tableOutageLog";
import { TableRegistryIndex } from "../../src/adapters/tableRegistryIndex";
import { logicalRefFor } from "../../src/core/crossCheck";
import { decideArrival } from "../../src/core/decideArrival";
import type { DeliveryRecord, NewDelivery } from "../../src/core/deliveryRecord";
import { ingestDelivery } from "../../src/core/ingestDelivery";
import { DependencyUnavailableError, type Publisher } from "../../src/core/ports";
import { reconcile } from "../../src/core/reconcile";
import type { RegistryEvent } from "../../src/core/registryEvent";
import { DONE } from "../../src/core/result";
import type { TopicMessage } from "../../src/core/topicMessage";
import type { Change } from "../../src/core/writePlan";
import { ingested } from "../support/ingested";
import { recordEntity } from "../support/records";

const WINDOW_MS = 60_000;
const IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function storeOn(
  connectionString: string,
  { timeoutMs = 3000, latency = (_url: string): number => 0 } = {},
) {
  const connection = { kind: "connection-string" as const, connectionString };
  const transactions: number[] = [];
  const requests: string[] = [];
  const events = new EventTables((name) => {
    const client = createTableClient(connection, name);
    // Counts each request to the event store's tables, and each that carries a transaction.
    client.pipeline.addPolicy({
      name: "count-requests",
      sendRequest: async (request, next) => {
        requests.push(request.url);
        if (request.url.includes("$batch")) transactions.push(request.body ? 1 : 0);
        const delay = latency(request.url);
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        return next(request);
      },
    });
    return client;
  });
  const store = new TableEventStore({
    events,
    crossChecks: createTableClient(connection, CROSS_CHECKS_TABLE),
    timeoutMs,
    registries: new TableRegistryIndex(createTableClient(connection, REGISTRIES_TABLE), 3000),
  });
  return { store, events, transactions, requests };
}

class RecordingPublisher implements Publisher {
  readonly sent: { topic: string; message: TopicMessage }[] = [];
  failing = false;
  async publish(topic: string, message: TopicMessage): Promise<void> {
    if (this.failing) throw new DependencyUnavailableError("service-bus", "down");
    this.sent.push({ topic, message });
  }
}

const notJournaled = {
  append: async () => {
    throw new Error("the journal is not used while storage answers");
  },
  storeAnswered: () => {},
  drain: async () => ({ restored: 0, setAside: 0, more: false }),
};

function delivery(overrides: Partial<RegistryEvent> = {}): NewDelivery {
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
    digest: `sha256:${randomUUID().replaceAll("-", "")}`,
    mediaType: "application/vnd.oci.image.index.v1+json",
    origin: "webhook",
    payload: { id: eventId, timestamp, action: "push", target: { repository: "team/api" } },
    ...overrides,
  };
  return {
    event,
    route: { kind: "topic", topic: "acr-push" },
    receivedAt: Date.now(),
    request: { method: "POST", uri: "http://localhost/api/acr/webhook", headers: {} },
  };
}

const readRecord = recordEntity;

describe("TableEventStore on Azurite: one arrival", () => {
  const { store, events } = storeOn(inject("tablesConnection"));
  const publisher = new RecordingPublisher();
  const ports = { store, publisher, journal: notJournaled, windowMs: WINDOW_MS };
  const ingest = (input: NewDelivery) => ingested(ingestDelivery(input, ports));

  it("records a delivery with its original payload and timestamp, publishes it, marks it", async () => {
    const input = delivery();
    const result = await ingest(input);
    expect(result).toMatchObject({ duplicate: false, publishState: "published", warnings: [] });
    // The mark is written lazily, after the outcome is returned.
    expect(await result.settling).toEqual([]);
    const entity = await readRecord(events, input.event);
    expect(entity.eventTimestamp).toBe("2026-11-24T10:15:30.123456789Z");
    expect(entity.publishState).toBe("published");
    expect(entity.deliveryCount).toBe(1);
    expect(JSON.parse(String(entity.payload0))).toEqual(input.event.payload);
    const work = await store.openWork(Date.now(), { windows: 0, pending: 1000 });
    expect(work.pending).not.toContainEqual(
      expect.objectContaining({ value: expect.objectContaining({ event: input.event }) }),
    );
  });

  it("encodes characters in keys that Azure forbids", async () => {
    const input = delivery({ eventId: "id/with#odd?chars\\and é", registry: "weird/registry#x" });
    expect((await ingest(input)).duplicate).toBe(false);
    expect((await ingest(input)).duplicate).toBe(true);
    expect((await store.findById(input.event.eventId)).map((found) => found.record.event)).toEqual([
      expect.objectContaining(input.event),
    ]);
  });

  it("keeps one record for repeated deliveries and counts them, concurrently too", async () => {
    const input = delivery();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => ingest({ ...input, receivedAt: Date.now() })),
    );
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    const entity = await readRecord(events, input.event);
    expect(entity.deliveryCount).toBe(10);
    expect(JSON.parse(String(entity.arrivals))).toHaveLength(10);
  });

  it("stores payloads larger than one Table string property and reads them back whole", async () => {
    const input = delivery();
    input.event.payload = { ...input.event.payload, big: "x".repeat(70_000) };
    await ingest(input);
    const recorded = await store.recordOf(input.event);
    expect(recorded?.value.event.payload).toEqual(input.event.payload);
  });

  it("enriches a delete with the tags pushed for its digest, read with the delete's own state", async () => {
    const digest = `sha256:${randomUUID().replaceAll("-", "")}`;
    for (const tag of ["v2", "latest"]) await ingest(delivery({ digest, tag }));
    const deletion = delivery({ action: "delete", digest, tag: undefined });
    await ingest({ ...deletion, route: { kind: "topic", topic: "acr-delete" } });
    const sent = publisher.sent.find(
      (entry) =>
        entry.message.applicationProperties.digest === digest && entry.topic === "acr-delete",
    );
    expect(sent?.message.applicationProperties.tags).toBe("latest,v2");
  });

  it.each<{ name: string; before: string[]; artifactKind: string }>([
    { name: "after its base tag `1.25`", before: ["1.25"], artifactKind: "patch" },
    { name: "alone", before: [], artifactKind: "image" },
  ])("classifies a push of `1.25-1` $name as $artifactKind", async ({ before, artifactKind }) => {
    const image = { repository: `patched/${randomUUID()}`, mediaType: IMAGE_MANIFEST };
    for (const tag of before) await ingest(delivery({ ...image, tag }));
    const patched = delivery({ ...image, tag: "1.25-1" });
    await ingest(patched);
    expect((await readRecord(events, patched.event)).artifactKind).toBe(artifactKind);
    const sent = publisher.sent.find(
      (entry) => entry.message.applicationProperties.digest === patched.event.digest,
    );
    expect(sent?.message.applicationProperties.artifactKind).toBe(artifactKind);
    // Each pushed tag is noted in its repository's partition, next to its record.
    const noted = tagKeys({ ...patched.event, tag: "1.25-1" });
    expect(noted.partitionKey).toBe(eventIdKeys(patched.event).partitionKey);
    await expect(
      events.of(noted.partitionKey).getEntity(noted.partitionKey, noted.rowKey),
    ).resolves.toBeDefined();
    expect(await store.tagSeen({ ...patched.event, tag: "1.25" })).toBe(before.length > 0);
  });

  it("reports Table Storage down as a typed dependency error", async () => {
    const down = storeOn(
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    );
    const { changes } = decideArrival(delivery(), undefined, WINDOW_MS);
    const failure = down.store.write(changes);
    await expect(failure).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(failure).rejects.toMatchObject({ refused: false });
  });
});

describe("TableEventStore on Azurite: group commit", () => {
  it("50 concurrent arrivals of distinct events share transactions; each resolves only once its own record is durable", async () => {
    const { store, events, transactions } = storeOn(inject("tablesConnection"));
    // The registry's partitions exist before the burst: the first write of a registry lists it.
    await store.write(decideArrival(delivery(), undefined, WINDOW_MS).changes);
    transactions.length = 0;
    const inputs = Array.from({ length: 50 }, (_, index) =>
      delivery({ repository: `team/service-${index % 3}` }),
    );
    const durable = await Promise.all(
      inputs.map(async (input) => {
        const outcome = await store.write(decideArrival(input, undefined, WINDOW_MS).changes);
        // Read at the moment its own write resolved: the record is already there.
        const entity = await readRecord(events, input.event);
        return { ok: outcome.ok, state: entity.publishState };
      }),
    );
    expect(durable.every((result) => result.ok && result.state === "pending")).toBe(true);
    expect(transactions.length).toBeGreaterThan(0);
    expect(transactions.length).toBeLessThan(50);
  });

  it("a lazy mark rides along with the partition's next write, or is written alone after a moment", async () => {
    const { store, events, transactions } = storeOn(inject("tablesConnection"));
    const [first, second, alone] = [delivery(), delivery(), delivery({ repository: "team/web" })];
    for (const input of [first, second, alone]) {
      await store.write(decideArrival(input, undefined, WINDOW_MS).changes);
    }
    const published = { publishState: "published" as const, publishedTopics: ["acr-push"] };
    const mark = (input: NewDelivery) => [
      {
        kind: "set-record-status" as const,
        record: decideArrival(input, undefined, WINDOW_MS).record,
        status: published,
      },
    ];

    transactions.length = 0;
    const lazy = store.write(mark(first), { lazy: true });
    // Nothing is sent for the lazy mark on its own...
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(transactions).toEqual([]);
    // ...until the partition's next write takes it along: one transaction for both.
    const eager = store.write(mark(second));
    expect(await Promise.all([lazy, eager])).toEqual([DONE, DONE]);
    expect(transactions).toHaveLength(1);
    expect((await readRecord(events, first.event)).publishState).toBe("published");

    transactions.length = 0;
    const started = Date.now();
    expect(await store.write(mark(alone), { lazy: true })).toEqual(DONE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(transactions).toHaveLength(1);
    expect((await readRecord(events, alone.event)).publishState).toBe("published");
  });

  it("flush writes what lazy writes hold at once (before the process ends)", async () => {
    const { store, events } = storeOn(inject("tablesConnection"));
    const input = delivery();
    await store.write(decideArrival(input, undefined, WINDOW_MS).changes);
    const { record } = decideArrival(input, undefined, WINDOW_MS);
    const status = { publishState: "published" as const, publishedTopics: ["acr-push"] };
    const lazy = store.write([{ kind: "set-record-status", record, status }], { lazy: true });
    await store.flush();
    // Durable when flush resolves, not a linger later.
    expect((await readRecord(events, input.event)).publishState).toBe("published");
    expect(await lazy).toEqual(DONE);
    expect((await readRecord(events, input.event)).publishState).toBe("published");
  });

  it("an optional operation Table Storage refuses is dropped; the rest of its arrival is written", async () => {
    const { events } = storeOn(inject("tablesConnection"));
    const [table] = events.all;
    const commit = new TableGroupCommit(() => table, new TableAccess([table], 3000));
    const partitionKey = `optional-${randomUUID()}`;
    const kept = { partitionKey, rowKey: "kept" };
    // Azurite refuses a string column past 32K characters, as Azure refuses a 253rd column.
    const refused = { partitionKey, rowKey: "refused", tags: "x".repeat(33 * 1024) };
    await commit.submit(partitionKey, [operation.create(kept), operation.optionalMerge(refused)]);
    await expect(table.getEntity(partitionKey, "kept")).resolves.toMatchObject(kept);
    await expect(table.getEntity(partitionKey, "refused")).rejects.toMatchObject({
      statusCode: 404,
    });
    // Refused as a required operation, the same entity fails its submission.
    const required = { action: operation.optionalMerge(refused).action };
    const failure = commit.submit(partitionKey, [required]);
    await expect(failure).rejects.toBeInstanceOf(DependencyUnavailableError);
    // Refused for what it holds: asked again, storage would refuse it again.
    await expect(failure).rejects.toMatchObject({ refused: true });
  });

  it("one bad entity in a shared transaction fails only its own submission; the others are written", async () => {
    const { events, transactions } = storeOn(inject("tablesConnection"));
    const [table] = events.all;
    const commit = new TableGroupCommit(() => table, new TableAccess([table], 3000));
    await table.createTable();
    const partitionKey = `bad-${randomUUID()}`;
    const entity = (rowKey: string) => ({ partitionKey, rowKey });
    // The first holds the partition's transaction in flight; the rest gather into the next one.
    const first = commit.submit(partitionKey, [operation.create(entity("first"))]);
    const goodRows = Array.from({ length: 10 }, (_, index) => `good-${index}`);
    const bad = { ...entity("bad"), tags: "x".repeat(33 * 1024) };
    const submitted = [
      ...goodRows
        .slice(0, 5)
        .map((row) => commit.submit(partitionKey, [operation.create(entity(row))])),
      commit.submit(partitionKey, [operation.create(bad)]),
      ...goodRows
        .slice(5)
        .map((row) => commit.submit(partitionKey, [operation.create(entity(row))])),
    ];
    const outcomes = await Promise.allSettled([first, ...submitted]);

    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      ...Array(6).fill("fulfilled"),
      "rejected",
      ...Array(5).fill("fulfilled"),
    ]);
    expect(outcomes[6]).toMatchObject({ reason: { refused: true } });
    for (const row of ["first", ...goodRows]) {
      await expect(table.getEntity(partitionKey, row)).resolves.toMatchObject({ rowKey: row });
    }
    await expect(table.getEntity(partitionKey, "bad")).rejects.toMatchObject({ statusCode: 404 });
    // The first alone, the shared one Azurite refused naming the bad operation, then the shared
    // one again without it: split off, not each retried on its own.
    expect(transactions).toHaveLength(3);
  });

  it("one conflicting arrival in a shared transaction fails only itself; the others are written", async () => {
    const { store, events } = storeOn(inject("tablesConnection"));
    const recorded = delivery();
    await store.write(decideArrival(recorded, undefined, WINDOW_MS).changes);
    const others = Array.from({ length: 20 }, () => delivery());
    const outcomes = await Promise.all(
      [...others, recorded].map((input) =>
        store.write(decideArrival(input, undefined, WINDOW_MS).changes),
      ),
    );
    expect(outcomes.at(-1)).toEqual({ ok: false, failure: "create-record" });
    expect(outcomes.slice(0, -1).every((outcome) => outcome.ok)).toBe(true);
    for (const input of others)
      expect((await readRecord(events, input.event)).publishState).toBe("pending");
  });

  it("a crash between the transaction and the publish is finished by the reconcile", async () => {
    const { store, events } = storeOn(inject("tablesConnection"));
    const publisher = new RecordingPublisher();
    const input = delivery({ registry: `crash-${randomUUID().slice(0, 8)}.azurecr.io` });
    // The process dies right after its write: nothing was published or marked.
    await store.write(decideArrival(input, undefined, WINDOW_MS).changes);
    const routing = {
      push: { topic: "acr-push", scopes: [] },
      delete: { topic: "acr-delete", scopes: [] },
      chart_push: { topic: "acr-chart-push", scopes: [] },
      chart_delete: { topic: "acr-chart-delete", scopes: [] },
      quarantine: { topic: "acr-quarantine", scopes: [] },
    };
    const report = await reconcile(
      {
        store,
        publisher,
        findings: { record: async () => undefined },
        journal: notJournaled,
        outages: new TableOutageLog(
          createTableClient(
            { kind: "connection-string", connectionString: inject("tablesConnection") },
            OUTAGES_TABLE,
          ),
          3000,
        ),
      },
      {
        routing,
        discrepancyTopic: "acr-discrepancies",
        recoveryEnabled: true,
        windowMs: WINDOW_MS,
        batchSize: 1000,
        redrive: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 10_000 },
      },
      // Its window's close finds it never marked published and hands it to the re-drive.
      Date.now() + WINDOW_MS + 5_000,
    );
    expect(report.errors).toEqual([]);
    expect(publisher.sent.map((entry) => entry.message.body.data)).toContainEqual(
      input.event.payload,
    );
    expect((await readRecord(events, input.event)).publishState).toBe("published");
  });

  it("lets only one of several concurrent re-drive claims take a pending record", async () => {
    const { store } = storeOn(inject("tablesConnection"));
    const input = delivery();
    await store.write(decideArrival(input, undefined, WINDOW_MS).changes);
    const recorded = await store.recordOf(input.event);
    if (!recorded) throw new Error("not recorded");
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        store.write([
          {
            kind: "replace-record",
            record: { ...recorded.value, lastAttemptAt: Date.now() + index },
            version: recorded.version,
          },
        ]),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
  });
});

describe("TableEventStore on Azurite: Event Grid arrivals by id", () => {
  it("finds every Event Grid arrival of an id in one read, whatever its registry and repository", async () => {
    const { store, requests } = storeOn(inject("tablesConnection"));
    const eventId = randomUUID();
    const arrivals = [
      delivery({ eventId, origin: "eventgrid" }),
      delivery({ eventId, origin: "eventgrid", repository: "other/repository" }),
      delivery({
        eventId,
        origin: "eventgrid",
        registry: `r${randomUUID().slice(0, 8)}.azurecr.io`,
      }),
    ];
    for (const input of arrivals) {
      expect(await store.write(decideArrival(input, undefined, WINDOW_MS).changes)).toEqual({
        ok: true,
      });
    }
    const before = requests.length;
    const found = await store.arrivalsIndexedById(eventId, "eventgrid");
    const where = (event: RegistryEvent) => `${event.registry} ${event.repository}`;
    expect(found.map((record) => where(record.event)).sort()).toEqual(
      arrivals.map((input) => where(input.event)).sort(),
    );
    // The id's row, then each arrival's record: no probe of any registry's partitions.
    expect(requests.length - before).toBe(1 + arrivals.length);
    expect(await store.arrivalsIndexedById(eventId, "webhook")).toEqual([]);
  });

  it("writes an arrival's id listing before its record, and lists nothing a failed record write left", async () => {
    const { store } = storeOn(inject("tablesConnection"));
    const input = delivery({ origin: "eventgrid" });
    const plan = decideArrival(input, undefined, WINDOW_MS).changes;
    expect(plan[0]).toMatchObject({ kind: "index-id" });
    await store.write(plan);
    // Another arrival under the id, later: its listing is written, then its record conflicts on
    // the id, so its listing names a record that is not there.
    const again = decideArrival(
      { ...input, receivedAt: input.receivedAt + 1, event: { ...input.event, tag: "v2" } },
      undefined,
      WINDOW_MS,
    ).changes;
    expect(await store.write(again)).toMatchObject({ ok: false });
    const found = await store.arrivalsIndexedById(input.event.eventId, "eventgrid");
    expect(found.map((record) => record.event.tag)).toEqual(["v1"]);
  });
});

describe("TableEventStore on Azurite: a reconcile's backlog", () => {
  const connection = {
    kind: "connection-string" as const,
    connectionString: inject("tablesConnection"),
  };

  /** Writes the markers, runs `check`, then removes them: the Azurite is shared with other tests. */
  async function withMarkers(
    store: TableEventStore,
    registry: string,
    changes: Change[],
    check: () => Promise<void>,
  ): Promise<void> {
    await new TableRegistryIndex(createTableClient(connection, REGISTRIES_TABLE), 3000).note(
      registry,
    );
    const write = async (all: Change[]) => {
      for (let at = 0; at < all.length; at += 100) {
        expect((await store.write(all.slice(at, at + 100))).ok).toBe(true);
      }
    };
    await write(changes);
    try {
      await check();
    } finally {
      await write(
        changes.map((change): Change => {
          if (change.kind === "add-pending")
            return { kind: "remove-pending", record: change.record };
          if (change.kind === "open-window") return { kind: "close-window", window: change.window };
          throw new Error(`not a marker: ${change.kind}`);
        }),
      );
    }
  }

  function pendingMarker(registry: string): Change {
    const record: DeliveryRecord = {
      ...delivery({ registry }),
      publishState: "pending",
      deliveryCount: 1,
      arrivals: [],
      publishedTopics: [],
      publishAttempts: 0,
    };
    return { kind: "add-pending", record };
  }

  function dueWindow(registry: string, windowClosesAt: number, repository = "team/api"): Change {
    const logical = logicalRefFor(delivery({ registry, repository }).event);
    return { kind: "open-window", window: { ...logical, windowClosesAt } };
  }

  it("lists a partition's pending markers and due windows with each page bounded on its own, not the whole listing by one call's bound", async () => {
    // After a long Service Bus outage a partition holds many pending markers, which sort before
    // its due windows; the listing goes on to a second page after the first one's windows.
    const registry = `r${randomUUID().slice(0, 12)}.azurecr.io`;
    const TIMEOUT_MS = 1500;
    const logicalReads: string[] = [];
    // A point read of a logical event as slow as a busy account's (40 ms), the rest as Azurite is.
    const { store } = storeOn(inject("tablesConnection"), {
      timeoutMs: TIMEOUT_MS,
      latency: (url: string): number => {
        if (!url.includes(encodeURIComponent(registry)) || !url.includes("RowKey='l")) return 0;
        logicalReads.push(url);
        return 40;
      },
    });
    const closesAt = Date.now() - 60_000;
    const windows = Array.from({ length: 60 }, () => dueWindow(registry, closesAt));
    const markers = Array.from({ length: 950 }, () => pendingMarker(registry));
    await withMarkers(store, registry, [...markers, ...windows], async () => {
      const work = await store.openWork(Date.now(), { windows: 5000, pending: 10 });
      // Reading the first page's windows alone took longer than one call's bound.
      expect(logicalReads.length * 40).toBeGreaterThan(TIMEOUT_MS);
      const mine = work.windows.filter(({ window }) => window.registry === registry);
      expect(mine).toHaveLength(windows.length);
    });
  });

  it("lists the oldest due windows across partitions, not the first partition's first", async () => {
    const registry = `r${randomUUID().slice(0, 12)}.azurecr.io`;
    const { store } = storeOn(inject("tablesConnection"));
    // Two repositories of the registry in its first and its last partition.
    const [first, last] = registryPartitions(registry).filter(
      (_, index, all) => index === 0 || index === all.length - 1,
    );
    const repositoryIn = (partition: string) => {
      for (let index = 0; ; index++) {
        const repository = `team/app${index}`;
        if (eventPartition(registry, repository) === partition) return repository;
      }
    };
    // Years ago: older than any due window other tests leave in the shared Azurite.
    const newer = Array.from({ length: 3 }, (_, index) =>
      dueWindow(registry, 5_000 + index, repositoryIn(first)),
    );
    const older = Array.from({ length: 3 }, (_, index) =>
      dueWindow(registry, 1_000 + index, repositoryIn(last)),
    );
    await withMarkers(store, registry, [...newer, ...older], async () => {
      const work = await store.openWork(Date.now(), { windows: 3, pending: 0 });
      expect(work.windows.map(({ window }) => window.windowClosesAt)).toEqual([
        1_000, 1_001, 1_002,
      ]);
    });
  });
});
