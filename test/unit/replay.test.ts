import { describe, expect, it } from "vitest";
import type { DeliveryRecord, PublishState } from "../../src/core/deliveryRecord";
import type { RegistryEvent } from "../../src/core/registryEvent";
import {
  countReplayable,
  isActiveJob,
  jobCovers,
  jobReached,
  newReplayJob,
  type ReplayCopy,
  type ReplayJob,
  type ReplayJobStore,
  type ReplayPorts,
  type ReplaySettings,
  type ReplaySource,
  replayMessageId,
  replayProgress,
  runReplayJobs,
} from "../../src/core/replay";
import { messageIdFor, type TopicMessage } from "../../src/core/topicMessage";
import { parseReplayRequest } from "../../src/replay/replayRequest";
import { registryEvent, T0 } from "./memoryPorts";

function record(
  index: number,
  overrides: {
    publishState?: PublishState;
    event?: Partial<RegistryEvent>;
    routed?: boolean;
    receivedAt?: number;
  } = {},
): DeliveryRecord {
  const event = registryEvent({
    eventId: `evt-${index}`,
    digest: `sha256:${index}`,
    occurredAt: T0 - index * 1000,
    ...overrides.event,
  });
  return {
    event,
    route:
      overrides.routed === false
        ? { kind: "not-routed", reason: "ping" }
        : { kind: "topic", topic: `acr-${event.action}` },
    receivedAt: overrides.receivedAt ?? event.occurredAt,
    request: { method: "POST", uri: "https://bridge/api/acr/webhook", headers: {} },
    publishState: overrides.publishState ?? "published",
    deliveryCount: 1,
    arrivals: [],
    publishedTopics: [],
    publishAttempts: 1,
  };
}

/** Records newest first, as the delivery listing gives them; the cursor is an index. */
function arraySource(records: DeliveryRecord[]): ReplaySource & { reads: number } {
  const source = {
    reads: 0,
    async page(_selection: unknown, limit: number, after?: string) {
      source.reads++;
      const start = after === undefined ? 0 : Number(after);
      const end = start + limit;
      return {
        records: records.slice(start, end),
        next: end < records.length ? String(end) : undefined,
      };
    },
  };
  return source;
}

class MemoryJobs implements ReplayJobStore {
  readonly jobs = new Map<string, { job: ReplayJob; leaseUntil: number }>();
  /** Each job's senders, by job id and original message id. */
  readonly senders = new Map<string, Map<string, ReplayCopy>>();
  async create(job: ReplayJob) {
    if (this.jobs.has(job.id)) return false;
    this.jobs.set(job.id, { job, leaseUntil: 0 });
    return true;
  }
  async get(id: string) {
    return this.jobs.get(id)?.job;
  }
  async active(limit: number) {
    return [...this.jobs.values()]
      .map((entry) => entry.job)
      .filter(isActiveJob)
      .slice(0, limit);
  }
  async recent(limit: number) {
    return [...this.jobs.values()].map((entry) => entry.job).slice(0, limit);
  }
  async claim(id: string, now: number, until: number) {
    const entry = this.jobs.get(id);
    if (!entry || entry.leaseUntil > now) return undefined;
    entry.leaseUntil = until;
    return entry.job;
  }
  async save(job: ReplayJob, lease: number, keepClaim: boolean) {
    if (this.jobs.get(job.id)?.leaseUntil !== lease) return false;
    this.jobs.set(job.id, { job, leaseUntil: keepClaim ? lease : 0 });
    return true;
  }
  async sendersOf(jobId: string, ids: readonly string[]) {
    const kept = this.senders.get(jobId);
    return new Map(
      ids.flatMap((id) => {
        const sender = kept?.get(id);
        return sender === undefined ? [] : [[id, sender] as const];
      }),
    );
  }
  async noteSenders(jobId: string, senders: ReadonlyMap<string, ReplayCopy>) {
    this.senders.set(jobId, new Map([...(this.senders.get(jobId) ?? []), ...senders]));
  }
  async keepingChoices(limit: number) {
    return [...this.jobs.values()]
      .map((entry) => entry.job)
      .filter((job) => !isActiveJob(job) && !job.choicesForgotten)
      .map((job) => job.id)
      .slice(0, limit);
  }
  async forgetSenders(jobId: string, limit: number) {
    const kept = this.senders.get(jobId) ?? new Map();
    let forgotten = 0;
    for (const id of kept.keys()) {
      if (forgotten === limit) break;
      kept.delete(id);
      forgotten++;
    }
    return forgotten;
  }
}

