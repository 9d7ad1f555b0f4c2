import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  isServiceBusError,
  ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
} from "@azure/service-bus";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type LocalServiceBus,
  MAX_MESSAGE_SIZE_BYTES,
  startLocalServiceBus,
} from "../../dev/servicebus/broker";
import { parseTopology } from "../../dev/servicebus/topology";

const topic = (
  Name: string,
  Subscriptions: object[] = [{ Name: "all" }],
  Properties: object = {},
) => ({
  Name,
  Properties,
  Subscriptions,
});

const topology = parseTopology({
  UserConfig: {
    Namespaces: [
      {
        Name: "contract",
        Queues: [{ Name: "jobs" }],
        Topics: [
          topic("basic"),
          topic("round-trip"),
          topic("batches"),
          topic("abandon"),
          topic("delete-mode"),
          topic("peek"),
          topic("drain"),
          topic("dead-letter"),
          topic("no-id"),
          topic("streaming"),
          topic("counted"),
          topic("counted-other"),
          topic("fan-out", [{ Name: "first" }, { Name: "second" }]),
          topic("dedup", undefined, {
            RequiresDuplicateDetection: true,
            DuplicateDetectionHistoryTimeWindow: "PT10M",
          }),
          topic("filtered", [
            {
              Name: "prod-only",
              Rules: [
                {
                  Name: "prod",
                  Properties: {
                    FilterType: "Correlation",
                    CorrelationFilter: { Properties: { repository: "prod/api" } },
                  },
                },
              ],
            },
            {
              Name: "pushes",
              Rules: [
                {
                  Name: "push",
                  Properties: { FilterType: "Correlation", CorrelationFilter: { Label: "push" } },
                },
              ],
            },
            { Name: "everything" },
          ]),
          topic("poison", [{ Name: "all", Properties: { MaxDeliveryCount: 2 } }]),
          topic("short-lock", [{ Name: "all", Properties: { LockDuration: "PT1S" } }]),
          topic("renewal", [{ Name: "all", Properties: { LockDuration: "PT2S" } }]),
          topic("expiring", [
            { Name: "all", Properties: { DeadLetteringOnMessageExpiration: true } },
          ]),
        ],
      },
    ],
  },
});

const errorCode = async (operation: Promise<unknown>): Promise<string | undefined> => {
  try {
    await operation;
  } catch (error) {
    return isServiceBusError(error) ? error.code : `not a ServiceBusError: ${String(error)}`;
  }
  return undefined;
};

