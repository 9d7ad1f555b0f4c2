import { afterEach, describe, expect, it } from "vitest";
import { eventGridEvent, postEventGrid, RESOURCE_ID } from "../support/eventGridEvents";
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
