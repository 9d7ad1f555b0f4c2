import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventTables } from "../../src/adapters/eventTables";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { postEventGrid } from "../support/eventGridEvents";
import {
  type LocalStack,
  runHostExpectingFailure,
  startLocalStack,
  TEST_SECRET,
} from "../support/localStack";
import { eventTables, recordEntity } from "../support/records";
import { postWebhook, postWebhookJson } from "../support/webhookClient";

const FIXTURES = resolve(__dirname, "..", "fixtures", "acr-webhook");
const TOPICS = ["acr-push", "acr-delete", "acr-chart-push", "acr-chart-delete", "acr-quarantine"];

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(resolve(FIXTURES, `webhook-${name}.json`), "utf8"));
}

/** A documented payload made unique, so no test sees another's record or message. */
function uniquePayload(
  name: string,
): Record<string, unknown> & { id: string; target?: Record<string, unknown> } {
  const payload = fixture(name) as Record<string, unknown> & {
    id: string;
    target?: Record<string, unknown>;
  };
  payload.id = randomUUID();
  if (payload.target)
    payload.target = { ...payload.target, digest: `sha256:${randomUUID().replaceAll("-", "")}` };
  return payload;
}

describe("POST /api/acr/webhook on the local stack", () => {
  let stack: LocalStack;
  let deliveries: EventTables;
  let bus: ServiceBusClient;

  beforeAll(async () => {
    stack = await startLocalStack({ env: { ACR_LOGIN_SERVER: "fallback.azurecr.io" } });
    deliveries = eventTables(stack.tablesConnection);
    bus = new ServiceBusClient(stack.serviceBusConnection);
  });

  afterAll(async () => {
    await bus?.close();
    await stack?.stop();
  });

  async function storedRecord(payload: Record<string, unknown>, registry: string, region?: string) {
    const event = registryEventFromWebhook(payload as never, {
      registry,
      region,
      receivedAt: Date.now(),
      fallbackEventId: "unused",
    });
    try {
      return await recordEntity(deliveries, event);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async function receiveOne(topic: string) {
    const receiver = bus.createReceiver(topic, "all");
    try {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
      if (message) await receiver.completeMessage(message);
      return message;
    } finally {
      await receiver.close();
    }
  }

  function totalMessages(): number {
    return TOPICS.reduce((sum, topic) => sum + stack.broker().messageCount(topic, "all"), 0);
  }

  const cases = [
    { name: "push.doc", topic: "acr-push", registry: "myregistry.azurecr.io", query: "" },
    { name: "delete.doc", topic: "acr-delete", registry: "myregistry.azurecr.io", query: "" },
    {
      name: "chart_push.doc",
      topic: "acr-chart-push",
      registry: "charts.azurecr.io",
      query: "?registry=charts.azurecr.io",
    },
    {
      name: "chart_delete.doc",
      topic: "acr-chart-delete",
      registry: "fallback.azurecr.io",
      query: "",
    },
    {
      name: "quarantine.acr-preview",
      topic: "acr-quarantine",
      registry: "[registry].azurecr.io",
      query: "?region=westeurope",
    },
  ];

  it.each(cases)(
    "$name -> 200, recorded, one CloudEvent on $topic",
    async ({ name, topic, registry, query }) => {
      const payload = uniquePayload(name);
      const response = await postWebhookJson(stack, payload, { query });
      expect(response.status).toBe(200);
      const answer = await response.json();
      expect(answer).toMatchObject({ id: payload.id, publishState: "published", topic, registry });

      const region = new URLSearchParams(query).get("region") ?? undefined;
      // Marked published right after the answer (the mark does not hold the answer back).
      await expect
        .poll(async () => (await storedRecord(payload, registry, region))?.publishState)
        .toBe("published");
      const record = await storedRecord(payload, registry, region);
      expect(record).toMatchObject({
        eventId: payload.id,
        publishState: "published",
        deliveryCount: 1,
        registry,
      });
      expect(record?.region).toBe(region);
      expect(JSON.parse(String(record?.request)).headers.authorization).toBe("******");
      expect(JSON.stringify(record)).not.toContain(TEST_SECRET);

      const message = await receiveOne(topic);
      expect(message?.contentType).toBe("application/cloudevents+json");
      expect(message?.body).toMatchObject({
        specversion: "1.0",
        data: payload,
        time: payload.timestamp,
      });
      const target = payload.target as Record<string, unknown>;
      expect(message?.applicationProperties).toMatchObject({
        action: payload.action,
        registry,
        repository: target.repository,
        digest: target.digest,
        origin: "webhook",
      });
      if (region) expect(message?.applicationProperties?.region).toBe(region);
    },
  );

  it("records a ping and publishes nothing", async () => {
    const before = totalMessages();
    const response = await postWebhookJson(stack, { action: "ping" });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { id: string; publishState: string };
    expect(answer.publishState).toBe("not-routed");
    expect(totalMessages()).toBe(before);
  });

  it("records an unknown action, answers 200 and routes it nowhere", async () => {
    const payload = { ...uniquePayload("push.doc"), action: "retag" };
    const before = totalMessages();
    const response = await postWebhookJson(stack, payload);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      publishState: "not-routed",
      notRoutedReason: "unknown-action",
    });
    expect(await storedRecord(payload, "myregistry.azurecr.io")).toMatchObject({ action: "retag" });
    expect(totalMessages()).toBe(before);
  });

  it("keeps one record and one message for a repeated delivery", async () => {
    const payload = uniquePayload("push.doc");
    const first = await postWebhookJson(stack, payload);
    const second = await postWebhookJson(stack, payload);
    expect(first.status).toBe(200);
    expect(await second.json()).toMatchObject({ duplicate: true, deliveryCount: 2 });
    expect(await storedRecord(payload, "myregistry.azurecr.io")).toMatchObject({
      deliveryCount: 2,
    });
    const digests = stack
      .broker()
      .messages("acr-push", "all")
      .filter(
        (m) =>
          (m.applicationProperties.digest as string) ===
          (payload.target as { digest: string }).digest,
      );
    expect(digests).toHaveLength(1);
  });

  it("refuses another event under a recorded id with 409 naming what differs, and changes nothing", async () => {
    const payload = uniquePayload("push.doc");
    const target = payload.target as { tag: string; digest: string };
    expect((await postWebhookJson(stack, payload)).status).toBe(200);
    const before = totalMessages();
    const other = { ...payload, target: { ...target, tag: `${target.tag}-other` } };
    const refused = await postWebhookJson(stack, other);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({
      error: {
        code: "event_id_conflict",
        message: `event id ${payload.id} was recorded with other content (differing: tag)`,
        details: { fields: ["tag"] },
      },
    });
    expect(await storedRecord(payload, "myregistry.azurecr.io")).toMatchObject({
      deliveryCount: 1,
      tag: target.tag,
    });
    expect(totalMessages()).toBe(before);
  });

  it.each([
    { label: "missing", headers: { authorization: "" } },
    { label: "wrong", headers: { authorization: "Bearer not-the-secret" } },
    { label: "without the Bearer scheme", headers: { authorization: TEST_SECRET } },
  ])("refuses a $label secret with 401 and stores nothing", async ({ headers }) => {
    const payload = uniquePayload("push.doc");
    const response = await postWebhookJson(stack, payload, { headers });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
    expect(await storedRecord(payload, "myregistry.azurecr.io")).toBeUndefined();
  });

  it("refuses a body over the size limit with 413", async () => {
    const payload = { ...uniquePayload("push.doc"), padding: "x".repeat(70_000) };
    const response = await postWebhookJson(stack, payload);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "payload_too_large" } });
    expect(await storedRecord(payload, "myregistry.azurecr.io")).toBeUndefined();
  });

  it("refuses malformed JSON with 400", async () => {
    const response = await postWebhook(stack, '{"id": "x", "action": "push",');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_json" } });
  });

  it("refuses a schema violation with 400 naming each field", async () => {
    const payload = { ...uniquePayload("push.doc"), timestamp: "yesterday" } as Record<
      string,
      unknown
    >;
    (payload.target as Record<string, unknown>).size = "big";
    const response = await postWebhookJson(stack, payload);
    expect(response.status).toBe(400);
    const body = (await response.json()) as {
      error: { code: string; details: { issues: { path: string }[] } };
    };
    expect(body.error.code).toBe("invalid_payload");
    expect(body.error.details.issues.map((issue) => issue.path).sort()).toEqual([
      "target.size",
      "timestamp",
    ]);
    expect(await storedRecord(payload, "myregistry.azurecr.io")).toBeUndefined();
  });

  it("answers 200 and keeps the record pending while Service Bus is down", async () => {
    await stack.stopBroker();
    try {
      const payload = uniquePayload("push.doc");
      const started = Date.now();
      const response = await postWebhookJson(stack, payload);
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await response.json()).toMatchObject({ publishState: "pending" });
      const record = await storedRecord(payload, "myregistry.azurecr.io");
      expect(record).toMatchObject({ publishState: "pending", publishAttempts: 1 });
      expect(String(record?.lastError)).not.toBe("");
    } finally {
      await stack.startBroker();
    }
  });

  it("never writes the secret to its output", () => {
    expect(stack.output()).not.toContain(TEST_SECRET);
  });
});

