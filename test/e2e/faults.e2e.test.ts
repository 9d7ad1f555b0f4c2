import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { afterEach, describe, expect, it } from "vitest";
import { samplePayload } from "../../dev/samplePayloads";
import { createTableClient } from "../../src/adapters/clients";
import { OUTAGES_TABLE } from "../../src/adapters/tableLayout";
import { TableOutageLog } from "../../src/adapters/tableOutageLog";
import {
  eventGridEvent,
  postEventGrid,
  postEventGridTrigger,
  RESOURCE_ID,
} from "../support/eventGridEvents";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { eventTables } from "../support/records";
import { postWebhookJson } from "../support/webhookClient";

const TOPICS = ["acr-push", "acr-delete", "acr-chart-push", "acr-chart-delete", "acr-quarantine"];

/** Settings that let a test drive the reconcile itself, with a re-drive backoff of one second. */
const FAST_RECONCILE = {
  REDRIVE_BASE_DELAY_SECONDS: "1",
  REDRIVE_MAX_DELAY_SECONDS: "1",
  CROSSCHECK_WINDOW_SECONDS: "1",
  RECONCILE_SCHEDULE: "0 0 0 1 1 *",
};

let stack: LocalStack | undefined;

async function start(options: LocalStackOptions): Promise<LocalStack> {
  stack = await startLocalStack({ ...options, env: { ...FAST_RECONCILE, ...options.env } });
  return stack;
}

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

/** A push of its own registry, so a test counts only what it sent. */
function push(registry: string) {
  return samplePayload("push", {
    host: registry,
    repository: "team/api",
    tag: randomUUID().slice(0, 8),
  });
}

