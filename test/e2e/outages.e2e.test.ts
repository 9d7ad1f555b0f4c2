import { afterEach, describe, expect, it } from "vitest";
import { createTableClient } from "../../src/adapters/clients";
import { OUTAGES_TABLE } from "../../src/adapters/tableLayout";
import { TableOutageLog } from "../../src/adapters/tableOutageLog";
import {
  eventGridEvent,
  postEventGrid,
  postEventGridTrigger,
  RESOURCE_ID,
} from "../support/eventGridEvents";
import {
  messagesOf,
  post,
  push,
  records,
  start,
  stopStack,
  uniqueRegistry,
} from "../support/faultStack";
import { runReconcile, sleep } from "../support/reconcile";

afterEach(stopStack);

describe("Table Storage outages: the journal keeps every delivery, and the cross-check waits for Event Grid's retries", () => {
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
});
