import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { ServiceBusClient, type ServiceBusReceivedMessage } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalAzurite, startAzurite } from "../../dev/azurite";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { createServiceBusClient } from "../../src/adapters/clients";
import { ServiceBusPublisher } from "../../src/adapters/serviceBusPublisher";
import { TableReplayJobs } from "../../src/adapters/tableReplayJobs";
import { closeBridge, getBridge } from "../../src/bridge";
import { loadRoutingTable } from "../../src/config";
import { ingestDelivery } from "../../src/core/ingestDelivery";
import type { Publisher } from "../../src/core/ports";
import { reconcile } from "../../src/core/reconcile";
import type { EventOrigin, RegistryEvent } from "../../src/core/registryEvent";
import {
  countReplayable,
  newReplayJob,
  type ReplaySelection,
  runReplayJobs,
} from "../../src/core/replay";
import { routeForEvent } from "../../src/core/routing";
import { messageIdFor } from "../../src/core/topicMessage";
import { getOperator } from "../../src/operator";
import { ingested } from "../support/ingested";

const WINDOW_MS = 60_000;
const ROUTING = loadRoutingTable({});

/**
 * Copies of one event that each sent its message, pages apart: the replay sends that message
 * once, from the same copy, whatever the page size. Against a real Azurite (of its own, so no other
 * test's reconcile re-drives its pending record) and the local broker, through the real SDKs.
 */
