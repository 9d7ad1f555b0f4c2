import { odata } from "@azure/data-tables";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventTables } from "../../src/adapters/eventTables";
import { validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { mutatedText, mutationArb, validPayloadArb } from "../support/payloadArbitraries";
import { eventTables } from "../support/records";
import { entityCounts, inventory, messageCount } from "../support/stackInventory";
import { postWebhook } from "../support/webhookClient";

/**
 * Properties of the webhook over HTTP, on a local stack with its own Azurite: whatever JSON is
 * posted, the answer is never a 5xx; a 200 means a valid record exists; a 4xx means nothing new
 * was stored or published.
 */

const RUNS = 150;

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
  let deliveries: EventTables;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    stack = await startLocalStack({
      ownTables: true,
      env: { ACR_LOGIN_SERVER: "fallback.azurecr.io", RECONCILE_SCHEDULE: "0 0 0 1 1 *" },
    });
    deliveries = eventTables(stack.tablesConnection);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** The publish state of every record of this event id. */
  async function storedStates(eventId: string): Promise<string[]> {
    const states: string[] = [];
    const rows = deliveries.scan<{ publishState?: string }>(odata`eventId eq ${eventId}`);
    for await (const row of rows) states.push(String(row.publishState));
    return states;
  }

  /** The stored payloads of every record of this event id (one per timestamp and registry). */
  async function storedPayloads(eventId: string): Promise<string[]> {
    const payloads: string[] = [];
    const rows = deliveries.scan<Record<string, unknown>>(odata`eventId eq ${eventId}`);
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
        const before = await inventory(stack);
        const response = await postWebhook(stack, body);
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status, text).toBeLessThan(500);
        expect(response.headers.get("content-type")).toMatch(/^application\/json/);
        const answer = JSON.parse(text) as Record<string, unknown>;

        if (response.status === 200) {
          // The record is marked published just after the answer; the next run counts after that.
          if (answer.publishState === "published") {
            await expect.poll(() => storedStates(String(answer.id))).not.toContain("pending");
          }
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
        expect(await entityCounts(stack)).toEqual(before.entities);
        expect(messageCount(stack)).toBe(before.messages);
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
