import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageSnapshot } from "../../dev/servicebus/broker";
import { eventIdKeys } from "../../src/adapters/tableLayout";
import type { RegistryEvent } from "../../src/core/registryEvent";
import { eventGridEvent, postEventGrid, RESOURCE_ID } from "../support/eventGridEvents";
import { runReconcile, sleep } from "../support/reconcile";
import { eventTables } from "../support/records";
import { type BridgeInstance, type ScaledOutBridge, startScaledOut } from "../support/scaledOut";
import { runTimer } from "../support/timers";
import { postWebhookJson } from "../support/webhookClient";

/**
 * The bridge scaled out, as Flex Consumption runs it under load: two instances, each a process
 * of its own (its own group commit queues, lazy marks, registry set and Service Bus links), on one
 * storage account and one namespace. Duplicate detection is off, so every message an instance
 * sends is seen: "one message" means the bridge sent one, not that Service Bus dropped the rest.
 */
const WINDOW_SECONDS = 1;
const EVENTGRID_SECRET = "scaled-out-eventgrid-secret";

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

interface Delivery {
  origin: string;
  region?: string;
  deliveryCount: number;
  publishState: string;
  crossCheck?: string;
  arrivals: { region?: string }[];
}

interface ReconcileReport {
  closed: Record<string, number>;
  recovered: number;
  findingsPublished: number;
  redriven: number;
  redriveFailed: number;
  errors: string[];
}

interface Story {
  crossCheck: string;
  deliveries: Delivery[];
}

const uniqueRegistry = () => `myregistry.s${randomUUID().slice(0, 8)}.data.azurecr.io`;
const newDigest = () => `sha256:${randomUUID().replaceAll("-", "")}`;

function push(registry: string, digest = newDigest(), id: string = randomUUID()) {
  return {
    id,
    timestamp: new Date().toISOString(),
    action: "push",
    target: {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest,
      repository: "team/scaled",
      tag: "v1",
    },
    request: { id: randomUUID(), host: registry, method: "PUT" },
  };
}