describe("a replay job over copies of one message pages apart, against Azurite and the broker", () => {
  let azurite: LocalAzurite;
  let bus: LocalServiceBus;
  let client: ServiceBusClient;
  let env: Record<string, string>;

  beforeAll(async () => {
    azurite = await startAzurite();
    const topology = defaultTopology();
    // Off, so that a message sent twice under one id is seen twice instead of dropped.
    for (const topic of topology.topics) topic.duplicateDetectionWindowMs = undefined;
    bus = await startLocalServiceBus({ topology });
    client = new ServiceBusClient(bus.connectionString);
    env = {
      TABLES_CONNECTION: azurite.connectionString,
      SERVICEBUS_CONNECTION: bus.connectionString,
    };
  });

  afterAll(async () => {
    await closeBridge();
    await client?.close();
    await bus?.stop();
    await azurite?.stop();
  });

  /** Every message on the topic's subscription `all`, received (and so taken off it). */
  async function receiveAll(topic: string): Promise<ServiceBusReceivedMessage[]> {
    const receiver = client.createReceiver(topic, "all", { receiveMode: "receiveAndDelete" });
    const received: ServiceBusReceivedMessage[] = [];
    for (;;) {
      const batch = await receiver.receiveMessages(100, { maxWaitTimeInMs: 500 });
      if (batch.length === 0) break;
      received.push(...batch);
    }
    await receiver.close();
    return received;
  }

  it("sends a message that three copies sent (one re-driven later) once, from the newest copy, at any page size; a dry run counts the same", async () => {
    const bridge = getBridge(env);
    const operator = getOperator(env);
    const registry = `r${randomUUID().slice(0, 8)}.azurecr.io`;
    const image = { repository: "team/app", tag: "v1", digest: `sha256:${randomUUID()}` };
    const event = (
      origin: EventOrigin,
      fields: Partial<RegistryEvent> = {},
      target: { repository: string; tag: string; digest: string } = image,
    ): RegistryEvent => {
      const eventId = randomUUID();
      const timestamp = new Date().toISOString();
      return {
        eventId,
        action: "push",
        timestamp,
        occurredAt: Date.parse(timestamp),
        registry,
        ...target,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        origin,
        payload: { id: eventId, timestamp, action: "push", target },
        ...fields,
      };
    };
    const other = (tag: string) =>
      event("webhook", {}, { ...image, tag, digest: `sha256:${randomUUID()}` });
    // Oldest first: the webhook's push, then the same image synced to two connected registries,
    // which Event Grid reports with no webhook, so each sends the push's message again (the
    // second while Service Bus is down: the re-drive sends it later). Other pushes between them.
    const webhook = event("webhook", { region: "westeurope" });
    const edge1 = event("eventgrid", { connectedRegistry: "edge1" });
    const edge2 = event("eventgrid", { connectedRegistry: "edge2" });
    const arrivals = [webhook, other("a"), other("b"), edge1, other("c"), other("d"), edge2];
    const down = new ServiceBusPublisher({
      client: createServiceBusClient(
        { kind: "connection-string", connectionString: bus.connectionString.replace(/:\d+/, ":1") },
        1000,
      ),
      timeoutMs: 1000,
    });
    const start = Date.now() - 60_000;
    for (const [index, arrival] of arrivals.entries()) {
      const publisher: Publisher = arrival === edge2 ? down : bridge.publisher;
      const result = await ingested(
        ingestDelivery(
          {
            event: arrival,
            route: routeForEvent(arrival, ROUTING),
            receivedAt: start + index * 1000,
            request: { method: "POST", uri: "https://bridge/api/acr/webhook", headers: {} },
          },
          { store: bridge.store, publisher, journal: bridge.journal, windowMs: WINDOW_MS },
        ),
      );
      expect(result.publishState).toBe(arrival === edge2 ? "pending" : "published");
    }
    await down.close();
    const redriven = await reconcile(
      {
        store: bridge.store,
        publisher: bridge.publisher,
        findings: bridge.findings,
        journal: bridge.journal,
        outages: bridge.outages,
      },
      {
        routing: ROUTING,
        discrepancyTopic: "acr-discrepancies",
        recoveryEnabled: true,
        windowMs: WINDOW_MS,
        batchSize: 100,
        redrive: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 10_000 },
      },
      Date.now() + 5000,
    );
    expect(redriven).toMatchObject({ redriven: 1, errors: [] });
    await bridge.store.flush();
    const original = messageIdFor(webhook);
    const originals = await receiveAll("acr-push");
    // Each copy sent the push's message: three times under its one id.
    expect(originals.filter((message) => message.messageId === original)).toHaveLength(3);
    expect(originals).toHaveLength(7);

    const selection: ReplaySelection = {
      from: start,
      to: start + arrivals.length * 1000,
      registry,
    };
    for (const pageSize of [1, 2, 3]) {
      expect(await countReplayable(operator.reads, selection, pageSize)).toEqual({
        records: 7,
        replayable: 5,
      });
      const table = bridge.tables(`Jobs${randomUUID().slice(0, 8)}`);
      const jobs = new TableReplayJobs(table, 2000);
      const job = newReplayJob(randomUUID(), selection, Date.now());
      await jobs.create(job);
      const {
        advanced: [done],
        forgotten,
      } = await runReplayJobs(
        {
          jobs,
          source: operator.reads,
          publisher: bridge.publisher,
          store: bridge.store,
          clock: Date.now,
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        },
        { ratePerSecond: 1000, runMs: 8000, pageSize, maxFailedSteps: 3 },
      );
      expect(done).toMatchObject({ state: "completed", scanned: 7, published: 5, skipped: 2 });
      // The run that ended the job forgot its choices, one per message, and kept what it did.
      expect(forgotten).toEqual([{ id: job.id, forgot: 5, done: true }]);
      expect(await jobs.get(job.id)).toEqual({ ...done, choicesForgotten: true });
      expect(await jobs.sendersOf(job.id, [original])).toEqual(new Map());
      const choicesLeft = [];
      const choices = table.listEntities({
        queryOptions: { filter: odata`PartitionKey eq ${job.id}` },
      });
      for await (const row of choices) choicesLeft.push(row.rowKey);
      expect(choicesLeft).toEqual([]);

      const replayed = await receiveAll("acr-push");
      expect(replayed).toHaveLength(5);
      const properties = replayed.map((message) => message.applicationProperties ?? {});
      expect(properties.every((property) => property.replayJobId === job.id)).toBe(true);
      expect(new Set(properties.map((property) => property.originalMessageId)).size).toBe(5);
      const copies = replayed.filter(
        (message) => message.applicationProperties?.originalMessageId === original,
      );
      // Sent once, from the copy the job reads first (the newest): its data and properties.
      expect(copies).toHaveLength(1);
      expect(copies[0]?.body).toMatchObject({ id: original, data: { id: edge2.eventId } });
      expect(copies[0]?.applicationProperties).toMatchObject({ connectedRegistry: "edge2" });
    }
  });
});