async function post(
  s: LocalStack,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await postWebhookJson(s, body);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function records(s: LocalStack, registry: string): Promise<Record<string, unknown>[]> {
  const table = eventTables(s.tablesConnection);
  const found: Record<string, unknown>[] = [];
  const rows = table.scan<Record<string, unknown>>(odata`registry eq ${registry}`);
  for await (const row of rows) found.push(row);
  return found;
}

function messagesOf(s: LocalStack, registry: string) {
  return TOPICS.flatMap((topic) => s.broker().messages(topic, "all")).filter(
    (m) => m.applicationProperties.registry === registry,
  );
}

function uniqueRegistry(): string {
  return `myregistry.f${randomUUID().slice(0, 8)}.data.azurecr.io`;
}

describe("faults: nothing a registry sends is lost when a dependency fails", () => {
  it("Service Bus down: every delivery answers 200 pending, and the re-drive publishes each exactly once", async () => {
    const s = await start({ ownTables: true, withoutDuplicateDetection: true });
    const registry = uniqueRegistry();
    const sent = 20;
    await s.stopBroker();
    const answers = await Promise.all(Array.from({ length: sent }, () => post(s, push(registry))));
    expect(answers.map((a) => a.status)).toEqual(Array(sent).fill(200));
    expect(answers.every((a) => a.json.publishState === "pending")).toBe(true);
    await s.startBroker();

    await sleep(1100);
    await runReconcile(s, 2);
    await sleep(1100);
    await runReconcile(s);

    const stored = await records(s, registry);
    expect(stored).toHaveLength(sent);
    expect(stored.every((r) => r.publishState === "published")).toBe(true);
    const messages = messagesOf(s, registry);
    expect(messages).toHaveLength(sent);
    expect(new Set(messages.map((m) => m.messageId)).size).toBe(sent);
  });

  it("Table Storage down: deliveries are published at once and journaled, and recorded once storage is back", async () => {
    const s = await start({
      ownTables: true,
      withoutDuplicateDetection: true,
      env: { ACR_RESOURCE_IDS: RESOURCE_ID },
    });
    const registry = uniqueRegistry();
    const sent = 10;
    await s.stopTables();
    const answers = await Promise.all(Array.from({ length: sent }, () => post(s, push(registry))));
    const ping = await post(s, { action: "ping" });
    expect(answers.map((a) => a.status)).toEqual(Array(sent).fill(200));
    expect(
      answers.every((a) => a.json.journaled === true && a.json.publishState === "published"),
    ).toBe(true);
    expect(ping).toMatchObject({
      status: 200,
      json: { journaled: true, publishState: "not-routed" },
    });
    expect(messagesOf(s, registry)).toHaveLength(sent);
    expect(s.broker().messageCount("acr-journal")).toBe(sent + 1);

    // Event Grid retries for 24 h: it gets a 503, its delivery is not journaled, and through the
    // Event Grid trigger the host fails the invocation, which Event Grid retries the same way.
    const eventGrid = await postEventGrid(s, [eventGridEvent(push(registry))]);
    expect(eventGrid.status).toBe(503);
    expect(await eventGrid.json()).toMatchObject({
      error: { code: "dependency_unavailable", details: { dependency: "table-storage" } },
    });
    const viaTriggerData = push(registry);
    const viaTrigger = eventGridEvent(viaTriggerData);
    expect((await postEventGridTrigger(s, [viaTrigger])).status).toBe(500);
    // Each refusal is noted on the journal, one a minute per process (both refusals, unless a
    // minute began between them), so that the cross-check waits out the outage for Event Grid's
    // retries.
    const notices = s
      .broker()
      .messages("acr-journal")
      .filter((m) => typeof (m.body as { refusedAt?: unknown }).refusedAt === "number");
    expect([1, 2]).toContain(notices.length);
    const journaled = sent + 1 + notices.length;
    expect(s.broker().messageCount("acr-journal")).toBe(journaled);

    // A reconcile while storage is still down hands out one journal entry, not the whole journal:
    // every hand-out counts toward the queue's max delivery count.
    await runReconcile(s);
    const handedOut = s
      .broker()
      .messages("acr-journal")
      .filter((m) => m.deliveryCount > 0);
    expect(handedOut).toHaveLength(1);
    expect(s.broker().messageCount("acr-journal")).toBe(journaled);

    await s.startTables();
    await runReconcile(s);

    const stored = await records(s, registry);
    expect(stored).toHaveLength(sent);
    expect(stored.every((r) => r.publishState === "published")).toBe(true);
    expect(s.broker().messageCount("acr-journal")).toBe(0);
    expect(messagesOf(s, registry)).toHaveLength(sent);

    // Event Grid's retry of the trigger's delivery is recorded once storage is back.
    const eventUrl = `${s.url}/api/events/${viaTriggerData.id}`;
    expect((await fetch(eventUrl)).status).toBe(404);
    expect((await postEventGridTrigger(s, [viaTrigger])).status).toBe(202);
    expect((await fetch(eventUrl)).status).toBe(200);
  });

  it("a second Table Storage outage is kept too, also when it begins in the minute of the first, whose note the reconcile restored", async () => {
    const s = await start({ ownTables: true, env: { ACR_RESOURCE_IDS: RESOURCE_ID } });
    const registry = uniqueRegistry();
    const refusedAt: number[] = [];
    for (let outage = 0; outage < 2; outage++) {
      await s.stopTables();
      refusedAt.push(Date.now());
      expect((await postEventGrid(s, [eventGridEvent(push(registry))])).status).toBe(503);
      await s.startTables();
      // The reconcile restores the outage's note once storage answers again.
      await runReconcile(s);
    }
    const outages = new TableOutageLog(
      createTableClient(
        { kind: "connection-string", connectionString: s.tablesConnection },
        OUTAGES_TABLE,
      ),
      2_000,
    );
    const kept = (await outages.read())?.value ?? [];
    for (const at of refusedAt) {
      expect(kept.some((outage) => outage.from <= at + 1_000 && at <= outage.to)).toBe(true);
    }
  });

  it("Table Storage down: a delivery repeated during the outage is counted once storage is back, and published once", async () => {
    const s = await start({ ownTables: true, env: { ACR_RESOURCE_IDS: RESOURCE_ID } });
    const registry = uniqueRegistry();
    const body = push(registry);
    await s.stopTables();
    for (let delivery = 0; delivery < 2; delivery++) {
      expect((await post(s, body)).json).toMatchObject({ journaled: true });
      await sleep(5);
    }
    expect(s.broker().messageCount("acr-journal")).toBe(2);
    await s.startTables();
    await runReconcile(s);

    expect(s.broker().messageCount("acr-journal")).toBe(0);
    const stored = await records(s, registry);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ deliveryCount: 2, publishState: "published" });
    expect(messagesOf(s, registry)).toHaveLength(1);
  });

  it("after a long Table Storage outage, an Event Grid twin whose webhook is still in the journal is not recovered again", async () => {
    const s = await start({
      ownTables: true,
      // Past its 10 minutes, duplicate detection would not have dropped a second message either.
      withoutDuplicateDetection: true,
      // The journal gives back two entries a run, as a long outage's journal gives back 500.
      env: { ACR_RESOURCE_IDS: RESOURCE_ID, RECONCILE_BATCH_SIZE: "2" },
    });
    const registry = uniqueRegistry();
    await s.stopTables();
    const pushes = Array.from({ length: 3 }, () => push(registry));
    for (const body of pushes) {
      expect((await post(s, body)).json).toMatchObject({
        journaled: true,
        publishState: "published",
      });
    }
    await s.startTables();
    // Event Grid's retries, in another order than the journal's.
    for (const body of [...pushes].reverse()) {
      expect((await postEventGrid(s, [eventGridEvent(body)])).status).toBe(200);
    }
    await sleep(1_200);
    for (let run = 0; run < 3; run++) await runReconcile(s);

    expect(s.broker().messageCount("acr-journal")).toBe(0);
    expect(messagesOf(s, registry)).toHaveLength(pushes.length);
    const findings = s
      .broker()
      .messages("acr-discrepancies", "all")
      .filter((m) => m.applicationProperties.registry === registry);
    expect(findings).toEqual([]);
  });

  it("webhooks recorded just before a Table Storage outage wait for Event Grid's retries after it: a twin refused meanwhile matches, no finding; a webhook with no twin still gets its finding, later", async () => {
    const windowSeconds = 3;
    const s = await start({
      ownTables: true,
      env: { ACR_RESOURCE_IDS: RESOURCE_ID, CROSSCHECK_WINDOW_SECONDS: String(windowSeconds) },
    });
    const registry = uniqueRegistry();
    const twinned = push(registry);
    const lonely = push(registry);
    for (const body of [twinned, lonely]) {
      expect(await post(s, body)).toMatchObject({
        status: 200,
        json: { publishState: "published" },
      });
    }
    const windowsClose = Date.now() + windowSeconds * 1000;
    // Storage goes down while both windows are open: Event Grid's delivery of the twin is refused.
    await s.stopTables();
    const twin = eventGridEvent(twinned);
    expect((await postEventGrid(s, [twin])).status).toBe(503);
    await sleep(Math.max(0, windowsClose - Date.now()) + 500);
    await s.startTables();

    // Both windows are due, but Event Grid retries a delivery refused for a few seconds only after
    // 10 s: neither closes before that retry, and a window after it.
    await runReconcile(s);
    const findings = () =>
      s
        .broker()
        .messages("acr-discrepancies", "all")
        .filter((m) => m.applicationProperties.registry === registry);
    expect(findings()).toEqual([]);
    const crossCheckOf = async (body: Record<string, unknown>) => {
      const response = await fetch(`${s.url}/api/events/${String(body.id)}`);
      return ((await response.json()) as { crossCheck: string }).crossCheck;
    };
    expect(await crossCheckOf(twinned)).toBe("open");

    // Event Grid's retry of the same delivery.
    expect((await postEventGrid(s, [twin])).status).toBe(200);
    await sleep((10 + windowSeconds) * 1000 + 1_000);
    await runReconcile(s);

    expect(await crossCheckOf(twinned)).toBe("matched");
    expect(await crossCheckOf(lonely)).toBe("webhook-only");
    // One finding, the lonely webhook's, and no resolution: nothing for a subscriber to close.
    expect(findings().map((m) => m.applicationProperties)).toEqual([
      expect.objectContaining({
        kind: "webhook-only",
        state: "open",
        tag: (lonely.target as { tag: string }).tag,
      }),
    ]);
  }, 90_000);

  it("both down: 503 with a JSON error, the process stays up and recovers by itself", async () => {
    const s = await start({ ownTables: true });
    const registry = uniqueRegistry();
    await s.stopTables();
    await s.stopBroker();
    const down = await post(s, push(registry));
    expect(down).toMatchObject({
      status: 503,
      json: { error: { code: "dependency_unavailable" } },
    });

    await s.startTables();
    await s.startBroker();
    const back = await post(s, push(registry));
    expect(back).toMatchObject({ status: 200, json: { publishState: "published" } });
    expect(await records(s, registry)).toHaveLength(1);
  });

  it("a host killed in the middle of a burst leaves nothing the re-drive cannot finish", async () => {
    const s = await start({ ownTables: true });
    const registry = uniqueRegistry();
    // Warm: the host's first delivery opens its connections, which would outlast the burst.
    await post(s, push(uniqueRegistry()));
    const payloads = Array.from({ length: 60 }, () => push(registry));
    const burst = payloads.map((payload) => post(s, payload).catch(() => undefined));
    // Killed once some deliveries are recorded and others are still on their way.
    while ((await records(s, registry)).length < 5) await sleep(2);
    await s.stopHost("SIGKILL");
    const answers = await Promise.all(burst);
    expect(answers.some((answer) => answer === undefined)).toBe(true);
    await s.startHost();
    await sleep(1100);
    await runReconcile(s);

    const stored = await records(s, registry);
    // The kill must have come in the middle: some deliveries were recorded before it.
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.every((r) => r.publishState === "published")).toBe(true);
    const messages = messagesOf(s, registry);
    const published = new Set(messages.map((m) => m.applicationProperties.tag));
    for (const record of stored) expect(published.has(record.tag)).toBe(true);
    answers.forEach((answer, index) => {
      if (answer?.status === 200) {
        expect(published.has((payloads[index].target as { tag: string }).tag)).toBe(true);
      }
    });
    expect(messages).toHaveLength(stored.length);
  });

  it("Azurite restarted empty under a running host: what is recorded after it is still re-driven and listed", async () => {
    const s = await start({ ownTables: true });
    const registry = uniqueRegistry();
    expect((await post(s, push(registry))).json.publishState).toBe("published");
    await s.restartTablesEmpty();
    await s.stopBroker();
    const payload = push(registry);
    expect((await post(s, payload)).json.publishState).toBe("pending");
    await s.startBroker();

    await sleep(1100);
    await runReconcile(s);
    await sleep(1100);
    await runReconcile(s);

    const stored = await records(s, registry);
    expect(stored.map((r) => [r.eventId, r.publishState])).toEqual([[payload.id, "published"]]);
    expect(messagesOf(s, registry).map((m) => m.applicationProperties.tag)).toEqual([
      (payload.target as { tag: string }).tag,
    ]);
    const listed = await fetch(`${s.url}/api/events`);
    const items = ((await listed.json()) as { items: { id: string }[] }).items;
    expect(items.map((item) => item.id)).toContain(payload.id);
  });

  it("Service Bus down for longer than the re-drive's attempts: records stay pending, and are published once it is back", async () => {
    const s = await start({ ownTables: true, env: { REDRIVE_MAX_ATTEMPTS: "2" } });
    const registry = uniqueRegistry();
    await s.stopBroker();
    expect((await post(s, push(registry))).json.publishState).toBe("pending");
    for (let run = 0; run < 2; run++) {
      await sleep(1100);
      await runReconcile(s);
    }
    expect((await records(s, registry)).map((r) => r.publishState)).toEqual(["pending"]);

    await s.startBroker();
    await sleep(1100);
    await runReconcile(s);
    expect((await records(s, registry)).map((r) => r.publishState)).toEqual(["published"]);
    expect(messagesOf(s, registry)).toHaveLength(1);
  });

  it("a message that can never be published ends dead with its reason, not in an endless loop", async () => {
    const s = await start({
      ownTables: true,
      env: { TOPIC_PUSH: "acr-missing", REDRIVE_MAX_ATTEMPTS: "3" },
    });
    const registry = uniqueRegistry();
    const answer = await post(s, push(registry));
    expect(answer.json.publishState).toBe("pending");
    for (let run = 0; run < 3; run++) {
      await sleep(1100);
      await runReconcile(s);
    }
    const [record] = await records(s, registry);
    expect(record.publishState).toBe("dead");
    expect(record.publishAttempts).toBe(3);
    expect(String(record.lastError)).toMatch(/acr-missing' could not be found/);
    // A run whose re-drive failed says so as a warning, and the one that gave up names the event.
    const runs = s
      .output()
      .split("\n")
      .flatMap((line) => {
        const report = /\[(\w+)\] Function\.reconcile\.User: reconcile: (\{.*\})$/.exec(line);
        return report ? [{ level: report[1], report: JSON.parse(report[2]) }] : [];
      });
    expect(runs).toHaveLength(3);
    const failed = runs.filter((run) => run.report.redriveFailed > 0);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const run of runs)
      expect(run.level).toBe(failed.includes(run) ? "warning" : "information");
    expect(runs.flatMap((run) => run.report.gaveUp)).toEqual([
      {
        eventId: answer.json.id,
        action: "push",
        registry,
        reason: record.lastError,
      },
    ]);
  });
});