describe("local Service Bus driven by the real @azure/service-bus SDK", () => {
  let bus: LocalServiceBus;
  let client: ServiceBusClient;
  const links: { close(): Promise<void> }[] = [];

  const sender = (entity: string): ServiceBusSender => {
    const created = client.createSender(entity);
    links.push(created);
    return created;
  };

  const receiver = (
    entity: string,
    subscription: string,
    options: Parameters<ServiceBusClient["createReceiver"]>[2] = {},
  ): ServiceBusReceiver => {
    const created = client.createReceiver(entity, subscription, options);
    links.push(created);
    return created;
  };

  const receiveOne = async (from: ServiceBusReceiver): Promise<ServiceBusReceivedMessage> => {
    const [message] = await from.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(message).toBeDefined();
    return message;
  };

  beforeAll(async () => {
    bus = await startLocalServiceBus({ topology });
    client = new ServiceBusClient(bus.connectionString);
  });

  afterEach(async () => {
    await Promise.all(links.splice(0).map((link) => link.close()));
  });

  afterAll(async () => {
    await client?.close();
    await bus?.stop();
  });

  it("publishes a connection string for the SDK's development-emulator mode", () => {
    expect(bus.connectionString).toBe(
      `Endpoint=sb://localhost:${bus.port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true`,
    );
  });

  it("delivers a sent message under peek-lock and removes it on complete", async () => {
    await sender("basic").sendMessages({ body: "hello" });
    expect(bus.messageCount("basic", "all")).toBe(1);

    const from = receiver("basic", "all");
    const message = await receiveOne(from);
    expect(message.body).toBe("hello");
    expect(message.deliveryCount).toBe(0);
    expect(bus.messages("basic", "all")[0].locked).toBe(true);

    await from.completeMessage(message);
    expect(bus.messageCount("basic", "all")).toBe(0);
  });

  it("round-trips body, application properties and system properties", async () => {
    const before = Date.now();
    await sender("round-trip").sendMessages({
      body: { image: "api", tags: ["1.0", "latest"] },
      applicationProperties: { repository: "prod/api", attempt: 3, urgent: true },
      subject: "push",
      contentType: "application/json",
      messageId: "message-1",
      correlationId: "correlation-1",
    });
    const from = receiver("round-trip", "all");
    const message = await receiveOne(from);

    expect(message.body).toEqual({ image: "api", tags: ["1.0", "latest"] });
    expect(message.applicationProperties).toEqual({
      repository: "prod/api",
      attempt: 3,
      urgent: true,
    });
    expect(message).toMatchObject({
      subject: "push",
      contentType: "application/json",
      messageId: "message-1",
      correlationId: "correlation-1",
      deliveryCount: 0,
    });
    expect(message.sequenceNumber?.toNumber()).toBeGreaterThan(0);
    expect(message.enqueuedTimeUtc?.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(message.lockedUntilUtc?.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(message.lockToken).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(bus.messages("round-trip", "all")[0]).toMatchObject({
      messageId: "message-1",
      body: { image: "api", tags: ["1.0", "latest"] },
    });

    await from.completeMessage(message);
    expect(bus.messageCount("round-trip", "all")).toBe(0);
  });

  it("accepts a message batch and an array send, in order", async () => {
    const to = sender("batches");
    const batch = await to.createMessageBatch();
    expect(batch.maxSizeInBytes).toBe(MAX_MESSAGE_SIZE_BYTES);
    for (const body of [1, 2, 3]) expect(batch.tryAddMessage({ body })).toBe(true);
    await to.sendMessages(batch);
    await to.sendMessages([{ body: 4 }, { body: 5 }]);

    const from = receiver("batches", "all", { receiveMode: "receiveAndDelete" });
    const messages = await from.receiveMessages(5, { maxWaitTimeInMs: 2_000 });
    expect(messages.map((message) => message.body)).toEqual([1, 2, 3, 4, 5]);
    const sequenceNumbers = messages.map((message) => message.sequenceNumber?.toNumber() ?? 0);
    expect(sequenceNumbers).toEqual([...sequenceNumbers].sort((a, b) => a - b));
  });

  it("counts send operations per entity, a batch or an array send as one", async () => {
    const before = bus.sendOperations();
    const to = sender("counted");
    await to.sendMessages({ body: "one" });
    await to.sendMessages([{ body: "two" }, { body: "three" }]);
    const batch = await to.createMessageBatch();
    for (const body of ["four", "five", "six"]) expect(batch.tryAddMessage({ body })).toBe(true);
    await to.sendMessages(batch);
    await sender("counted-other").sendMessages({ body: "elsewhere" });

    expect(bus.messageCount("counted", "all")).toBe(6);
    expect(bus.sendOperations("counted")).toBe(3);
    expect(bus.sendOperations("counted-other")).toBe(1);
    expect(bus.sendOperations("no-such-topic")).toBe(0);
    // The token exchanges on $cbs that came with the two senders are no send operations.
    expect(bus.sendOperations()).toBe(before + 4);
  });

  it("redelivers an abandoned message with its delivery count raised", async () => {
    await sender("abandon").sendMessages({ body: "again", messageId: "abandoned-1" });
    const from = receiver("abandon", "all");

    await from.abandonMessage(await receiveOne(from));
    const redelivered = await receiveOne(from);
    expect(redelivered).toMatchObject({ messageId: "abandoned-1", deliveryCount: 1 });
    await from.completeMessage(redelivered);
    expect(bus.messageCount("abandon", "all")).toBe(0);
  });

  it("removes messages as they are delivered in receiveAndDelete mode", async () => {
    await sender("delete-mode").sendMessages([{ body: "a" }, { body: "b" }]);
    const from = receiver("delete-mode", "all", { receiveMode: "receiveAndDelete" });

    const messages = await from.receiveMessages(2, { maxWaitTimeInMs: 2_000 });
    expect(messages.map((message) => message.body)).toEqual(["a", "b"]);
    expect(messages[0].lockToken).toBeUndefined();
    expect(bus.messageCount("delete-mode", "all")).toBe(0);
  });

  it("gives each subscription its own copy", async () => {
    await sender("fan-out").sendMessages({ body: "both", messageId: "fan-1" });
    expect(bus.messageCount("fan-out", "first")).toBe(1);
    expect(bus.messageCount("fan-out", "second")).toBe(1);

    const first = receiver("fan-out", "first");
    await first.completeMessage(await receiveOne(first));
    expect(bus.messageCount("fan-out", "first")).toBe(0);
    expect(bus.messageCount("fan-out", "second")).toBe(1);
    expect((await receiveOne(receiver("fan-out", "second"))).messageId).toBe("fan-1");
  });

  it("accepts but drops a message id sent again within the duplicate detection window", async () => {
    const to = sender("dedup");
    await to.sendMessages({ body: "original", messageId: "build-42" });
    await to.sendMessages({ body: "retry", messageId: "build-42" });
    await to.sendMessages([
      { body: "next", messageId: "build-43" },
      { body: "retry again", messageId: "build-42" },
    ]);

    expect(
      bus.messages("dedup", "all").map((message) => [message.messageId, message.body]),
    ).toEqual([
      ["build-42", "original"],
      ["build-43", "next"],
    ]);
  });

  it("honours correlation filters on application properties and subject", async () => {
    await sender("filtered").sendMessages([
      { body: 1, applicationProperties: { repository: "prod/api" } },
      { body: 2, applicationProperties: { repository: "dev/api" } },
      { body: 3, subject: "push", applicationProperties: { repository: "prod/web" } },
    ]);

    const bodies = (subscription: string) =>
      bus.messages("filtered", subscription).map((message) => message.body);
    expect(bodies("prod-only")).toEqual([1]);
    expect(bodies("pushes")).toEqual([3]);
    expect(bodies("everything")).toEqual([1, 2, 3]);
  });

  it("dead-letters a message after the maximum delivery count", async () => {
    await sender("poison").sendMessages({ body: "poison", messageId: "poison-1" });
    const from = receiver("poison", "all");
    for (const expectedCount of [0, 1]) {
      const message = await receiveOne(from);
      expect(message.deliveryCount).toBe(expectedCount);
      await from.abandonMessage(message);
    }

    expect(bus.messageCount("poison", "all")).toBe(0);
    expect(bus.deadLetterCount("poison", "all")).toBe(1);
    const deadLetters = receiver("poison", "all", { subQueueType: "deadLetter" });
    const dead = await receiveOne(deadLetters);
    expect(dead).toMatchObject({
      messageId: "poison-1",
      deliveryCount: 2,
      deadLetterReason: "MaxDeliveryCountExceeded",
    });
    await deadLetters.completeMessage(dead);
    expect(bus.deadLetterCount("poison", "all")).toBe(0);
  });

  it("moves an explicitly dead-lettered message to the dead-letter queue with its reason", async () => {
    await sender("dead-letter").sendMessages({
      body: "bad",
      messageId: "bad-1",
      applicationProperties: { kept: "yes" },
    });
    const from = receiver("dead-letter", "all");
    await from.deadLetterMessage(await receiveOne(from), {
      deadLetterReason: "UnknownRepository",
      deadLetterErrorDescription: "no such repository",
    });

    const dead = await receiveOne(receiver("dead-letter", "all", { subQueueType: "deadLetter" }));
    expect(dead).toMatchObject({
      messageId: "bad-1",
      body: "bad",
      deadLetterReason: "UnknownRepository",
      deadLetterErrorDescription: "no such repository",
    });
    expect(dead.applicationProperties?.kept).toBe("yes");
  });

  it("redelivers when the lock expires, and refuses to settle with the lost lock", async () => {
    await sender("short-lock").sendMessages({ body: "slow", messageId: "slow-1" });
    const from = receiver("short-lock", "all", { maxAutoLockRenewalDurationInMs: 0 });
    const first = await receiveOne(from);
    await sleep(1_100);

    const second = await receiveOne(from);
    expect(second).toMatchObject({ messageId: "slow-1", deliveryCount: 1 });
    expect(await errorCode(from.completeMessage(first))).toBe("MessageLockLost");
    await from.completeMessage(second);
    expect(bus.messageCount("short-lock", "all")).toBe(0);
  });

  it("renews a lock through $management", async () => {
    await sender("renewal").sendMessages({ body: "renewed", messageId: "renewed-1" });
    const from = receiver("renewal", "all", { maxAutoLockRenewalDurationInMs: 0 });
    const message = await receiveOne(from);
    const lockedUntil = message.lockedUntilUtc?.getTime() ?? 0;
    await sleep(1_000);

    const renewedUntil = await from.renewMessageLock(message);
    expect(renewedUntil.getTime()).toBeGreaterThanOrEqual(lockedUntil + 900);
    // Past the first lock's expiry, within the renewed one.
    await sleep(lockedUntil + 500 - Date.now());
    await from.completeMessage(message);
    expect(bus.messageCount("renewal", "all")).toBe(0);
  });

  it("settles through $management once the receiving link is gone", async () => {
    await sender("basic").sendMessages({ body: "orphan", messageId: "orphan-1" });
    const gone = client.createReceiver("basic", "all");
    const message = await receiveOne(gone);
    await gone.close();

    await receiver("basic", "all").completeMessage(message);
    expect(bus.messageCount("basic", "all")).toBe(0);
  });

  it("peeks messages through $management without locking them", async () => {
    await sender("peek").sendMessages([
      { body: "one", messageId: "peek-1" },
      { body: "two", messageId: "peek-2" },
    ]);
    const from = receiver("peek", "all");

    const peeked = await from.peekMessages(10);
    expect(peeked.map((message) => [message.messageId, message.body])).toEqual([
      ["peek-1", "one"],
      ["peek-2", "two"],
    ]);
    expect(bus.messages("peek", "all").every((message) => !message.locked)).toBe(true);
  });

  it("answers a drain so that receiving fewer messages than asked keeps the link", async () => {
    await sender("drain").sendMessages([{ body: 1 }, { body: 2 }]);
    const from = receiver("drain", "all", { receiveMode: "receiveAndDelete" });

    const messages = await from.receiveMessages(5, { maxWaitTimeInMs: 300 });
    expect(messages).toHaveLength(2);
    // The SDK closes its link when a drain goes unanswered.
    expect(bus.receiverCount("drain", "all")).toBe(1);
    await sender("drain").sendMessages({ body: 3 });
    expect(
      (await from.receiveMessages(1, { maxWaitTimeInMs: 2_000 })).map((message) => message.body),
    ).toEqual([3]);
  });

  it("streams messages to a subscribe() handler and completes them after it returns", async () => {
    await sender("streaming").sendMessages([{ body: 1 }, { body: 2 }]);
    const bodies: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      receiver("streaming", "all").subscribe({
        processMessage: async (message) => {
          bodies.push(message.body);
          if (bodies.length === 2) resolve();
        },
        processError: async ({ error }) => reject(error),
      });
    });

    expect(bodies).toEqual([1, 2]);
    await expect.poll(() => bus.messageCount("streaming", "all")).toBe(0);
  });

  it("assigns a message id when the sender set none", async () => {
    await sender("no-id").sendMessages({ body: "anonymous" });
    const [held] = bus.messages("no-id", "all");
    expect(held.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(
      (await receiveOne(receiver("no-id", "all", { receiveMode: "receiveAndDelete" }))).messageId,
    ).toBe(held.messageId);
  });

  it("dead-letters expired messages when the subscription asks for it", async () => {
    await sender("expiring").sendMessages({ body: "stale", messageId: "stale-1", timeToLive: 100 });
    await sleep(150);

    expect(bus.messageCount("expiring", "all")).toBe(0);
    expect(bus.deadLetterMessages("expiring", "all")).toMatchObject([
      { messageId: "stale-1", applicationProperties: { DeadLetterReason: "TTLExpiredException" } },
    ]);
  });

  it("sends to and receives from a queue", async () => {
    await sender("jobs").sendMessages({ body: "job" });
    const from = client.createReceiver("jobs", { receiveMode: "receiveAndDelete" });
    links.push(from);
    expect((await receiveOne(from)).body).toBe("job");
  });

  it("raises MessagingEntityNotFound for unknown topics and subscriptions", async () => {
    expect(await errorCode(sender("no-such-topic").sendMessages({ body: "lost" }))).toBe(
      "MessagingEntityNotFound",
    );
    expect(await errorCode(receiver("basic", "no-such-subscription").receiveMessages(1))).toBe(
      "MessagingEntityNotFound",
    );
  });

  it("raises UnauthorizedAccess for a wrong shared access key", async () => {
    const intruder = new ServiceBusClient(
      bus.connectionString.replace("SAS_KEY_VALUE", "WRONG_KEY"),
      {
        retryOptions: { maxRetries: 0 },
      },
    );
    try {
      expect(await errorCode(intruder.createSender("basic").sendMessages({ body: "sneaky" }))).toBe(
        "UnauthorizedAccess",
      );
    } finally {
      await intruder.close();
    }
    expect(bus.messageCount("basic", "all")).toBe(0);
  });

  it("survives garbage and abrupt disconnects", async () => {
    const garbage = connect(bus.port, "127.0.0.1");
    garbage.on("error", () => undefined);
    garbage.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await new Promise((resolve) => garbage.once("close", resolve));

    const abrupt = connect(bus.port, "127.0.0.1");
    abrupt.on("error", () => undefined);
    await new Promise((resolve) => abrupt.once("connect", resolve));
    abrupt.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]));
    abrupt.destroy();

    await sender("basic").sendMessages({ body: "still here" });
    const from = receiver("basic", "all", { receiveMode: "receiveAndDelete" });
    expect((await receiveOne(from)).body).toBe("still here");
  });
});

describe("restarting the local Service Bus on the same port", () => {
  it("lets an existing client send again once it is back", async () => {
    const restartTopology = parseTopology({
      UserConfig: { Namespaces: [{ Name: "restart", Topics: [topic("events")] }] },
    });
    let bus = await startLocalServiceBus({ topology: restartTopology });
    // A send racing the SDK's own discovery of the disconnect waits for the operation timeout.
    const client = new ServiceBusClient(bus.connectionString, {
      retryOptions: { retryDelayInMs: 100, timeoutInMs: 5_000 },
    });
    try {
      const to = client.createSender("events");
      await to.sendMessages({ body: "before" });
      await bus.stop();
      await bus.stop();
      await sleep(100);

      bus = await startLocalServiceBus({ topology: restartTopology, port: bus.port });
      await to.sendMessages({ body: "after" });
      expect(bus.messages("events", "all").map((message) => message.body)).toEqual(["after"]);
    } finally {
      await client.close();
      await bus.stop();
    }
  });
});
