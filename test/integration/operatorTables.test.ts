import { randomUUID } from "node:crypto";
import { odata, type TableClient } from "@azure/data-tables";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { createTableClient } from "../../src/adapters/clients";
import { ServiceBusPublisher } from "../../src/adapters/serviceBusPublisher";
import { TableOutageLog } from "../../src/adapters/tableOutageLog";
import { TableReplayJobs } from "../../src/adapters/tableReplayJobs";
import { TableSourceWatch } from "../../src/adapters/tableSourceWatch";
import { newReplayJob, type ReplayJob, type ReplayJobState } from "../../src/core/replay";
import { watchSources } from "../../src/core/sourceSilence";
import { KeptOutages } from "../../src/core/storeOutage";
import { rendezvous } from "../support/rendezvous";

const connection = {
  kind: "connection-string" as const,
  connectionString: inject("tablesConnection"),
};

const created: TableClient[] = [];

/** A table of its own per test: these tables hold few rows and tests count them. */
function freshTable(): TableClient {
  const table = createTableClient(connection, `T${randomUUID().replaceAll("-", "")}`);
  created.push(table);
  return table;
}

afterAll(async () => {
  await Promise.all(created.map((table) => table.deleteTable()));
});

/**
 * Saves an ended job as jobs were saved before they forgot their choices: no `choicesForgotten`
 * column, nor in its JSON.
 */
async function saveAsBeforeTheColumn(
  table: TableClient,
  job: Omit<ReplayJob, "choicesForgotten">,
): Promise<void> {
  await table.createEntity({
    partitionKey: "jobs",
    rowKey: job.id,
    state: job.state,
    createdAt: new Date(job.createdAt),
    leaseUntil: new Date(0),
    job: JSON.stringify(job),
  });
}