interface Sent {
  topic: string;
  message: TopicMessage;
}

function harness(records: DeliveryRecord[], failOn?: (sent: number) => boolean) {
  let now = T0;
  const sent: Sent[] = [];
  const sleeps: number[] = [];
  const jobs = new MemoryJobs();
  const source = arraySource(records);
  let attempts = 0;
  const ports: ReplayPorts = {
    jobs,
    source,
    publisher: {
      async publish(topic, message) {
        attempts++;
        if (failOn?.(attempts)) throw new Error("service bus down");
        sent.push({ topic, message });
      },
    },
    // Every digest was pushed with tag v0: a delete's message carries it.
    store: { digestTags: async () => ["v0"] },
    clock: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
  return { ports, jobs, sent, sleeps, source, advance: (ms: number) => (now += ms) };
}

const SETTINGS: ReplaySettings = {
  ratePerSecond: 1000,
  runMs: 60_000,
  pageSize: 2,
  maxFailedSteps: 3,
};
const WINDOW = { from: T0 - 3_600_000, to: T0 };

describe("replay jobs", () => {
  it("publish every replayable record once, marked replayed, with ids of the job's own", async () => {
    const records = [
      record(1),
      record(2, { publishState: "held", event: { origin: "eventgrid" } }),
      record(3, { routed: false }),
      record(4, { publishState: "dead" }),
      record(5, { event: { action: "delete", tag: undefined } }),
    ];
    const { ports, jobs, sent } = harness(records);
    await jobs.create(newReplayJob("job-a", WINDOW, T0));
    const [job] = (await runReplayJobs(ports, SETTINGS)).advanced;

    expect(job).toMatchObject({ state: "completed", scanned: 5, published: 3, skipped: 2 });
    expect(replayProgress(job)).toBe(1);
    expect(sent.map((s) => s.message.body.id)).toEqual([
      messageIdFor(records[0].event),
      messageIdFor(records[3].event),
      messageIdFor(records[4].event),
    ]);
    for (const { message } of sent) {
      const original = message.applicationProperties.originalMessageId;
      expect(message.messageId).toBe(replayMessageId("job-a", original));
      expect(message.messageId).not.toBe(original);
      expect(message.applicationProperties).toMatchObject({
        replayed: "true",
        replayJobId: "job-a",
      });
    }
    expect(sent.map((s) => s.topic)).toEqual(["acr-push", "acr-push", "acr-delete"]);
    // A delete is enriched like the original (the tags last seen pushed for its digest).
    expect(sent[2].message.applicationProperties.tags).toBe("v0");
  });

  it("a second job sends the same events under other ids; the same job never twice", async () => {
    const records = [record(1), record(2)];
    const { ports, jobs, sent } = harness(records);
    await jobs.create(newReplayJob("job-a", WINDOW, T0));
    await jobs.create(newReplayJob("job-b", WINDOW, T0));
    await runReplayJobs(ports, SETTINGS);
    await runReplayJobs(ports, SETTINGS);
    const ids = sent.map((s) => s.message.messageId);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  });

  it("send one event's message as it went out, never rebuilt from a regional copy it covered", async () => {
    const west = record(1, { event: { region: "westeurope" } });
    // Newer, so read first: published only as west's message, none of its own ever sent.
    const east = {
      ...record(1, { event: { eventId: "evt-1-east", region: "eastus" } }),
      publishAttempts: 0,
    };
    const { ports, jobs, sent } = harness([east, west]);
    await jobs.create(newReplayJob("job-g", WINDOW, T0));
    const [job] = (await runReplayJobs(ports, SETTINGS)).advanced;
    expect(job).toMatchObject({ state: "completed", scanned: 2, published: 1, skipped: 1 });
    expect(sent).toHaveLength(1);
    const [{ message }] = sent;
    expect(message.body.id).toBe(messageIdFor(west.event));
    expect(message.body.data).toMatchObject({ id: "evt-1" });
    expect(message.applicationProperties).toMatchObject({ region: "westeurope" });
  });

  it("send one event's webhook and a regional copy that published too (a pending copy re-driven) once", async () => {
    const west = record(1, { event: { region: "westeurope" } });
    const east = record(1, { event: { eventId: "evt-1-east", region: "eastus" } });
    const { ports, jobs, sent } = harness([west, east]);
    await jobs.create(newReplayJob("job-h", WINDOW, T0));
    const [job] = (await runReplayJobs(ports, SETTINGS)).advanced;
    // The copy not sent again counts as skipped: scanned = published + skipped.
    expect(job).toMatchObject({ state: "completed", scanned: 2, published: 1, skipped: 1 });
    expect(sent.map((s) => s.message.body.id)).toEqual([messageIdFor(west.event)]);
  });

  it.each([1, 2, 3])(
    "send one event's copies that both published once, from the first read, with whole pages between them (%i a page)",
    async (pageSize) => {
      const west = record(1, { event: { region: "westeurope" } });
      const east = record(1, { event: { eventId: "evt-1-east", region: "eastus" } });
      const records = [west, record(2), record(3), record(4), east];
      const { ports, jobs, sent } = harness(records);
      await jobs.create(newReplayJob("job-q", WINDOW, T0));
      const [job] = (await runReplayJobs(ports, { ...SETTINGS, pageSize })).advanced;
      expect(job).toMatchObject({ state: "completed", scanned: 5, published: 4, skipped: 1 });
      expect(sent.map((s) => s.message.body.data)).toEqual(
        records.slice(0, 4).map((r) => r.event.payload),
      );
      expect(await countReplayable(arraySource(records), WINDOW, pageSize)).toEqual({
        records: 5,
        replayable: 4,
      });
    },
  );

  it("send everything to the topic asked for", async () => {
    const { ports, jobs, sent } = harness([record(1), record(2, { event: { action: "delete" } })]);
    await jobs.create(newReplayJob("job-t", { ...WINDOW, topic: "acr-replays" }, T0));
    await runReplayJobs(ports, SETTINGS);
    expect(sent.map((s) => s.topic)).toEqual(["acr-replays", "acr-replays"]);
  });

  it("a failed page keeps its cursor and is sent again under the same ids; too many failures fail the job", async () => {
    const records = [record(1), record(2), record(3), record(4)];
    // The second publish (first page, second record) fails once.
    const { ports, jobs, sent } = harness(records, (attempt) => attempt === 2);
    await jobs.create(newReplayJob("job-f", WINDOW, T0));
    let [job] = (await runReplayJobs(ports, SETTINGS)).advanced;
    expect(job).toMatchObject({ state: "running", published: 0, failedSteps: 1 });
    expect(job.cursor).toBeUndefined();
    expect(job.errors[0]).toContain("service bus down");
    [job] = (await runReplayJobs(ports, SETTINGS)).advanced;
    expect(job).toMatchObject({ state: "completed", published: 4, failedSteps: 0 });
    // Record 1 went out twice, under one id: duplicate detection keeps one.
    const ids = sent.map((s) => s.message.messageId);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(4);

    const broken = harness(records, () => true);
    await broken.jobs.create(newReplayJob("job-x", WINDOW, T0));
    for (let run = 0; run < SETTINGS.maxFailedSteps; run++)
      await runReplayJobs(broken.ports, SETTINGS);
    expect(await broken.jobs.get("job-x")).toMatchObject({ state: "failed", failedSteps: 3 });
    expect(await broken.jobs.active(10)).toEqual([]);
  });

  it("pace sends to the rate and leave the rest to the next run when the run's time is up", async () => {
    const records = Array.from({ length: 10 }, (_, index) => record(index));
    const { ports, jobs, sent, sleeps } = harness(records);
    await jobs.create(newReplayJob("job-r", WINDOW, T0));
    const settings = { ...SETTINGS, ratePerSecond: 2, runMs: 2000 };
    const [job] = (await runReplayJobs(ports, settings)).advanced;
    // 2 per second for 2 seconds: the run stops after the page that crossed its time.
    expect(job.state).toBe("running");
    expect(sent.length).toBeLessThan(records.length);
    expect(sleeps.every((ms) => ms <= 500)).toBe(true);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe((sent.length - 1) * 500);
    expect(replayProgress(job)).toBeGreaterThan(0);
    expect(replayProgress(job)).toBeLessThan(1);
    while ((await jobs.get("job-r"))?.state === "running") await runReplayJobs(ports, settings);
    expect(new Set(sent.map((s) => s.message.messageId)).size).toBe(records.length);
  });

  it("at a slow rate a run reads no more than it can send in its time: it never outlasts its lease", async () => {
    const records = Array.from({ length: 30 }, (_, index) => record(index));
    const { ports, jobs, sent } = harness(records);
    const sentAt: number[] = [];
    const publish = ports.publisher.publish;
    ports.publisher.publish = async (topic, message) => {
      sentAt.push(ports.clock());
      await publish(topic, message);
    };
    const leases: number[] = [];
    const claim = jobs.claim.bind(jobs);
    jobs.claim = async (id, now, until) => {
      leases.push(until);
      return claim(id, now, until);
    };
    await jobs.create(newReplayJob("job-s", WINDOW, T0));
    // The deployed run: 8 s, pages of 200, here at the slowest rate allowed.
    const settings = { ...SETTINGS, ratePerSecond: 1, runMs: 8000, pageSize: 200 };
    const [job] = (await runReplayJobs(ports, settings)).advanced;
    expect(job.state).toBe("running");
    // Each send of the run within its own time, the run long done when its lease ends (at
    // which a runner of another instance may take the job).
    expect(sentAt.length).toBeGreaterThan(0);
    expect(Math.max(...sentAt)).toBeLessThanOrEqual(T0 + settings.runMs);
    expect(Math.max(...sentAt)).toBeLessThan(leases[0] ?? 0);
    expect(await jobs.get("job-s")).toMatchObject({ scanned: sentAt.length });
    // The job goes on run after run, each record once.
    for (let run = 0; run < 10 && (await jobs.get("job-s"))?.state === "running"; run++) {
      await runReplayJobs(ports, settings);
    }
    expect(await jobs.get("job-s")).toMatchObject({ state: "completed", published: 30 });
    expect(new Set(sent.map((s) => s.message.messageId)).size).toBe(30);
    expect(sent).toHaveLength(30);
  });

  it("a run that outlasted its lease (a hung publish) does not save over the run that took the job over", async () => {
    const records = Array.from({ length: 4 }, (_, index) => record(index));
    const { ports, jobs, sent, advance } = harness(records);
    await jobs.create(newReplayJob("job-o", WINDOW, T0));
    const settings = { ...SETTINGS, runMs: 8000, pageSize: 2 };
    const publish = ports.publisher.publish;
    let hung = false;
    ports.publisher.publish = async (topic, message) => {
      if (!hung) {
        hung = true;
        // This publish does not answer for a minute: the lease ends, and another instance's
        // runner takes the job and finishes it meanwhile.
        advance(60_000);
        const [other] = (await runReplayJobs({ ...ports, publisher: { publish } }, settings))
          .advanced;
        expect(other).toMatchObject({ state: "completed", published: 4 });
      }
      await publish(topic, message);
    };
    const [late] = (await runReplayJobs(ports, settings)).advanced;
    expect(late?.state).not.toBe("completed");
    // The job stays as the run that held it left it: done, and not to be run again.
    expect(await jobs.get("job-o")).toMatchObject({ state: "completed", published: 4, scanned: 4 });
    expect(await jobs.active(10)).toEqual([]);
    await runReplayJobs(ports, settings);
    expect(sent).toHaveLength(5);
  });

  it("a job held by another run is left alone", async () => {
    const { ports, jobs, sent, advance } = harness([record(1)]);
    await jobs.create(newReplayJob("job-h", WINDOW, T0));
    await jobs.claim("job-h", T0, T0 + 30_000);
    expect((await runReplayJobs(ports, SETTINGS)).advanced).toEqual([]);
    expect(sent).toEqual([]);
    advance(30_001);
    expect((await runReplayJobs(ports, SETTINGS)).advanced).toHaveLength(1);
  });

  it("leave alone a job that another run finished after it was listed", async () => {
    const { ports, jobs, sent } = harness([record(1)]);
    const job = newReplayJob("job-d", WINDOW, T0);
    await jobs.create(job);
    const listed = await jobs.active(10);
    await jobs.claim("job-d", T0, T0 + 1);
    await jobs.save({ ...job, state: "completed" }, T0 + 1, false);
    jobs.active = async () => listed;
    expect((await runReplayJobs(ports, SETTINGS)).advanced).toEqual([]);
    expect(sent).toEqual([]);
    expect(await jobs.get("job-d")).toMatchObject({ state: "completed", scanned: 0 });
  });

  it("count what a dry run would send, and tell which records a job covers", async () => {
    const records = [
      record(1),
      record(2, { routed: false }),
      record(3, { publishState: "pending" }),
    ];
    expect(await countReplayable(arraySource(records), WINDOW, 2)).toEqual({
      records: 3,
      replayable: 2,
    });
    const job = newReplayJob("job-c", { ...WINDOW, repository: "hello-world" }, T0);
    expect(jobCovers(job, records[0])).toBe(true);
    expect(jobCovers(job, records[1])).toBe(false);
    expect(jobCovers({ ...job, selection: { ...WINDOW, repository: "other" } }, records[0])).toBe(
      false,
    );
    expect(jobCovers({ ...job, selection: { from: T0 + 1, to: T0 + 2 } }, records[0])).toBe(false);
  });

  it("cover both ends of the window; a one-instant window shows no progress until it completes", () => {
    const job = newReplayJob("job-e", WINDOW, T0);
    expect(jobCovers(job, record(1, { receivedAt: WINDOW.from }))).toBe(true);
    expect(jobCovers(job, record(1, { receivedAt: WINDOW.to }))).toBe(true);
    expect(jobCovers(job, record(1, { receivedAt: WINDOW.to + 1 }))).toBe(false);
    const instant = newReplayJob("job-i", { from: T0, to: T0 }, T0);
    expect(replayProgress({ ...instant, state: "running", reachedAt: T0 })).toBe(0);
    expect(replayProgress({ ...instant, state: "completed", reachedAt: T0 })).toBe(1);
  });

  it("count the progress of a window that ends after the job was queued from when it was", () => {
    const HOUR = 3_600_000;
    // Queued at T0 for the last hour and the next 23: it reads back from T0.
    const job = newReplayJob("job-f", { from: T0 - HOUR, to: T0 + 23 * HOUR }, T0);
    expect(replayProgress({ ...job, state: "running", reachedAt: T0 - HOUR / 4 })).toBeCloseTo(
      0.25,
    );
    expect(replayProgress({ ...job, state: "running", reachedAt: T0 - HOUR })).toBe(1);
  });

  it("go by arrival at the bridge, as the listing it reads does, not by ACR's timestamp", async () => {
    const DAY = 86_400_000;
    // Arrived in the window, newest first, each stamped by ACR days before.
    const late = [1, 2, 3, 4].map((index) =>
      record(index, { receivedAt: T0 - index * 60_000, event: { occurredAt: T0 - index * DAY } }),
    );
    const arrivedBefore = record(5, {
      receivedAt: WINDOW.from - 1,
      event: { occurredAt: WINDOW.from + 1 },
    });
    const job = newReplayJob("job-t", WINDOW, T0);
    expect(late.every((each) => jobCovers(job, each))).toBe(true);
    expect(jobCovers(job, arrivedBefore)).toBe(false);

    const { ports, jobs } = harness(late);
    await jobs.create(job);
    const [afterOnePage] = (await runReplayJobs(ports, { ...SETTINGS, runMs: 1 })).advanced;
    expect(afterOnePage).toMatchObject({ state: "running", reachedAt: late[1].receivedAt });
    expect(replayProgress(afterOnePage)).toBeCloseTo(2 / 60);
    expect(jobReached(afterOnePage, late[1])).toBe(true);
    expect(jobReached(afterOnePage, late[2])).toBe(false);
  });
});

describe("a replay job's choices once it has ended", () => {
  /** Copies of one message (west, east) and two other messages: three choices. */
  const copies = () => [
    record(1, { event: { region: "westeurope" } }),
    record(2),
    record(3),
    record(1, { event: { eventId: "evt-1-east", region: "eastus" } }),
  ];

  it("are kept while the job runs and forgotten by the run that ends it; what the job shows stays", async () => {
    const { ports, jobs } = harness(copies());
    await jobs.create(newReplayJob("job-z", WINDOW, T0));
    // A run too short to end it: the choices made so far are kept while it runs.
    const first = await runReplayJobs(ports, { ...SETTINGS, runMs: 1 });
    expect(first.advanced[0]).toMatchObject({ state: "running", scanned: 2 });
    expect(first.forgotten).toEqual([]);
    expect(jobs.senders.get("job-z")?.size).toBe(2);

    const second = await runReplayJobs(ports, SETTINGS);
    const [job] = second.advanced;
    expect(job).toMatchObject({ state: "completed", scanned: 4, published: 3, skipped: 1 });
    expect(second.forgotten).toEqual([{ id: "job-z", forgot: 3, done: true }]);
    expect(jobs.senders.get("job-z")?.size).toBe(0);
    // The job as it ended, counts and errors alike, noting only that its choices are gone.
    expect(await jobs.get("job-z")).toEqual({ ...job, choicesForgotten: true });
    expect(replayProgress({ ...job, choicesForgotten: true })).toBe(1);
    // Nothing is left to do: later runs do not take it up.
    expect(await runReplayJobs(ports, SETTINGS)).toEqual({ advanced: [], forgotten: [] });
  });

  it("are forgotten by a job that failed, its errors kept", async () => {
    const broken = harness(copies(), () => true);
    await broken.jobs.create(newReplayJob("job-x", WINDOW, T0));
    for (let run = 0; run < SETTINGS.maxFailedSteps; run++) {
      await runReplayJobs(broken.ports, SETTINGS);
    }
    const failed = await broken.jobs.get("job-x");
    expect(failed).toMatchObject({ state: "failed", choicesForgotten: true, published: 0 });
    expect(failed?.errors).toHaveLength(SETTINGS.maxFailedSteps);
    expect(failed?.errors.every((error) => error.includes("service bus down"))).toBe(true);
    expect(broken.jobs.senders.get("job-x")?.size).toBe(0);
  });

  it("a run that stops while forgetting them, or before it notes that it has, leaves the rest to a later run", async () => {
    const { ports, jobs, advance } = harness(copies());
    await jobs.create(newReplayJob("job-c", WINDOW, T0));
    const forget = jobs.forgetSenders.bind(jobs);
    let calls = 0;
    // Storage goes away after the first choice is forgotten.
    jobs.forgetSenders = async (jobId, limit) => {
      calls++;
      if (calls > 1) throw new Error("table storage down");
      return forget(jobId, Math.min(limit, 1));
    };
    const ended = await runReplayJobs(ports, SETTINGS);
    expect(ended.advanced[0]).toMatchObject({ state: "completed", published: 3 });
    expect(ended.forgotten).toEqual([
      { id: "job-c", forgot: 1, done: false, error: expect.stringContaining("table storage down") },
    ]);
    expect(jobs.senders.get("job-c")?.size).toBe(2);
    expect(await jobs.get("job-c")).toMatchObject({ state: "completed", choicesForgotten: false });

    // The next run, once the stopped one's claim has lapsed, forgets the rest, but stops before
    // it can note that it has (the instance is stopped, storage fails).
    jobs.forgetSenders = forget;
    const save = jobs.save.bind(jobs);
    jobs.save = async () => {
      throw new Error("instance stopped");
    };
    advance(2 * SETTINGS.runMs);
    const cut = await runReplayJobs(ports, SETTINGS);
    expect(cut.forgotten).toEqual([
      { id: "job-c", forgot: 2, done: false, error: expect.stringContaining("instance stopped") },
    ]);
    expect(await jobs.get("job-c")).toMatchObject({ choicesForgotten: false });

    jobs.save = save;
    advance(2 * SETTINGS.runMs);
    const last = await runReplayJobs(ports, SETTINGS);
    expect(last.forgotten).toEqual([{ id: "job-c", forgot: 0, done: true }]);
    expect(await jobs.get("job-c")).toMatchObject({
      state: "completed",
      published: 3,
      choicesForgotten: true,
    });
  });

  it("100,000 choices are forgotten over several runs, none of which outlasts its time", async () => {
    const { ports, jobs, advance } = harness([]);
    const job = { ...newReplayJob("job-b", WINDOW, T0), state: "completed" as const };
    await jobs.create(job);
    await jobs.noteSenders(
      "job-b",
      new Map(
        Array.from({ length: 100_000 }, (_, index) => [
          `m${index}`,
          { origin: "webhook" as const, eventId: `e${index}` },
        ]),
      ),
    );
    // Each call to storage takes 150 ms of the run.
    const CALL_MS = 150;
    const forget = jobs.forgetSenders.bind(jobs);
    jobs.forgetSenders = async (jobId, limit) => {
      advance(CALL_MS);
      return forget(jobId, limit);
    };
    const settings = { ...SETTINGS, runMs: 8000 };
    let runs = 0;
    while ((await jobs.get("job-b"))?.choicesForgotten === false) {
      const started = ports.clock();
      const { forgotten } = await runReplayJobs(ports, settings);
      runs++;
      expect(forgotten).toMatchObject([{ id: "job-b" }]);
      expect(forgotten[0]?.error).toBeUndefined();
      // At most one call begun before the run's time was up goes past it.
      expect(ports.clock() - started).toBeLessThanOrEqual(settings.runMs + CALL_MS);
      advance(10_000);
    }
    expect(runs).toBeGreaterThan(1);
    expect(jobs.senders.get("job-b")?.size).toBe(0);
    expect(await jobs.get("job-b")).toEqual({ ...job, choicesForgotten: true });
  });
});

describe("POST /api/replay body", () => {
  const NOW = Date.parse("2026-05-01T12:00:00Z");
  const MAX = 24 * 3_600_000;

  it("accept a window with filters", () => {
    const parsed = parseReplayRequest(
      {
        from: "2026-05-01T10:00:00Z",
        to: "2026-05-01T11:00:00Z",
        registry: "MyRegistry.azurecr.io",
        dryRun: true,
      },
      MAX,
      NOW,
    );
    expect(parsed).toEqual({
      ok: true,
      value: {
        selection: {
          from: Date.parse("2026-05-01T10:00:00Z"),
          to: Date.parse("2026-05-01T11:00:00Z"),
          registry: "myregistry.azurecr.io",
        },
        dryRun: true,
      },
    });
  });

  it.each([
    [{}, ["body.from", "body.to"]],
    [{ from: "yesterday", to: "2026-05-01T11:00:00Z" }, ["body.from"]],
    [
      { from: "2026-05-01T10:00:00Z", to: "2026-05-01T11:00:00Z", topic: "no spaces" },
      ["body.topic"],
    ],
    [{ from: "2026-05-01T10:00:00Z", to: "2026-05-01T11:00:00Z", dryRun: "yes" }, ["body.dryRun"]],
    [
      { from: "2026-05-01T10:00:00Z", to: "2026-05-01T11:00:00Z", extra: 1, more: 2 },
      ["body.extra", "body.more"],
    ],
    [
      { from: "2026-05-01T10:00:00Z", to: "2026-05-01T11:00:00Z", registry: "é".repeat(255) },
      ["body.registry"],
    ],
    [
      { from: "2026-05-01T10:00:00Z", to: "2026-05-01T11:00:00Z", registry: "   " },
      ["body.registry"],
    ],
    [{ from: "2026-05-01T11:00:00Z", to: "2026-05-01T10:00:00Z" }, ["body.from"]],
    [{ from: "2026-04-01T10:00:00Z", to: "2026-05-01T10:00:00Z" }, ["body.from"]],
    ["not an object", ["body"]],
  ])("refuse %j naming %j", (body, paths) => {
    const parsed = parseReplayRequest(body, MAX, NOW);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.failure.map((issue) => issue.path)).toEqual(paths);
  });
});