describe("two instances of the bridge on one storage account and one namespace", () => {
  let bridge: ScaledOutBridge;
  let a: BridgeInstance;
  let b: BridgeInstance;

  beforeAll(async () => {
    bridge = await startScaledOut({
      withoutDuplicateDetection: true,
      env: {
        CROSSCHECK_WINDOW_SECONDS: String(WINDOW_SECONDS),
        REDRIVE_BASE_DELAY_SECONDS: "1",
        EVENTGRID_SECRETS: EVENTGRID_SECRET,
        ACR_RESOURCE_IDS: RESOURCE_ID,
        // Tests run the timers themselves, on the instance they choose.
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
        AzureWebJobs__replayRunner__Disabled: "true",
      },
    });
    [a, b] = bridge.instances as [BridgeInstance, BridgeInstance];
    // Each instance opens its connections before the races start.
    for (const instance of bridge.instances) await webhook(instance, push(uniqueRegistry()));
  });

  afterAll(async () => {
    await bridge?.stop();
  });

  async function webhook(instance: BridgeInstance, payload: unknown, query = ""): Promise<Answer> {
    const response = await postWebhookJson(instance, payload, { query });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function eventGrid(instance: BridgeInstance, data: Record<string, unknown>) {
    const response = await postEventGrid(instance, [eventGridEvent(data)], EVENTGRID_SECRET);
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function getJson<T>(instance: BridgeInstance, path: string): Promise<T> {
    const response = await fetch(`${instance.url}/api/${path}`);
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  }

  const story = (id: string, instance = a) => getJson<Story>(instance, `events/${id}`);

  const onTopic = (topic: string, digest: string): MessageSnapshot[] =>
    bridge
      .broker()
      .messages(topic, "all")
      .filter((message) => message.applicationProperties.digest === digest);

  /**
   * The arrival that published answers `published`. A repeat of its event id answers its record
   * as it stands: `pending` while that publish is still under way (at the other instance), and
   * never `dead` or an error. Another regional copy is covered by the first: `published`.
   */
  function expectPublishedByOne(answers: Answer[]): void {
    const states = answers.map((answer) => answer.json.publishState);
    const first = answers.find((answer) => answer.json.duplicate === false);
    expect(first?.json.publishState).toBe("published");
    expect(states.every((state) => state === "published" || state === "pending")).toBe(true);
  }

  /** Lazy marks are written within about 100 ms of the answer. */
  const marksLanded = () => sleep(400);

  const ROUNDS = 5;

  it("the very same delivery at both instances at once: one record counting both, one message, both 200", async () => {
    const payloads = Array.from({ length: ROUNDS }, () => push(uniqueRegistry()));
    for (const payload of payloads) {
      const answers = await Promise.all([webhook(a, payload), webhook(b, payload)]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
      expect(answers.map((answer) => answer.json.duplicate).sort()).toEqual([false, true]);
      expectPublishedByOne(answers);
    }
    await marksLanded();
    for (const [round, payload] of payloads.entries()) {
      const { deliveries } = await story(payload.id, round % 2 === 0 ? a : b);
      expect(deliveries).toEqual([
        expect.objectContaining({ origin: "webhook", deliveryCount: 2, publishState: "published" }),
      ]);
      expect(onTopic("acr-push", payload.target.digest)).toHaveLength(1);
    }
  });

  it("one event's regional copies at both instances at once (same id, other ids): one message, the rest covered", async () => {
    const rounds = Array.from({ length: ROUNDS + 1 }, (_, round) => {
      const first = push(uniqueRegistry());
      // Geo-replication: each region's webhook sends the event, with the same id or its own.
      return { first, second: round % 2 === 0 ? first : { ...first, id: randomUUID() } };
    });
    const answered: Answer[][] = [];
    for (const { first, second } of rounds) {
      const answers = await Promise.all([
        webhook(a, first, "?region=westeurope"),
        webhook(b, second, "?region=eastus"),
      ]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
      expectPublishedByOne(answers);
      answered.push(answers);
    }
    await marksLanded();
    for (const [round, { first, second }] of rounds.entries()) {
      expect(onTopic("acr-push", first.target.digest), `round ${round}`).toHaveLength(1);
      if (first.id === second.id) {
        const { deliveries } = await story(first.id, b);
        expect(deliveries).toHaveLength(1);
        expect(deliveries[0]).toMatchObject({ deliveryCount: 2, publishState: "published" });
        expect(deliveries[0].arrivals.map((arrival) => arrival.region).sort()).toEqual([
          "eastus",
          "westeurope",
        ]);
      } else {
        // The one that did not publish says which side did.
        const covered = answered[round]?.filter((answer) => answer.json.coveredBy === "webhook");
        expect(covered).toHaveLength(1);
        for (const id of [first.id, second.id]) {
          const { deliveries } = await story(id);
          expect(deliveries).toEqual([
            expect.objectContaining({ deliveryCount: 1, publishState: "published" }),
          ]);
        }
      }
    }
  });

  it("a webhook at one instance and its Event Grid twin at the other at once, both ways: matched, published once, no finding", async () => {
    const registry = uniqueRegistry();
    const pushes = Array.from({ length: 8 }, () => push(registry));
    await Promise.all(
      pushes.map(async (payload, index) => {
        const [webhookAt, eventGridAt] = index % 2 === 0 ? [a, b] : [b, a];
        // Either arrives first, or both at the same moment.
        const lead = index % 4 < 2 ? 0 : 5;
        const [delivered, notified] = await Promise.all([
          webhook(webhookAt, payload),
          sleep(lead).then(() => eventGrid(eventGridAt, payload)),
        ]);
        expect(delivered).toMatchObject({ status: 200, json: { publishState: "published" } });
        expect(notified).toMatchObject({ status: 200, json: { accepted: 1, duplicates: 0 } });
      }),
    );
    await sleep(WINDOW_SECONDS * 1000 + 200);
    await runReconcile(a);

    for (const payload of pushes) {
      const { crossCheck, deliveries } = await story(payload.id, b);
      expect(crossCheck).toBe("matched");
      expect(deliveries).toEqual([
        expect.objectContaining({ origin: "webhook", publishState: "published" }),
        expect.objectContaining({ origin: "eventgrid", publishState: "held" }),
      ]);
      expect(onTopic("acr-push", payload.target.digest)).toHaveLength(1);
      expect(onTopic("acr-discrepancies", payload.target.digest)).toHaveLength(0);
    }
    const findings = await getJson<{ items: unknown[] }>(a, `discrepancies?registry=${registry}`);
    expect(findings.items).toEqual([]);
  });

  /** The reports each instance's reconcile runs logged since `from` (an index into its output). */
  function reconcileReports(instance: BridgeInstance, from: number): ReconcileReport[] {
    return [
      ...instance
        .output()
        .slice(from)
        .matchAll(/reconcile: (\{.*\})\n/g),
    ].map((match) => JSON.parse(match[1] ?? "{}") as ReconcileReport);
  }

  it("reconcile runs at both instances at once after a Service Bus outage: each record re-driven once, each window closed once", async () => {
    // The windows of earlier tests closed first, so the runs below count this test's items only.
    await sleep(WINDOW_SECONDS * 1000 + 200);
    await runReconcile(a);
    const registry = uniqueRegistry();
    await bridge.stopBroker();
    // Webhooks only (answered pending), Event Grid only (to recover), and both (matched).
    const webhookOnly = Array.from({ length: 6 }, () => push(registry));
    const eventGridOnly = Array.from({ length: 4 }, () => push(registry));
    const both = Array.from({ length: 4 }, () => push(registry));
    const answers = await Promise.all([
      ...webhookOnly.map((payload, index) => webhook(index % 2 ? a : b, payload)),
      ...both.map((payload, index) => webhook(index % 2 ? b : a, payload)),
    ]);
    expect(answers.map((answer) => answer.json.publishState)).toEqual(answers.map(() => "pending"));
    await Promise.all([
      ...eventGridOnly.map((payload, index) => eventGrid(index % 2 ? a : b, payload)),
      ...both.map((payload, index) => eventGrid(index % 2 ? a : b, payload)),
    ]);
    await bridge.startBroker();
    await sleep(WINDOW_SECONDS * 1000 + 1200);
    const from = [a.output().length, b.output().length] as const;
    await Promise.all([runReconcile(a), runReconcile(b)]);
    // What one run left (a record it handed over while the other re-drove it) the next finishes.
    await sleep(1200);
    await Promise.all([runReconcile(a), runReconcile(b)]);

    const reports = [...reconcileReports(a, from[0]), ...reconcileReports(b, from[1])];
    expect(reports).toHaveLength(4);
    const total = (count: (report: ReconcileReport) => number) =>
      reports.reduce((sum, report) => sum + count(report), 0);
    expect(total((report) => report.redriven)).toBe(webhookOnly.length + both.length);
    expect(total((report) => report.recovered)).toBe(eventGridOnly.length);
    expect(total((report) => report.closed["webhook-only"] ?? 0)).toBe(webhookOnly.length);
    expect(total((report) => report.closed["eventgrid-only"] ?? 0)).toBe(eventGridOnly.length);
    expect(total((report) => report.closed.matched ?? 0)).toBe(both.length);
    expect(total((report) => report.findingsPublished)).toBe(
      webhookOnly.length + eventGridOnly.length,
    );

    for (const payload of [...webhookOnly, ...eventGridOnly, ...both]) {
      const { digest } = payload.target;
      expect(onTopic("acr-push", digest), payload.id).toHaveLength(1);
      const findings = onTopic("acr-discrepancies", digest);
      expect(findings).toHaveLength(both.includes(payload) ? 0 : 1);
    }
    for (const payload of [...webhookOnly, ...both]) {
      const { deliveries } = await story(payload.id, b);
      expect(deliveries[0]).toMatchObject({ origin: "webhook", publishState: "published" });
    }
    const findings = await getJson<{ items: { kind: string }[] }>(
      b,
      `discrepancies?registry=${registry}&limit=100`,
    );
    expect(findings.items.map((finding) => finding.kind).sort()).toEqual([
      ...eventGridOnly.map(() => "eventgrid-only"),
      ...webhookOnly.map(() => "webhook-only"),
    ]);
    // One statistics row per logical event, whichever run closed it.
    const stats = await getJson<{ crossChecks: Record<string, unknown> }>(
      a,
      `stats?registry=${registry}`,
    );
    expect(stats.crossChecks).toMatchObject({
      total: webhookOnly.length + eventGridOnly.length + both.length,
      matched: both.length,
      "webhook-only": webhookOnly.length,
      "eventgrid-only": eventGridOnly.length,
    });
  });

  it("a mark still held at one instance while the other's reconcile closes the window: re-driven under the same message id, published", async () => {
    const registry = uniqueRegistry();
    let payload = push(registry);
    // A frozen right after its answer, before its lazy mark (held up to 100 ms) is written.
    for (let attempt = 0; ; attempt++) {
      payload = push(registry);
      const answer = await webhook(a, payload);
      a.signal("SIGSTOP");
      expect(answer.json.publishState).toBe("published");
      const { deliveries } = await story(payload.id, b);
      if (deliveries[0]?.publishState === "pending") break;
      a.signal("SIGCONT");
      if (attempt === 10) throw new Error("the mark was always written before A froze");
    }
    try {
      await sleep(WINDOW_SECONDS * 1000 + 1200);
      const from = b.output().length;
      await runReconcile(b);
      const [report] = reconcileReports(b, from);
      expect(report?.redriven).toBeGreaterThanOrEqual(1);
    } finally {
      a.signal("SIGCONT");
    }
    await marksLanded();
    // The re-drive's send carries the first one's message id: Service Bus keeps one.
    const messages = onTopic("acr-push", payload.target.digest);
    expect(messages).toHaveLength(2);
    expect(new Set(messages.map((message) => message.messageId)).size).toBe(1);
    const { deliveries } = await story(payload.id, a);
    expect(deliveries).toEqual([
      expect.objectContaining({ publishState: "published", crossCheck: "webhook-only" }),
    ]);
    // Nothing left for a later run.
    await sleep(1200);
    const from = [a.output().length, b.output().length] as const;
    await Promise.all([runReconcile(a), runReconcile(b)]);
    expect(onTopic("acr-push", payload.target.digest)).toHaveLength(2);
    const reports = [...reconcileReports(a, from[0]), ...reconcileReports(b, from[1])];
    expect(reports).toHaveLength(2);
    for (const report of reports) expect(report).toMatchObject({ redriven: 0, redriveFailed: 0 });
  });

  it("a twin arriving at one instance while the other's reconcile publishes the close of its window: a late match, its finding resolved", async () => {
    const registry = uniqueRegistry();
    const webhookFirst = push(registry);
    const eventGridFirst = push(registry);
    await webhook(a, webhookFirst);
    await eventGrid(a, eventGridFirst);
    await sleep(WINDOW_SECONDS * 1000 + 200);
    // B's publishes (the recovery, the findings) take a while: each twin comes meanwhile, at A,
    // once B has taken its window.
    b.delayServiceBus(100);
    try {
      const closing = runReconcile(b);
      await Promise.all([
        untilClosing(webhookFirst, "webhook").then(() => eventGrid(a, webhookFirst)),
        untilClosing(eventGridFirst, "eventgrid").then(() => webhook(a, eventGridFirst)),
      ]);
      await closing;
    } finally {
      b.delayServiceBus(0);
    }
    // The close was one-sided; the twin made it a late match, which the next run resolves.
    await runReconcile(b);
    for (const payload of [webhookFirst, eventGridFirst]) {
      const { crossCheck, deliveries } = await story(payload.id, a);
      expect(crossCheck, payload.id).toBe("matched");
      expect(deliveries.map((delivery) => delivery.crossCheck)).toEqual(["matched", "matched"]);
      // The webhook that came during the recovery went out under the recovery's message id.
      const messages = onTopic("acr-push", payload.target.digest);
      expect(new Set(messages.map((message) => message.messageId)).size).toBe(1);
    }
    const open = await getJson<{ items: unknown[] }>(a, `discrepancies?registry=${registry}`);
    expect(open.items).toEqual([]);
    const resolved = await getJson<{ items: { kind: string; resolution: string }[] }>(
      a,
      `discrepancies?registry=${registry}&state=resolved`,
    );
    expect(resolved.items.map((finding) => [finding.kind, finding.resolution]).sort()).toEqual([
      ["eventgrid-only", "late-twin"],
      ["webhook-only", "late-twin"],
    ]);
  });

  it("a registry first seen at one instance is listed at the other, and its events are found there", async () => {
    const registry = uniqueRegistry();
    const payload = push(registry);
    await webhook(a, payload);
    const page = await getJson<{ items: { id: string }[] }>(b, "events?limit=1000");
    expect(page.items.map((item) => item.id)).toContain(payload.id);
    const byRegistry = await getJson<{ items: { id: string }[] }>(b, `events?registry=${registry}`);
    expect(byRegistry.items.map((item) => item.id)).toEqual([payload.id]);
    // A listing paged at one instance goes on at the other.
    const more = [push(registry), push(registry)];
    for (const next of more) await webhook(b, next);
    const first = await getJson<{ items: { id: string }[]; continuationToken: string }>(
      a,
      `events?registry=${registry}&limit=2`,
    );
    const rest = await getJson<{ items: { id: string }[]; continuationToken?: string }>(
      b,
      `events?registry=${registry}&limit=2&continuationToken=${encodeURIComponent(first.continuationToken)}`,
    );
    expect([...first.items, ...rest.items].map((item) => item.id)).toEqual([
      ...more.map((next) => next.id).reverse(),
      payload.id,
    ]);
    expect(rest.continuationToken).toBeUndefined();
  });

  it("a replay asked at both instances at once with one idempotency key is one job, and runners at both run it once", async () => {
    const registry = uniqueRegistry();
    const from = new Date(Date.now() - 1000).toISOString();
    const pushes = Array.from({ length: 6 }, () => push(registry));
    await Promise.all(pushes.map((payload, index) => webhook(index % 2 ? a : b, payload)));
    const to = new Date(Date.now() + 500).toISOString();
    // The operator's retry reaches the other instance while the first request is still there.
    const key = randomUUID();
    const started = await Promise.all(
      [a, b].map(async (instance) => {
        const response = await fetch(`${instance.url}/api/replay`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": key },
          body: JSON.stringify({ from, to, registry }),
        });
        expect(response.status).toBe(202);
        return ((await response.json()) as { id: string }).id;
      }),
    );
    expect(started[1]).toBe(started[0]);
    const id = started[0] as string;
    await Promise.all(
      [a, b].map((instance) => runTimer(instance, "replayRunner", "replayRunner: {")),
    );

    const job = await getJson<{ state: string; counts: Record<string, number> }>(a, `replay/${id}`);
    expect(job).toMatchObject({ state: "completed", counts: { scanned: 6, published: 6 } });
    const replayed = bridge
      .broker()
      .messages("acr-push", "all")
      .filter((message) => message.applicationProperties.replayJobId === id);
    expect(replayed).toHaveLength(pushes.length);
    expect(new Set(replayed.map((message) => message.messageId)).size).toBe(pushes.length);
  });

  // Last, as it leaves A stopped.
  it("an instance stopped (SIGTERM, SIGINT) with marks held writes them: the other's reconcile re-drives nothing", async () => {
    const registry = uniqueRegistry();
    const payloads: ReturnType<typeof push>[] = [];
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const burst = Array.from({ length: 10 }, () => push(registry));
      const answers = await Promise.all(burst.map((payload) => webhook(a, payload)));
      // Stopped the moment the last answer is in: the marks are still held.
      const stopped = a.stop(signal);
      expect(answers.map((answer) => answer.json.publishState)).toEqual(
        burst.map(() => "published"),
      );
      await stopped;
      for (const payload of burst) {
        const { deliveries } = await story(payload.id, b);
        expect(deliveries[0], signal).toMatchObject({ publishState: "published" });
      }
      payloads.push(...burst);
      // The last test: A stays stopped after the second stop.
      if (signal === "SIGTERM") await a.start();
    }
    await sleep(WINDOW_SECONDS * 1000 + 1200);
    await runReconcile(b);
    for (const payload of payloads) {
      expect(onTopic("acr-push", payload.target.digest)).toHaveLength(1);
      const { deliveries } = await story(payload.id, b);
      expect(deliveries[0]).toMatchObject({
        publishState: "published",
        crossCheck: "webhook-only",
      });
    }
  });

  /** Resolves once a reconcile run has taken the window of the payload's logical event. */
  async function untilClosing(payload: ReturnType<typeof push>, origin: string): Promise<void> {
    const arrival = {
      registry: payload.request.host,
      repository: payload.target.repository,
      eventId: payload.id,
      origin,
    } as RegistryEvent;
    const keys = eventIdKeys(arrival);
    const table = eventTables(bridge.tablesConnection).of(keys.partitionKey);
    const index = await table.getEntity<{ logicalRowKey: string }>(keys.partitionKey, keys.rowKey);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const row = await table.getEntity<{ json: string }>(keys.partitionKey, index.logicalRowKey);
      if ((JSON.parse(row.json) as { closingUntil?: number }).closingUntil) return;
      if (Date.now() > deadline) throw new Error(`no run took the window of ${payload.id}`);
      await sleep(10);
    }
  }
});