describe("races", () => {
  it("20 concurrent deliveries of one event: one record counting 20, one message", async () => {
    const s = await start({ ownTables: true, withoutDuplicateDetection: true });
    const registry = uniqueRegistry();
    const payload = push(registry);
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(s, payload)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const stored = await records(s, registry);
    expect(stored).toHaveLength(1);
    expect(stored[0].deliveryCount).toBe(20);
    expect(messagesOf(s, registry)).toHaveLength(1);
  });

  it("one logical event arriving from the webhook and Event Grid at once: one message", async () => {
    const s = await start({
      ownTables: true,
      withoutDuplicateDetection: true,
      env: { ACR_RESOURCE_IDS: RESOURCE_ID, EVENTGRID_SECRETS: "races-eg" },
    });
    const registry = uniqueRegistry();
    const payload = push(registry);
    const eventGrid = eventGridEvent(payload);
    const [webhook, grid] = await Promise.all([
      post(s, payload),
      postEventGrid(s, [eventGrid], "races-eg"),
    ]);
    expect(webhook.status).toBe(200);
    expect(grid.status).toBe(200);
    await sleep(1100);
    await runReconcile(s, 2);
    expect(messagesOf(s, registry)).toHaveLength(1);
  });

  it("concurrent re-drive runs never publish a record twice", async () => {
    const s = await start({ ownTables: true, withoutDuplicateDetection: true });
    const registry = uniqueRegistry();
    await s.stopBroker();
    await Promise.all(Array.from({ length: 15 }, () => post(s, push(registry))));
    await s.startBroker();
    await sleep(1100);
    await runReconcile(s, 3);
    expect(messagesOf(s, registry)).toHaveLength(15);
    expect((await records(s, registry)).every((r) => r.publishState === "published")).toBe(true);
  });
});
