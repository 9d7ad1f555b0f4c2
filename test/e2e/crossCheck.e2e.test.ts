import { randomUUID } from "node:crypto";
import { odata, TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventTables } from "../../src/adapters/eventTables";
import { REJECTIONS_TABLE } from "../../src/adapters/tableLayout";
import type { RegistryEvent } from "../../src/core/registryEvent";
import {
  cloudEvent,
  eventGridEvent,
  postEventGrid,
  postEventGridTrigger,
  RESOURCE_ID,
} from "../support/eventGridEvents";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { eventTables, recordEntity } from "../support/records";
import { deliverWebhook } from "../support/webhookClient";

const EVENTGRID_SECRET = "e2e-eventgrid-secret";
const WINDOW_SECONDS = 1;

interface Scenario {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
}

function scenario(): Scenario {
  const unique = randomUUID().replaceAll("-", "");
  return {
    registry: `myregistry.r${unique.slice(0, 12)}.data.azurecr.io`,
    repository: `team/app-${unique.slice(0, 6)}`,
    tag: "v1",
    digest: `sha256:${unique}`,
  };
}

function registryData(s: Scenario, action: "push" | "delete", id = randomUUID()) {
  return {
    id,
    timestamp: new Date().toISOString().replace("Z", "1234Z"),
    action,
    target: {
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      digest: s.digest,
      repository: s.repository,
      ...(action === "push" ? { tag: s.tag, size: 524, length: 524 } : {}),
    },
    request: { id: randomUUID(), host: s.registry, method: action === "push" ? "PUT" : "DELETE" },
  };
}

