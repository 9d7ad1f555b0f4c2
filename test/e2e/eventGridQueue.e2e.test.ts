import { randomUUID } from "node:crypto";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventTables } from "../../src/adapters/eventTables";
import { cloudEvent, eventGridEvent, RESOURCE_ID } from "../support/eventGridEvents";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { eventTables, recordEntity } from "../support/records";
import { deliverWebhook } from "../support/webhookClient";

// Event Grid delivering into a Service Bus queue, as `eventGridDelivery=servicebus-queue` sets it
// up in Azure: one event per message, its JSON as the message body.
const QUEUE = "acr-eventgrid";
const WINDOW_SECONDS = 1;
const SETTINGS = {
  EVENTGRID_QUEUE: QUEUE,
  ACR_RESOURCE_IDS: RESOURCE_ID,
  CROSSCHECK_WINDOW_SECONDS: String(WINDOW_SECONDS),
  // Tests run the reconcile themselves; its own schedule stays out of the way.
  RECONCILE_SCHEDULE: "0 0 0 1 1 *",
};

function pushData() {
  const unique = randomUUID().replaceAll("-", "");
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString().replace("Z", "1234Z"),
    action: "push",
    target: {
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      digest: `sha256:${unique}`,
      repository: `team/queued-${unique.slice(0, 6)}`,
      tag: "v1",
      size: 524,
    },
    request: {
      id: randomUUID(),
      host: `myregistry.q${unique.slice(0, 12)}.data.azurecr.io`,
      method: "PUT",
    },
  };
}
type PushData = ReturnType<typeof pushData>;

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function recordOf(deliveries: EventTables, data: PushData, origin: "webhook" | "eventgrid") {
  return recordEntity(deliveries, {
    registry: data.request.host,
    repository: data.target.repository,
    eventId: data.id,
    origin,
  }).catch(() => undefined);
}

/** Lines the host logs once per delivery of the message, redeliveries included. */
const deliveriesOf = (stack: LocalStack, messageId: string) =>
  stack.output().split(`Trigger Details: MessageId: ${messageId},`).length - 1;

