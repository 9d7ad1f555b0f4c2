import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { samplePayload } from "../../dev/samplePayloads";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { postWebhookJson } from "../support/webhookClient";

/**
 * Dependencies that hang instead of refusing: the host's connections to them stay open and get
 * no answer. Each call must still end by the bridge's own timeouts.
 */
let stack: LocalStack | undefined;

async function start(env: Record<string, string> = {}): Promise<LocalStack> {
  stack = await startLocalStack({
    stallable: true,
    ownTables: true,
    env: {
      REDRIVE_BASE_DELAY_SECONDS: "1",
      REDRIVE_MAX_DELAY_SECONDS: "1",
      RECONCILE_SCHEDULE: "0 0 0 1 1 *",
      ...env,
    },
  });
  return stack;
}

/** A push of its own registry, so a test counts only what it sent. */
function push(registry: string) {
  return samplePayload("push", {
    host: registry,
    repository: "team/api",
    tag: randomUUID().slice(0, 8),
  });
}

function uniqueRegistry(): string {
  return `h${randomUUID().slice(0, 8)}.azurecr.io`;
}

async function post(s: LocalStack, body: unknown) {
  const response = await postWebhookJson(s, body);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function messagesOf(s: LocalStack, registry: string) {
  return s
    .broker()
    .messages("acr-push", "all")
    .filter((m) => m.applicationProperties.registry === registry);
}

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe("hung dependencies: every answer still comes", () => {
  it("health answers 503 naming Table Storage while storage hangs", async () => {
    const s = await start();
    expect((await fetch(`${s.url}/api/health`)).status).toBe(200);
    s.stall("tables");
    const health = await fetch(`${s.url}/api/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      error: { details: { checks: { tableStorage: "unavailable", serviceBus: "ok" } } },
    });
  });

  it("a webhook is answered 200 pending while Service Bus hangs, and re-driven once it answers", async () => {
    const s = await start();
    const registry = uniqueRegistry();
    // Warm: the publisher's link to the topic is open when the namespace hangs.
    expect((await post(s, push(registry))).json.publishState).toBe("published");
    s.stall("serviceBus");
    const answer = await post(s, push(registry));
    expect(answer).toMatchObject({ status: 200, json: { publishState: "pending" } });

    s.resume("serviceBus");
    await sleep(1100);
    await runReconcile(s);
    const messages = messagesOf(s, registry);
    expect(messages.map((m) => m.messageId)).toHaveLength(2);
    expect(new Set(messages.map((m) => m.applicationProperties.tag)).size).toBe(2);
  });

  it("deliveries that queue behind a send that gets no answer are answered inside ACR's 5 s all the same", async () => {
    // ACR drops a delivery it has no answer to after about 5 s: this is its contract, not a speed.
    const ACR_TIMEOUT_MS = 5000;
    const s = await start({ PUBLISH_TIMEOUT_MS: "3000" });
    const registry = uniqueRegistry();
    expect((await post(s, push(registry))).json.publishState).toBe("published");
    s.stall("serviceBus");
    const first = post(s, push(registry));
    await sleep(500);
    const answers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const sentAt = Date.now();
        const answer = await post(s, push(registry));
        return { ...answer, waitedMs: Date.now() - sentAt };
      }),
    );
    expect(await first).toMatchObject({ status: 200, json: { publishState: "pending" } });
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 200, json: { publishState: "pending" } });
      expect(answer.waitedMs).toBeLessThan(ACR_TIMEOUT_MS);
    }
  });

  it("deliveries that queue behind a Table transaction that gets no answer are journaled inside ACR's 5 s", async () => {
    const ACR_TIMEOUT_MS = 5000;
    const s = await start();
    const registry = uniqueRegistry();
    // Warm: the registry is listed, so each delivery's only Table call is its partition's write.
    expect((await post(s, push(registry))).json.publishState).toBe("published");
    s.stall("tables");
    // A burst into one partition: more than one transaction's worth queues behind the hung one.
    const answers = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const sentAt = Date.now();
        const answer = await post(s, push(registry));
        return { ...answer, waitedMs: Date.now() - sentAt };
      }),
    );
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 200, json: { journaled: true } });
      expect(answer.waitedMs).toBeLessThan(ACR_TIMEOUT_MS);
    }
  });

  it("with Table Storage down, a webhook is answered 503 while Service Bus hangs", async () => {
    const s = await start();
    const registry = uniqueRegistry();
    await s.stopTables();
    // Warm: the publisher's and the journal's links are open when the namespace hangs.
    expect((await post(s, push(registry))).json).toMatchObject({ journaled: true });
    s.stall("serviceBus");
    expect(await post(s, push(registry))).toMatchObject({
      status: 503,
      json: { error: { code: "dependency_unavailable" } },
    });
  });
});