describe("cross-check between webhooks and Event Grid on the local stack", () => {
  let stack: LocalStack;
  let deliveries: EventTables;

  beforeAll(async () => {
    stack = await startLocalStack({
      // Its own Azurite: a reconcile reads every registry it holds, and the shared one holds
      // every other file's.
      ownTables: true,
      env: {
        CROSSCHECK_WINDOW_SECONDS: String(WINDOW_SECONDS),
        EVENTGRID_SECRETS: EVENTGRID_SECRET,
        ACR_RESOURCE_IDS: RESOURCE_ID,
        REDRIVE_BASE_DELAY_SECONDS: "1",
        // Tests run the reconcile themselves; its own schedule stays out of the way.
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
      },
    });
    deliveries = eventTables(stack.tablesConnection);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const postWebhook = (body: unknown, query = "") => deliverWebhook(stack, body, query);

  async function reconcileAfterWindow(): Promise<void> {
    await sleep(WINDOW_SECONDS * 1000 + 100);
    await runReconcile(stack);
  }

  function messagesFor(topic: string, digest: string) {
    return stack
      .broker()
      .messages(topic, "all")
      .filter((m) => m.applicationProperties.digest === digest);
  }

  async function record(
    event: Pick<RegistryEvent, "registry" | "timestamp" | "eventId" | "origin"> & {
      target?: { repository?: string };
    },
  ) {
    return recordEntity(deliveries, { ...event, repository: event.target?.repository });
  }

  it("webhook then Event Grid: matched, one message, no finding", async () => {
    const s = scenario();
    const data = registryData(s, "push");
    await postWebhook(data);
    const response = await postEventGrid(stack, [eventGridEvent(data)], EVENTGRID_SECRET);
    expect(await response.json()).toEqual({
      accepted: 1,
      duplicates: 0,
      ignored: 0,
      rejected: 0,
      conflicting: 0,
    });
    await reconcileAfterWindow();

    expect(messagesFor("acr-push", s.digest)).toHaveLength(1);
    expect(messagesFor("acr-discrepancies", s.digest)).toHaveLength(0);
    const webhookRecord = await record({
      ...data,
      eventId: data.id,
      registry: s.registry,
      origin: "webhook",
    });
    expect(webhookRecord.crossCheck).toBe("matched");
    const eventGridRecord = await record({
      ...data,
      eventId: data.id,
      registry: s.registry,
      origin: "eventgrid",
    });
    expect(eventGridRecord).toMatchObject({
      crossCheck: "matched",
      publishState: "held",
      region: "westeurope",
    });
  });

  it("Event Grid alone: the lost webhook is recovered once, with origin=eventgrid, and reported", async () => {
    const s = scenario();
    const data = registryData(s, "push");
    const event = eventGridEvent(data);
    await postEventGrid(stack, [event], EVENTGRID_SECRET);
    await postEventGrid(stack, [event], EVENTGRID_SECRET); // Event Grid delivers at least once
    await reconcileAfterWindow();
    await reconcileAfterWindow();

    const recovered = messagesFor("acr-push", s.digest);
    expect(recovered).toHaveLength(1);
    expect(recovered[0].applicationProperties).toMatchObject({
      origin: "eventgrid",
      region: "westeurope",
    });
    const findings = messagesFor("acr-discrepancies", s.digest);
    expect(findings).toHaveLength(1);
    expect(findings[0].applicationProperties).toMatchObject({
      kind: "eventgrid-only",
      recovered: "true",
    });

    // The webhook arriving late publishes nothing more.
    const late = await postWebhook(data);
    expect(late).toMatchObject({ publishState: "published", coveredBy: "eventgrid" });
    expect(messagesFor("acr-push", s.digest)).toHaveLength(1);
  });

  it("an Event Grid event under a recorded id with other content is refused and counted, not recorded", async () => {
    const s = scenario();
    const data = registryData(s, "push");
    await postEventGrid(stack, [eventGridEvent(data)], EVENTGRID_SECRET);
    const other = { ...data, target: { ...data.target, tag: "other" } };
    const response = await postEventGrid(stack, [eventGridEvent(other)], EVENTGRID_SECRET);
    expect(await response.json()).toMatchObject({ accepted: 0, duplicates: 0, conflicting: 1 });
    const stored = await record({
      ...data,
      eventId: data.id,
      registry: s.registry,
      origin: "eventgrid",
    });
    expect(stored).toMatchObject({ deliveryCount: 1, tag: "v1" });
  });

  it("a batch of many events, recorded several at a time: each once, a repeat in a later part of it counted", async () => {
    const scenarios = Array.from({ length: 40 }, () => scenario());
    const pushes = scenarios.map((s) => registryData(s, "push"));
    const events = pushes.map((data) => eventGridEvent(data));
    const response = await postEventGrid(stack, [...events, events[6]], EVENTGRID_SECRET);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ accepted: 40, duplicates: 1, conflicting: 0 });
    for (const [index, data] of pushes.entries()) {
      const stored = await record({
        ...data,
        eventId: data.id,
        registry: scenarios[index].registry,
        origin: "eventgrid",
      });
      expect(stored, `event ${index}`).toMatchObject({ deliveryCount: index === 6 ? 2 : 1 });
    }
    // Its 40 windows close here (each recovered, each a finding, each probing every registry),
    // not in the next test's reconcile.
    await reconcileAfterWindow();
    for (const s of scenarios) expect(messagesFor("acr-push", s.digest)).toHaveLength(1);
  }, 90_000);

  it("a connected registry's event is published on arrival, once, with its property, and is never a finding", async () => {
    const s = scenario();
    const data = { ...registryData(s, "push"), connectedregistry: { name: "edge1" } };
    const topic = `${RESOURCE_ID}/connectedRegistries/edge1`;
    const event = eventGridEvent(data, { topic });
    const response = await postEventGrid(stack, [event, event], EVENTGRID_SECRET);
    expect(await response.json()).toMatchObject({ accepted: 1, duplicates: 1, rejected: 0 });

    const published = messagesFor("acr-push", s.digest);
    expect(published).toHaveLength(1);
    expect(published[0].applicationProperties).toMatchObject({
      origin: "eventgrid",
      connectedRegistry: "edge1",
    });
    await reconcileAfterWindow();
    expect(messagesFor("acr-push", s.digest)).toHaveLength(1);
    expect(messagesFor("acr-discrepancies", s.digest)).toHaveLength(0);

    const listed = await fetch(
      `${stack.url}/api/events?registry=${s.registry}&connectedRegistry=edge1`,
    ).then((r) => r.json() as Promise<{ items: { id: string; publishState: string }[] }>);
    expect(listed.items).toEqual([
      expect.objectContaining({ id: data.id, publishState: "published" }),
    ]);
  });

  it("a connected registry of an untrusted registry is rejected", async () => {
    const s = scenario();
    const foreign = RESOURCE_ID.replace("myregistry", "someoneelse");
    const event = eventGridEvent(registryData(s, "push"), {
      topic: `${foreign}/connectedRegistries/edge1`,
    });
    const response = await postEventGrid(stack, [event], EVENTGRID_SECRET);
    expect(await response.json()).toMatchObject({ accepted: 0, rejected: 1 });
    expect(messagesFor("acr-push", s.digest)).toHaveLength(0);
  });

  it("webhook alone: a webhook-only finding on acr-discrepancies", async () => {
    const s = scenario();
    await postWebhook(registryData(s, "push"));
    await reconcileAfterWindow();
    expect(messagesFor("acr-push", s.digest)).toHaveLength(1);
    const findings = messagesFor("acr-discrepancies", s.digest);
    expect(findings).toHaveLength(1);
    expect(findings[0].applicationProperties).toMatchObject({
      kind: "webhook-only",
      recovered: "false",
    });
    expect(findings[0].body).toMatchObject({ type: "com.azure.acr.discrepancy.webhook-only" });
  });

  it("quarantine has no Event Grid twin and is never reported missing", async () => {
    const s = scenario();
    const data = { ...registryData(s, "push"), action: "quarantine" };
    await postWebhook(data);
    await reconcileAfterWindow();
    expect(messagesFor("acr-quarantine", s.digest)).toHaveLength(1);
    expect(messagesFor("acr-discrepancies", s.digest)).toHaveLength(0);
    const byId = await fetch(`${stack.url}/api/events/${data.id}`);
    expect(byId.status).toBe(200);
  });

  it("one push from two regional webhooks: one message, each region's arrival recorded", async () => {
    const s = scenario();
    const west = registryData(s, "push");
    const east = { ...registryData(s, "push"), timestamp: west.timestamp };
    const first = await postWebhook(west, "?region=westeurope");
    const second = await postWebhook(east, "?region=eastus");
    expect(first).toMatchObject({ publishState: "published" });
    expect(second).toMatchObject({ publishState: "published", coveredBy: "webhook" });
    expect(messagesFor("acr-push", s.digest)).toHaveLength(1);
    expect(
      await record({ ...east, eventId: east.id, registry: s.registry, origin: "webhook" }),
    ).toMatchObject({
      region: "eastus",
    });

    // The same event id from both regions is one record with both arrivals.
    await postWebhook(west, "?region=northeurope");
    const one = await record({
      ...west,
      eventId: west.id,
      registry: s.registry,
      origin: "webhook",
    });
    expect(one.deliveryCount).toBe(2);
    expect(JSON.parse(String(one.arrivals)).map((a: { region: string }) => a.region)).toEqual([
      "westeurope",
      "northeurope",
    ]);
  });

  it("enriches a delete with the tags last pushed for its digest", async () => {
    const s = scenario();
    await postWebhook(registryData(s, "push"));
    await postWebhook(registryData({ ...s, tag: "stable" }, "push"));
    await postWebhook(registryData(s, "delete"));
    const [deleted] = messagesFor("acr-delete", s.digest);
    expect(deleted.applicationProperties.tags).toBe("stable,v1");
  });

  it("publishes a push again after a delete of the same digest: a new occurrence, not a copy", async () => {
    const s = scenario();
    await postWebhook(registryData(s, "push"), "?region=westeurope");
    await postWebhook(registryData(s, "delete"), "?region=westeurope");
    const again = await postWebhook(registryData(s, "push"), "?region=westeurope");
    expect(again).toMatchObject({ publishState: "published" });
    expect(again.coveredBy).toBeUndefined();
    const pushes = messagesFor("acr-push", s.digest);
    expect(pushes).toHaveLength(2);
    expect(new Set(pushes.map((m) => m.messageId)).size).toBe(2);
    expect(messagesFor("acr-delete", s.digest)).toHaveLength(1);
  });

  it("answers the subscription-validation and CloudEvents handshakes", async () => {
    const validation = await postEventGrid(
      stack,
      [
        {
          id: randomUUID(),
          topic: "/subscriptions/00000000-0000-0000-0000-000000000000",
          subject: "",
          data: { validationCode: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" },
          eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
          eventTime: new Date().toISOString(),
          metadataVersion: "1",
          dataVersion: "1",
        },
      ],
      EVENTGRID_SECRET,
      { "aeg-event-type": "SubscriptionValidation" },
    );
    expect(validation.status).toBe(200);
    expect(await validation.json()).toEqual({
      validationResponse: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
    });

    const options = await fetch(`${stack.url}/api/eventgrid`, {
      method: "OPTIONS",
      headers: { "WebHook-Request-Origin": "eventgrid.azure.net" },
    });
    expect(options.status).toBe(200);
    expect(options.headers.get("webhook-allowed-origin")).toBe("eventgrid.azure.net");
  });

  it("accepts CloudEvents batches", async () => {
    const s = scenario();
    const data = registryData(s, "push");
    const response = await postEventGrid(
      stack,
      [cloudEvent(data, { location: "eastus" })],
      EVENTGRID_SECRET,
      { "content-type": "application/cloudevents-batch+json" },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ accepted: 1 });
    expect(
      await record({ ...data, eventId: data.id, registry: s.registry, origin: "eventgrid" }),
    ).toMatchObject({
      region: "eastus",
    });
  });

  it("rejects an event from a foreign topic: counted, never recorded", async () => {
    const s = scenario();
    const data = registryData(s, "push");
    const foreign = RESOURCE_ID.replace("myregistry", "attacker");
    const response = await postEventGrid(
      stack,
      [eventGridEvent(data, { topic: foreign })],
      EVENTGRID_SECRET,
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ accepted: 0, rejected: 1 });
    await expect(
      record({ ...data, eventId: data.id, registry: s.registry, origin: "eventgrid" }),
    ).rejects.toMatchObject({ statusCode: 404 });
  });

  it("rejects an event from the trusted topic naming another registry: noted with its reason, never recorded", async () => {
    const s = scenario();
    const data = registryData({ ...s, registry: "attacker.azurecr.io" }, "push");
    const event = eventGridEvent(data);
    const response = await postEventGrid(stack, [event], EVENTGRID_SECRET);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ accepted: 0, rejected: 1 });
    await expect(
      record({ ...data, eventId: data.id, registry: "attacker.azurecr.io", origin: "eventgrid" }),
    ).rejects.toMatchObject({ statusCode: 404 });
    expect(messagesFor("acr-push", s.digest)).toHaveLength(0);

    const rejections = TableClient.fromConnectionString(stack.tablesConnection, REJECTIONS_TABLE, {
      allowInsecureConnection: true,
    });
    const noted = [];
    for await (const row of rejections.listEntities({
      queryOptions: { filter: odata`envelopeId eq ${event.id}` },
    })) {
      noted.push(row);
    }
    expect(noted).toEqual([
      expect.objectContaining({
        source: RESOURCE_ID,
        host: "attacker.azurecr.io",
        reason: "foreign-host",
        type: event.eventType,
      }),
    ]);
  });

  it("refuses a wrong Event Grid secret with 401 and malformed events with 400", async () => {
    const s = scenario();
    const wrong = await postEventGrid(stack, [eventGridEvent(registryData(s, "push"))], "wrong");
    expect(wrong.status).toBe(401);
    const malformed = await postEventGrid(stack, [{ id: 1 }], EVENTGRID_SECRET);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: "invalid_events" } });
  });

  it("records the good events of a batch that also holds a malformed one", async () => {
    const s = scenario();
    const data = registryData(s, "push");
    const response = await postEventGrid(
      stack,
      [eventGridEvent(data), { id: 1 }],
      EVENTGRID_SECRET,
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { accepted: number; invalid: { path: string }[] };
    expect(body.accepted).toBe(1);
    expect(body.invalid.length).toBeGreaterThan(0);
    expect(body.invalid.every((issue) => issue.path.startsWith("[1]"))).toBe(true);
    expect(
      await record({ ...data, eventId: data.id, registry: s.registry, origin: "eventgrid" }),
    ).toMatchObject({ publishState: "held" });
  });

  it("takes events through the Functions Event Grid trigger route", async () => {
    const s = scenario();
    const data = registryData(s, "push");
    const response = await postEventGridTrigger(stack, [eventGridEvent(data)]);
    expect(response.status).toBeLessThan(300);
    expect(
      await record({ ...data, eventId: data.id, registry: s.registry, origin: "eventgrid" }),
    ).toMatchObject({
      publishState: "held",
    });
  });

  it("re-drives a record left pending while Service Bus was down, once it is back", async () => {
    const s = scenario();
    await stack.stopBroker();
    let answer: Record<string, unknown>;
    try {
      answer = await postWebhook(registryData(s, "push"));
    } finally {
      await stack.startBroker();
    }
    expect(answer).toMatchObject({ publishState: "pending" });
    expect(messagesFor("acr-push", s.digest)).toHaveLength(0);
    await reconcileAfterWindow();
    const redriven = messagesFor("acr-push", s.digest);
    expect(redriven).toHaveLength(1);
    expect(redriven[0].applicationProperties.origin).toBe("webhook");

    // Its story keeps each attempt: the failed one and the re-drive, with the message id sent.
    const story = (await (await fetch(`${stack.url}/api/events/${answer.id}`)).json()) as {
      deliveries: { attemptLog: { outcome: string; messageId: string; topic: string }[] }[];
    };
    expect(story.deliveries[0].attemptLog).toEqual([
      expect.objectContaining({
        outcome: "failed",
        topic: "acr-push",
        messageId: redriven[0].messageId,
      }),
      expect.objectContaining({
        outcome: "published",
        topic: "acr-push",
        messageId: redriven[0].messageId,
      }),
    ]);
  });
});
