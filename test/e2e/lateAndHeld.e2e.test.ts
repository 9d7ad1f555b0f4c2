import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventGridEvent, postEventGrid } from "../support/eventGridEvents";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { deliverWebhook } from "../support/webhookClient";

/**
 * Findings that stay true when Event Grid is late (a late twin resolves its finding), and
 * quarantine holding recovery (a push ACR withholds is never published from Event Grid).
 */
const WINDOW_SECONDS = 1;
const HOLD_SECONDS = 4;

interface Finding {
  kind: string;
  logicalKey: string;
  state: string;
  resolution?: string;
  digest?: string;
  recovered: boolean;
  detectedAt: string;
  resolvedAt?: string;
}

function content(action: string, digest: string, id = randomUUID()) {
  const registry = "myregistry.late.data.azurecr.io";
  return {
    id,
    timestamp: new Date().toISOString(),
    action,
    target: {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest,
      repository: "team/late",
      ...(action === "delete" ? {} : { tag: "v1" }),
    },
    request: { id: randomUUID(), host: registry, method: "PUT" },
  };
}

const newDigest = () => `sha256:${randomUUID().replaceAll("-", "")}`;

describe("late twins and quarantine holds on the local stack", () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      // Its own Azurite: a reconcile reads every registry it holds, and the shared one holds
      // every other file's.
      ownTables: true,
      env: {
        CROSSCHECK_WINDOW_SECONDS: String(WINDOW_SECONDS),
        QUARANTINE_HOLD_SECONDS: String(HOLD_SECONDS),
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function afterWindow(): Promise<void> {
    await sleep(WINDOW_SECONDS * 1000 + 150);
    await runReconcile(stack);
  }

  const messages = (topic: string, digest: string) =>
    stack
      .broker()
      .messages(topic, "all")
      .filter((m) => m.applicationProperties.digest === digest);

  async function getJson<T>(path: string): Promise<T> {
    const response = await fetch(`${stack.url}/api/${path}`);
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  const findings = (state: string, digest: string) =>
    getJson<{ items: Finding[] }>(
      `discrepancies?registry=myregistry.late.data.azurecr.io&state=${state}`,
    ).then((page) => page.items.filter((item) => item.digest === digest));

  const eventGrid = (data: Record<string, unknown>) =>
    postEventGrid(stack, [eventGridEvent(data)]).then((response) => {
      expect(response.status).toBe(200);
    });

  it("a late Event Grid twin turns a webhook-only finding into a late match, resolved and announced", async () => {
    const digest = newDigest();
    const data = content("push", digest);
    await deliverWebhook(stack, data);
    await afterWindow();
    const [opened] = await findings("open", digest);
    expect(opened).toMatchObject({ kind: "webhook-only", state: "open" });

    await eventGrid(data);
    const story = await getJson<{ crossCheck: string; logicalEvent: { late?: unknown } }>(
      `events/${data.id}`,
    );
    expect(story.crossCheck).toBe("matched");
    expect(story.logicalEvent.late).toMatchObject({ finding: "webhook-only" });

    await runReconcile(stack);
    expect(await findings("open", digest)).toEqual([]);
    const resolved = await findings("resolved", digest);
    expect(resolved).toEqual([
      expect.objectContaining({ kind: "webhook-only", state: "resolved", resolution: "late-twin" }),
    ]);
    // Times as every time of the API: ISO 8601.
    const { detectedAt, resolvedAt } = resolved[0];
    for (const at of [detectedAt, resolvedAt]) expect(new Date(at ?? "").toISOString()).toBe(at);
    const announced = messages("acr-discrepancies", digest);
    expect(announced.map((m) => m.applicationProperties.state)).toEqual(["open", "resolved"]);
    expect(announced[1].applicationProperties).toMatchObject({
      resolution: "late-twin",
      logicalKey: opened.logicalKey,
    });
    // Still one message for the push itself, and none more on another run.
    await runReconcile(stack);
    expect(messages("acr-push", digest)).toHaveLength(1);
    expect(messages("acr-discrepancies", digest)).toHaveLength(2);

    const stats = await getJson<{ lateMatches: { count: number; max: number } }>(
      "stats?registry=myregistry.late.data.azurecr.io",
    );
    expect(stats.lateMatches.count).toBeGreaterThanOrEqual(1);
    expect(stats.lateMatches.max).toBeGreaterThanOrEqual(WINDOW_SECONDS * 1000);
  });

  it("a late webhook after a recovery is covered and resolves the eventgrid-only finding", async () => {
    const digest = newDigest();
    const data = content("push", digest);
    await eventGrid(data);
    await afterWindow();
    expect(messages("acr-push", digest)).toHaveLength(1);
    expect(await findings("open", digest)).toEqual([
      expect.objectContaining({ kind: "eventgrid-only", recovered: true }),
    ]);

    const late = await deliverWebhook(stack, data);
    expect(late).toMatchObject({ publishState: "published", coveredBy: "eventgrid" });
    await runReconcile(stack);
    expect(messages("acr-push", digest)).toHaveLength(1);
    expect(await findings("resolved", digest)).toEqual([
      expect.objectContaining({ kind: "eventgrid-only", resolution: "late-twin" }),
    ]);
  });

  it("a quarantined digest's Event Grid push is held, not recovered, and matched when ACR releases the push", async () => {
    const digest = newDigest();
    await deliverWebhook(stack, content("quarantine", digest));
    const push = content("push", digest);
    await eventGrid(push);
    await afterWindow();

    expect(messages("acr-push", digest)).toHaveLength(0);
    const held = await getJson<{ deliveries: { origin: string; crossCheck?: string }[] }>(
      `events/${push.id}`,
    );
    expect(held.deliveries).toEqual([
      expect.objectContaining({ origin: "eventgrid", crossCheck: "awaiting-release" }),
    ]);

    // The scanner passed it: ACR sends the push webhook, which is published.
    expect(await deliverWebhook(stack, push)).toMatchObject({ publishState: "published" });
    await sleep(HOLD_SECONDS * 1000);
    await runReconcile(stack);
    expect(messages("acr-push", digest)).toHaveLength(1);
    expect(messages("acr-discrepancies", digest)).toHaveLength(0);
    const story = await getJson<{ crossCheck: string }>(`events/${push.id}`);
    expect(story.crossCheck).toBe("matched");
  });

  it("a held push whose webhook never comes becomes a quarantine-held finding, never recovered", async () => {
    const digest = newDigest();
    await deliverWebhook(stack, content("quarantine", digest));
    await eventGrid(content("push", digest));
    await afterWindow();
    await sleep(HOLD_SECONDS * 1000);
    await runReconcile(stack);
    expect(messages("acr-push", digest)).toHaveLength(0);
    expect(await findings("open", digest)).toEqual([
      expect.objectContaining({ kind: "quarantine-held", recovered: false }),
    ]);
  });
});