describe("webhook settings", () => {
  it("refuses to start the webhook without WEBHOOK_SECRETS", async () => {
    const { code, output } = await runHostExpectingFailure({ WEBHOOK_SECRETS: "" });
    expect(code).not.toBe(0);
    expect(output).toContain("WEBHOOK_SECRETS");
  });

  // The README's promise: a wrong value stops the app with an error naming the setting (and no
  // secret of a connection string), not an SDK's TypeError or a bridge that fails every call.
  const SECRET_KEY = "c2VjcmV0LWtleS1lMmUtMDA0Mg==";
  it.each<[string, string]>([
    ["TABLES_CONNECTION", "garbage"],
    ["TABLES_CONNECTION", `AccountName=acct;AccountKey=${SECRET_KEY}`],
    [
      "SERVICEBUS_CONNECTION",
      `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=${SECRET_KEY}`,
    ],
    ["TABLES_TIMEOUT_MS", "3000000000"],
    ["CROSSCHECK_WINDOW_SECONDS", "9000000000000"],
    ["TOPIC_PUSH_SCOPE", "*"],
    ["WEBHOOK_EXPECTED_ACTIONS", "push,pull,bogus"],
    ["ACR_LOGIN_SERVER", "https://My Registry/"],
  ])("refuses to start with %s=%j, naming the setting", async (setting, value) => {
    const { code, output } = await runHostExpectingFailure({ [setting]: value });
    expect(code).not.toBe(0);
    expect(output).toContain(`setting ${setting}: `);
    expect(output).not.toContain("Cannot read properties");
    expect(output).not.toContain(SECRET_KEY);
  });

  it("keeps the webhook up when Event Grid is not configured, and the Event Grid endpoint closed", async () => {
    const stack = await startLocalStack({ env: { ACR_RESOURCE_IDS: "", EVENTGRID_SECRETS: "" } });
    try {
      const webhook = await postWebhookJson(stack, uniquePayload("push.doc"));
      expect(webhook.status).toBe(200);
      const eventGrid = await postEventGrid(stack, [], "anything");
      expect(eventGrid.status).toBe(401);
      expect(stack.output()).toContain("EVENTGRID_SECRETS is not set");
    } finally {
      await stack.stop();
    }
  });

  it("routes only the scopes a topic is restricted to", async () => {
    const stack = await startLocalStack({ env: { TOPIC_PUSH_SCOPE: "prod/api:*" } });
    try {
      const inScope = uniquePayload("push.doc");
      inScope.target = { ...inScope.target, repository: "prod/api" };
      const outOfScope = uniquePayload("push.doc");
      const a = await (await postWebhookJson(stack, inScope)).json();
      const b = await (await postWebhookJson(stack, outOfScope)).json();
      expect(a).toMatchObject({ publishState: "published", topic: "acr-push" });
      expect(b).toMatchObject({ publishState: "not-routed", notRoutedReason: "out-of-scope" });
      expect(
        stack
          .broker()
          .messages("acr-push", "all")
          .map((m) => m.applicationProperties.repository),
      ).toEqual(["prod/api"]);
    } finally {
      await stack.stop();
    }
  });
});
