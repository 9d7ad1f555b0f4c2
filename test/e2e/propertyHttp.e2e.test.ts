import { odata, TableClient, TableServiceClient } from "@azure/data-tables";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTopology } from "../../dev/servicebus/topology";
import { DELIVERIES_TABLE } from "../../src/adapters/tableLayout";
import { validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import { type LocalStack, startLocalStack, TEST_SECRET } from "../support/localStack";
import { mutatedText, mutationArb, validPayloadArb } from "../support/payloadArbitraries";

/**
 * Properties of the webhook over HTTP, on a local stack with its own Azurite: whatever JSON is
 * posted, the answer is never a 5xx; a 200 means a valid record exists; a 4xx means nothing new
 * was stored or published.
 */

const RUNS = 150;
const TOPOLOGY = defaultTopology();

/** What a sender might post: arbitrary JSON, valid payloads, and valid payloads mutated. */
const bodyArb = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: validPayloadArb.map((payload) => JSON.stringify(payload)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(validPayloadArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
      .map(([payload, mutations]) => mutatedText(payload, mutations)),
  },
);

describe("POST /api/acr/webhook, property-based over HTTP", () => {
  let stack: LocalStack;
  let service: TableServiceClient;
  let deliveries: TableClient;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    stack = await startLocalStack({
      ownTables: true,
      env: { ACR_LOGIN_SERVER: "fallback.azurecr.io", RECONCILE_SCHEDULE: "0 0 0 1 1 *" },
    });
    const options = { allowInsecureConnection: true };
    service = TableServiceClient.fromConnectionString(stack.tablesConnection, options);
    deliveries = TableClient.fromConnectionString(
      stack.tablesConnection,
      DELIVERIES_TABLE,
      options,
    );
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function entityCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for await (const table of service.listTables()) {
      const name = String(table.name);
      const client = TableClient.fromConnectionString(stack.tablesConnection, name, {
        allowInsecureConnection: true,
      });
      let count = 0;
      for await (const _ of client.listEntities({ queryOptions: { select: ["PartitionKey"] } })) {
        count += 1;
      }
      counts[name] = count;
    }
    return counts;
  }

  function messageCount(): number {
    const broker = stack.broker();
    let total = 0;
    for (const topic of TOPOLOGY.topics) {
      for (const subscription of topic.subscriptions) {
        total += broker.messageCount(topic.name, subscription.name);
      }
    }
    for (const queue of TOPOLOGY.queues) total += broker.messageCount(queue.name);
    return total;
  }

  /** The stored payloads of every record of this event id (one per timestamp and registry). */
  async function storedPayloads(eventId: string): Promise<string[]> {
    const payloads: string[] = [];
    const rows = deliveries.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`eventId eq ${eventId}` },
    });
    for await (const row of rows) {
      let text = "";
      for (let index = 0; index < Number(row.payloadChunks); index++) {
        text += String(row[`payload${index}`] ?? "");
      }
      payloads.push(text);
    }
    return payloads;
  }

  it(`never answers 5xx; 200 means a valid record, 4xx means nothing stored (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb, async (body) => {
        const before = { entities: await entityCounts(), messages: messageCount() };
        const response = await fetch(stack.webhookUrl, {
          method: "POST",
          headers: { authorization: `Bearer ${TEST_SECRET}`, "content-type": "application/json" },
          body,
        });
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status, text).toBeLessThan(500);
        expect(response.headers.get("content-type")).toMatch(/^application\/json/);
        const answer = JSON.parse(text) as Record<string, unknown>;

        if (response.status === 200) {
          const payloads = await storedPayloads(String(answer.id));
          expect(payloads.length).toBeGreaterThan(0);
          for (const payload of payloads) {
            expect(validateAcrWebhookPayload(JSON.parse(payload)).ok).toBe(true);
          }
          // A first delivery is stored exactly as sent (a repeat keeps the first one's payload).
          if (answer.duplicate === false) {
            expect(payloads).toContain(JSON.stringify(JSON.parse(body)));
          }
          return;
        }

        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(answer).toHaveProperty("error.code");
        expect(text).not.toMatch(/\n\s+at |\.(ts|js):\d+/);
        expect(await entityCounts()).toEqual(before.entities);
        expect(messageCount()).toBe(before.messages);
      }),
      { numRuns: RUNS },
    );
    // The generators reach both sides of the validator.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(RUNS / 10);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(RUNS / 10);
  });

  it("wrote no stack trace to the host output", () => {
    expect(
      stack
        .output()
        .split("\n")
        .filter((line) => /^\s+at /.test(line)),
    ).toEqual([]);
  });
});