/** The table, counting the rows its listings yield. */
function countingJobRowsRead(table: TableClient): { table: TableClient; rowsRead: () => number } {
  let rowsRead = 0;
  const counting = new Proxy(table, {
    get(target, property) {
      if (property === "listEntities") {
        return (...args: Parameters<TableClient["listEntities"]>) => {
          const rows = target.listEntities(...args);
          return (async function* () {
            for await (const row of rows) {
              rowsRead++;
              yield row;
            }
          })();
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { table: counting, rowsRead: () => rowsRead };
}

describe("TableReplayJobs against Azurite", () => {
  it("reads nothing, and creates no table, before the first job", async () => {
    const table = freshTable();
    const jobs = new TableReplayJobs(table, 2000);
    expect(await jobs.active(10)).toEqual([]);
    expect(await jobs.keepingChoices(10)).toEqual([]);
    expect(await jobs.get(randomUUID())).toBeUndefined();
    expect(await jobs.claim(randomUUID(), Date.now(), Date.now() + 1000)).toBeUndefined();
    await expect(table.getEntity("jobs", "x")).rejects.toMatchObject({
      statusCode: 404,
      details: { errorCode: "TableNotFound" },
    });
  });

  it("lets one of two concurrent claims win, keeps the claim while a run goes on, frees it at the end", async () => {
    const jobs = new TableReplayJobs(freshTable(), 2000);
    const now = Date.now();
    const job = newReplayJob(randomUUID(), { from: now - 1000, to: now }, now);
    expect(await jobs.create(job)).toBe(true);
    // A job id is created once: a second create changes nothing.
    expect(await jobs.create({ ...job, selection: { from: 0, to: 1 } })).toBe(false);
    expect((await jobs.get(job.id))?.selection).toEqual(job.selection);
    const claims = await Promise.all([
      jobs.claim(job.id, now, now + 60_000),
      jobs.claim(job.id, now, now + 60_000),
    ]);
    expect(claims.filter((claim) => claim !== undefined)).toHaveLength(1);
    const lease = now + 60_000;
    expect(await jobs.save({ ...job, state: "running", scanned: 5 }, lease, true)).toBe(true);
    expect(await jobs.claim(job.id, now + 1, now + 60_000)).toBeUndefined();
    expect(await jobs.get(job.id)).toMatchObject({ state: "running", scanned: 5 });
    // A run whose claim was not this one (it lapsed and was taken) saves nothing.
    expect(await jobs.save({ ...job, state: "failed" }, lease - 1, false)).toBe(false);
    expect(await jobs.get(job.id)).toMatchObject({ state: "running", scanned: 5 });
    expect(await jobs.save({ ...job, state: "running", scanned: 7 }, lease, false)).toBe(true);
    expect(await jobs.claim(job.id, now + 2, now + 70_000)).toMatchObject({ scanned: 7 });
    expect(await jobs.save({ ...job, state: "running", scanned: 9 }, lease, false)).toBe(false);
    expect(await jobs.save({ ...job, state: "completed" }, now + 70_000, false)).toBe(true);
    expect(await jobs.active(10)).toEqual([]);
    expect((await jobs.recent(10)).map((recent) => recent.id)).toEqual([job.id]);
    // Whether a finished job runs is the runner's to decide: the store only leases it.
    expect(await jobs.claim(job.id, now + 3, now + 60_000)).toMatchObject({ state: "completed" });
  });

  it("keeps each job's choices of the records it sends messages from, a page of 200 at once", async () => {
    const jobs = new TableReplayJobs(freshTable(), 2000);
    const [one, two] = [randomUUID(), randomUUID()];
    const ids = Array.from({ length: 200 }, (_, index) => `m${index}`);
    expect(await jobs.sendersOf(one, ids)).toEqual(new Map());
    const chosen = new Map(ids.map((id) => [id, { origin: "webhook" as const, eventId: id }]));
    await jobs.noteSenders(one, chosen);
    // Any event id, one with spaces too.
    const logged = { origin: "acr-log" as const, eventId: "an id with spaces" };
    await jobs.noteSenders(two, new Map([["m0", logged]]));
    expect(await jobs.sendersOf(one, ids)).toEqual(chosen);
    expect(await jobs.sendersOf(two, ["m0", "m1"])).toEqual(new Map([["m0", logged]]));
    // The choices are not jobs: the runner lists none of them.
    expect(await jobs.recent(10)).toEqual([]);
  });

  it("forgets an ended job's choices at most the number asked for at a time, leaving the job and other jobs' choices", async () => {
    const table = freshTable();
    const jobs = new TableReplayJobs(table, 5000);
    const now = Date.now();
    const ended = {
      ...newReplayJob(randomUUID(), { from: now - 1000, to: now }, now),
      state: "completed" as const,
      scanned: 2500,
      published: 2500,
    };
    await jobs.create(ended);
    const other = randomUUID();
    const ids = Array.from({ length: 2500 }, (_, index) => `m${index}`);
    await jobs.noteSenders(
      ended.id,
      new Map(ids.map((id) => [id, { origin: "webhook" as const, eventId: id }])),
    );
    const kept = { origin: "eventgrid" as const, eventId: "e0" };
    await jobs.noteSenders(other, new Map([["m0", kept]]));
    const counts: number[] = [];
    for (let count = -1; count !== 0; ) {
      count = await jobs.forgetSenders(ended.id, 1000);
      counts.push(count);
    }
    expect(counts).toEqual([1000, 1000, 500, 0]);
    const left = table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${ended.id}`, select: ["RowKey"] },
    });
    let rows = 0;
    for await (const _row of left) rows++;
    expect(rows).toBe(0);
    expect(await jobs.sendersOf(ended.id, ids.slice(0, 20))).toEqual(new Map());
    expect(await jobs.sendersOf(other, ["m0"])).toEqual(new Map([["m0", kept]]));
    expect(await jobs.get(ended.id)).toEqual(ended);
  });

  it("lists ended jobs that keep their choices, one saved before jobs forgot them included, oldest first", async () => {
    const table = freshTable();
    const jobs = new TableReplayJobs(table, 2000);
    const now = Date.now();
    const job = (state: ReplayJobState, createdAt: number) => ({
      ...newReplayJob(randomUUID(), { from: now - 1000, to: now }, createdAt),
      state,
    });
    const completed = job("completed", now - 3);
    const failed = job("failed", now - 2);
    for (const each of [
      job("queued", now - 6),
      job("running", now - 4),
      completed,
      failed,
      { ...job("completed", now - 1), choicesForgotten: true },
    ]) {
      await jobs.create(each);
    }
    const { choicesForgotten: _, ...older } = job("completed", now - 5);
    await saveAsBeforeTheColumn(table, older);
    expect(await jobs.keepingChoices(10)).toEqual([older.id, completed.id, failed.id]);
    expect(await jobs.keepingChoices(2)).toEqual([older.id, completed.id]);
    expect(await jobs.get(older.id)).toEqual({ ...older, choicesForgotten: false });
    const lease = now + 60_000;
    const claimed = await jobs.claim(older.id, now, lease);
    expect(claimed).toEqual({ ...older, choicesForgotten: false });
    if (!claimed) throw new Error("not claimed");
    expect(await jobs.save({ ...claimed, choicesForgotten: true }, lease, false)).toBe(true);
    expect(await jobs.keepingChoices(10)).toEqual([completed.id, failed.id]);
  });

  it("lists ended jobs keeping their choices without reading those that forgot them, however many ended before", async () => {
    const table = freshTable();
    const now = Date.now();
    const job = (state: ReplayJobState, createdAt: number) => ({
      ...newReplayJob(randomUUID(), { from: now - 1000, to: now }, createdAt),
      state,
    });
    const writer = new TableReplayJobs(table, 2000);
    const history = Array.from({ length: 40 }, (_, index) => ({
      ...job("completed", now - 100 + index),
      choicesForgotten: true,
    }));
    const keeping = job("failed", now - 2);
    for (const each of [...history, job("running", now - 3), keeping]) await writer.create(each);
    const { choicesForgotten: _, ...older } = job("completed", now - 200);
    await saveAsBeforeTheColumn(table, older);
    expect(await writer.keepingChoices(10)).toEqual([older.id, keeping.id]);

    // Each run of another process after that reads the jobs keeping their choices only.
    for (let run = 0; run < 2; run++) {
      const counted = countingJobRowsRead(table);
      expect(await new TableReplayJobs(counted.table, 2000).keepingChoices(10)).toEqual([
        older.id,
        keeping.id,
      ]);
      expect(counted.rowsRead()).toBe(2);
    }
    const lease = now + 60_000;
    const claimed = await writer.claim(older.id, now, lease);
    if (!claimed) throw new Error("not claimed");
    expect(await writer.save({ ...claimed, choicesForgotten: true }, lease, false)).toBe(true);
    const counted = countingJobRowsRead(table);
    expect(await new TableReplayJobs(counted.table, 2000).keepingChoices(10)).toEqual([keeping.id]);
    expect(counted.rowsRead()).toBe(1);
  });

  it("a job ended before jobs forgot their choices is still found after a run that stopped part way through giving it the column", async () => {
    const table = freshTable();
    const now = Date.now();
    const writer = new TableReplayJobs(table, 2000);
    const ended = {
      ...newReplayJob(randomUUID(), { from: now - 1000, to: now }, now - 1),
      state: "completed" as const,
    };
    await writer.create(ended);
    const { choicesForgotten: _, ...older } = {
      ...newReplayJob(randomUUID(), { from: now - 1000, to: now }, now - 2),
      state: "completed" as const,
    };
    await saveAsBeforeTheColumn(table, older);
    // The run stops (a crash, an outage) before it notes that older jobs were given the column.
    const stopping = new Proxy(table, {
      get(target, property) {
        if (property === "upsertEntity") {
          return async () => {
            throw new Error("table-storage unavailable");
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await expect(new TableReplayJobs(stopping, 2000).keepingChoices(10)).rejects.toThrow();
    expect(await new TableReplayJobs(table, 2000).keepingChoices(10)).toEqual([older.id, ended.id]);
    const counted = countingJobRowsRead(table);
    expect(await new TableReplayJobs(counted.table, 2000).keepingChoices(10)).toEqual([
      older.id,
      ended.id,
    ]);
    expect(counted.rowsRead()).toBe(2);
  });
});

describe("TableOutageLog against Azurite", () => {
  it("reads nothing, and creates no table, before the first outage is kept", async () => {
    const table = freshTable();
    expect(await new TableOutageLog(table, 2000).read()).toBeUndefined();
    await expect(table.getEntity("outages", "kept")).rejects.toMatchObject({
      statusCode: 404,
      details: { errorCode: "TableNotFound" },
    });
  });

  it("writes the list only over the version read: of two runs keeping outages at once, both are kept", async () => {
    const log = new TableOutageLog(freshTable(), 2000);
    const windowMs = 300_000;
    const now = Date.now();
    const runs = [new KeptOutages(log, windowMs), new KeptOutages(log, windowMs)];
    // Both read before either writes: one write is refused, and that run reads again.
    await Promise.all(runs.map((run) => run.current()));
    await Promise.all([
      runs[0].keep({ refusedAt: now - 60_000 }, now - 50_000),
      runs[1].keep({ refusedAt: now - 20_000 }, now),
    ]);
    expect((await log.read())?.value).toEqual([
      { from: now - 60_000, to: now - 50_000 },
      { from: now - 20_000, to: now },
    ]);
    expect(await log.write([], "W/\"datetime'2000-01-01T00%3A00%3A00.0000000Z'\"")).toEqual({
      ok: false,
      failure: "changed",
    });
    expect(await log.write([], undefined)).toEqual({ ok: false, failure: "changed" });
  });
});

describe("TableSourceWatch against Azurite", () => {
  it("keeps last-seen times, the scan position and findings, with regions and registries as keys", async () => {
    const watch = new TableSourceWatch(freshTable(), 2000);
    expect(await watch.seen()).toEqual([]);
    expect(await watch.findings()).toEqual([]);
    expect(await watch.lastScan()).toBeUndefined();
    const registry = "my/odd#registry?.azurecr.io";
    await watch.saveSeen([
      { registry, region: "westeurope", origin: "webhook", lastSeenAt: 1000 },
      { registry, origin: "eventgrid", lastSeenAt: 2000 },
    ]);
    await watch.saveSeen([
      { registry, region: "westeurope", origin: "webhook", lastSeenAt: 3000, lastOccurredAt: 2500 },
    ]);
    expect(await watch.seen()).toEqual(
      expect.arrayContaining([
        {
          registry,
          region: "westeurope",
          origin: "webhook",
          lastSeenAt: 3000,
          lastOccurredAt: 2500,
        },
        { registry, region: undefined, origin: "eventgrid", lastSeenAt: 2000 },
      ]),
    );
    await watch.setLastScan({ until: 4000 });
    expect(await watch.lastScan()).toEqual({ until: 4000 });
    await watch.setLastScan({ until: 4500, listeningSince: 4500 });
    expect(await watch.lastScan()).toEqual({ until: 4500, listeningSince: 4500 });
    const finding = {
      kind: "webhook-silent" as const,
      registry,
      region: "westeurope",
      silentSince: 1000,
      openedAt: 5000,
      published: false,
    };
    const first = await watch.writeFinding(finding, undefined);
    if (!first.ok) throw new Error("the first write of a finding conflicted");
    const marked = await watch.writeFinding(
      { ...finding, resolvedAt: 6000, published: true },
      first.value,
    );
    expect(marked).toMatchObject({ ok: true });
    const [kept] = await watch.findings();
    expect(kept?.value).toEqual({ ...finding, resolvedAt: 6000, published: true });
    // A write goes over the row as it was read, and over nothing else.
    const reopened = { ...finding, openedAt: 7000 };
    const changed = { ok: false, failure: "changed" };
    expect(await watch.writeFinding(reopened, first.value)).toEqual(changed);
    expect(await watch.writeFinding(reopened, kept?.version)).toMatchObject({ ok: true });
    expect(await watch.writeFinding({ ...finding, openedAt: 7001 }, kept?.version)).toEqual(
      changed,
    );
    const other = { ...finding, kind: "eventgrid-silent" as const };
    expect(await watch.writeFinding(other, undefined)).toMatchObject({ ok: true });
    expect(await watch.writeFinding({ ...other, openedAt: 7001 }, undefined)).toEqual(changed);
    expect((await watch.findings()).map((entry) => entry.value)).toEqual(
      expect.arrayContaining([reopened, other]),
    );
  });
});

/** A store whose runs come two at a time, each having read the findings before either writes. */
class OverlappingRuns extends TableSourceWatch {
  private readonly bothRead = rendezvous(2);
  override async findings() {
    const findings = await super.findings();
    await this.bothRead();
    return findings;
  }
}

describe("two source-watch runs at once (the timer and a manual run) against Azurite and the broker", () => {
  let bus: LocalServiceBus;
  let client: ServiceBusClient;

  beforeAll(async () => {
    bus = await startLocalServiceBus({ topology: defaultTopology() });
    client = new ServiceBusClient(bus.connectionString);
  });

  afterAll(async () => {
    await client?.close();
    await bus?.stop();
  });

  it("publish a silence's opening once", async () => {
    const store = new OverlappingRuns(freshTable(), 2000);
    const publisher = new ServiceBusPublisher({ client, timeoutMs: 5000 });
    const registry = `r${randomUUID().slice(0, 8)}.azurecr.io`;
    const threshold = 60_000;
    const now = Date.now();
    // The webhook has been silent past the threshold while Event Grid delivers.
    const arrivals = [
      { origin: "webhook" as const, receivedAt: now - 3 * threshold },
      { origin: "eventgrid" as const, receivedAt: now - 1000 },
    ].map((side) => ({ registry, region: "westeurope", occurredAt: side.receivedAt, ...side }));
    const ports = {
      store,
      arrivals: async () => arrivals,
      publish: (message: Parameters<typeof publisher.publish>[1]) =>
        publisher.publish("acr-discrepancies", message),
    };
    // A millisecond apart: each run's opening would have a message id of its own.
    const reports = await Promise.all(
      [now, now + 1].map((at) => watchSources(ports, threshold, at)),
    );
    expect(reports.map((report) => report.errors)).toEqual([[], []]);
    const onTopic = bus
      .messages("acr-discrepancies", "all")
      .filter((message) => message.applicationProperties.registry === registry);
    expect(onTopic.map((message) => message.applicationProperties)).toEqual([
      expect.objectContaining({ kind: "webhook-silent", state: "open", region: "westeurope" }),
    ]);
    expect(reports.map((report) => report.notClaimed).sort()).toEqual([0, 1]);
  });
});