describe("Event Grid through a Service Bus queue, on the local stack", () => {
  let stack: LocalStack;
  let client: ServiceBusClient;
  let deliveries: EventTables;

  beforeAll(async () => {
    stack = await startLocalStack({ env: SETTINGS });
    client = new ServiceBusClient(stack.serviceBusConnection);
    deliveries = eventTables(stack.tablesConnection);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  /** As Event Grid writes it: the event's JSON as the body's bytes, the event id as message id. */
  async function sendToQueue(body: unknown, messageId: string = randomUUID()): Promise<string> {
    const sender = client.createSender(QUEUE);
    const bytes = Buffer.isBuffer(body)
      ? body
      : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    await sender.sendMessages({ body: bytes, messageId });
    await sender.close();
    return messageId;
  }

  const drained = () => (stack.broker().messageCount(QUEUE) === 0 ? true : undefined);

  it.each([
    ["an Event Grid schema event", (data: PushData) => eventGridEvent(data)],
    ["a CloudEvent", (data: PushData) => cloudEvent(data)],
  ])(
    "%s from the queue is recorded, completed, and matched with its webhook",
    async (_, envelope) => {
      const data = pushData();
      await deliverWebhook(stack, data);
      const messageId = await sendToQueue(envelope(data));

      const record = await until(
        () => recordOf(deliveries, data, "eventgrid"),
        "the queue's record",
      );
      expect(record).toMatchObject({
        origin: "eventgrid",
        publishState: "held",
        region: "westeurope",
      });
      await until(drained, "the queue to be empty (message completed)");
      expect(stack.broker().deadLetterCount(QUEUE)).toBe(0);
      expect(deliveriesOf(stack, messageId)).toBe(1);

      await sleep(WINDOW_SECONDS * 1000 + 100);
      await runReconcile(stack);
      expect((await recordOf(deliveries, data, "webhook"))?.crossCheck).toBe("matched");
      expect((await recordOf(deliveries, data, "eventgrid"))?.crossCheck).toBe("matched");
      const published = stack
        .broker()
        .messages("acr-push", "all")
        .filter((message) => message.applicationProperties.digest === data.target.digest);
      expect(published).toHaveLength(1);
      expect(
        stack
          .broker()
          .messages("acr-discrepancies", "all")
          .filter((message) => message.applicationProperties.digest === data.target.digest),
      ).toHaveLength(0);
    },
  );

  it.each([
    ["a body that is not JSON", () => "{this is not json", "NotJson"],
    [
      // Decoded leniently, the byte would become U+FFFD and the event be recorded under a name
      // its registry never sent (the HTTP intakes refuse such a body too).
      "an event that is not UTF-8 (a 0xFF byte in its repository)",
      () => {
        const text = JSON.stringify(eventGridEvent(pushData()));
        const at = text.indexOf("team/queued-") + "team/".length;
        return Buffer.concat([
          Buffer.from(text.slice(0, at)),
          Buffer.from([0xff]),
          Buffer.from(text.slice(at)),
        ]);
      },
      "NotJson",
    ],
    ["JSON that is not an event", () => ({ hello: "world" }), "InvalidEvent"],
    [
      "an event from a registry the bridge does not trust",
      () => eventGridEvent(pushData(), { topic: RESOURCE_ID.replace("myregistry", "intruder") }),
      "UntrustedSource",
    ],
  ])("%s is dead-lettered with its reason, without a retry", async (_, body, reason) => {
    const messageId = await sendToQueue(body());

    const receiver = client.createReceiver(QUEUE, { subQueueType: "deadLetter" });
    const dead = await until(async () => {
      const peeked = await receiver.peekMessages(50);
      return peeked.find((message) => message.messageId === messageId);
    }, "the dead-lettered message");
    expect(dead.deadLetterReason).toBe(reason);
    expect(dead.deadLetterErrorDescription).toEqual(expect.any(String));
    expect(deliveriesOf(stack, messageId)).toBe(1);
    await receiver.close();
  });

  it("a dead-lettered message's id and field names reach its log line escaped, never as lines of their own", async () => {
    let nested: unknown = "deep";
    for (let depth = 0; depth < 40; depth++) nested = { level: nested };
    const forged = (n: number) =>
      `\n[2099-01-01T00:00:00.000Z] [information] FORGED-${n} \u001b[2J\u202E`;
    const escaped = (n: number) =>
      `\\u000a[2099-01-01T00:00:00.000Z] [information] FORGED-${n} \\u001b[2J\\u202e`;
    const deadBefore = stack.broker().deadLetterCount(QUEUE);
    await sendToQueue({ not: "an event" }, `queued${forged(1)}`);
    await sendToQueue(eventGridEvent({ ...pushData(), [`key${forged(2)}`]: nested }));
    // Each is logged before it is dead-lettered.
    await until(
      () => (stack.broker().deadLetterCount(QUEUE) === deadBefore + 2 ? true : undefined),
      "both messages dead-lettered",
    );
    const warnings = () =>
      stack
        .output()
        .split("\n")
        .filter((line) => line.includes("dead-lettered"));
    await expect
      .poll(() => warnings().join("\n"))
      .toContain(`message queued${escaped(1)} dead-lettered: InvalidEvent`);
    await expect
      .poll(() => warnings().join("\n"))
      .toContain(`data.key${escaped(2)}: must not nest deeper`);
    expect(warnings().join("\n")).not.toContain("\u001b");
    expect(warnings().join("\n")).not.toContain("\u202E");
    // No forged line: but the host's own `Trigger Details: MessageId: …, SequenceNumber: …`,
    // which prints the message id as it came, as the Functions host does.
    const forgedLines = stack
      .output()
      .split("\n")
      .filter((line) => line.startsWith("[2099") && !line.includes(", SequenceNumber: "));
    expect(forgedLines).toEqual([]);
  });
});

describe("Event Grid through the queue while Table Storage is down", () => {
  let stack: LocalStack;
  let client: ServiceBusClient;

  beforeAll(async () => {
    stack = await startLocalStack({
      env: { ...SETTINGS, TABLES_TIMEOUT_MS: "300" },
      ownTables: true,
    });
    client = new ServiceBusClient(stack.serviceBusConnection);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  /** Stops Table Storage, then puts an Event Grid push on the queue. */
  async function queueEventWhileStorageIsDown() {
    const data = pushData();
    await stack.stopTables();
    const messageId = randomUUID();
    const sender = client.createSender(QUEUE);
    await sender.sendMessages({
      body: Buffer.from(JSON.stringify(eventGridEvent(data))),
      messageId,
    });
    await sender.close();
    return { data, messageId };
  }

  it("abandons the message, so Service Bus redelivers it until it is recorded", async () => {
    const { data, messageId } = await queueEventWhileStorageIsDown();

    await until(() => (deliveriesOf(stack, messageId) >= 2 ? true : undefined), "a redelivery");
    expect(stack.broker().deadLetterCount(QUEUE)).toBe(0);

    await stack.startTables();
    await until(
      () => (stack.broker().messageCount(QUEUE) === 0 ? true : undefined),
      "the message to be completed once storage is back",
    );
    const deliveries = eventTables(stack.tablesConnection);
    expect(await recordOf(deliveries, data, "eventgrid")).toMatchObject({ origin: "eventgrid" });
    expect(stack.broker().deadLetterCount(QUEUE)).toBe(0);
  });

  it("redelivers ever more slowly while storage is down, so the queue's 2000 deliveries last the event's day", async () => {
    const { data, messageId } = await queueEventWhileStorageIsDown();
    // Abandoned at once, a message was delivered about 4 times a second with storage refusing
    // connections: 2000 deliveries, and the dead-letter queue, within about 8 minutes.
    await sleep(8_000);
    expect(deliveriesOf(stack, messageId)).toBeGreaterThanOrEqual(2);
    expect(deliveriesOf(stack, messageId)).toBeLessThanOrEqual(5);

    await stack.startTables();
    await until(
      () => (stack.broker().messageCount(QUEUE) === 0 ? true : undefined),
      "the message to be completed once storage is back",
    );
    const deliveries = eventTables(stack.tablesConnection);
    expect(await recordOf(deliveries, data, "eventgrid")).toMatchObject({ origin: "eventgrid" });
    expect(stack.broker().deadLetterCount(QUEUE)).toBe(0);
  });
});

describe("the queue intake without EVENTGRID_QUEUE", () => {
  it("is not registered: nothing listens on the queue", async () => {
    const stack = await startLocalStack({ env: { ...SETTINGS, EVENTGRID_QUEUE: "" } });
    try {
      // The host lists its functions as it loads them (acrEventGridQueue before acrWebhook); the
      // listing may reach us just after the port answers.
      await expect.poll(() => stack.output()).toContain("acrWebhook");
      expect(stack.output()).not.toContain("acrEventGridQueue");
      expect(stack.broker().receiverCount(QUEUE)).toBe(0);
    } finally {
      await stack.stop();
    }
  });
});
