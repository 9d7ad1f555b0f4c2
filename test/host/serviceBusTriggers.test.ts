import { join } from "node:path";
import { ServiceBusClient, type ServiceBusReceiver } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FunctionsHost,
  type RegisteredFunction,
  startFunctionsHost,
} from "../../dev/host/main";
import { ServiceBusTriggers } from "../../dev/host/serviceBusTriggers";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { parseTopology } from "../../dev/servicebus/topology";
import { waitFor, waitForLine } from "./waitFor";

const fixtureApp = join(__dirname, "fixture-app-servicebus");

interface Call {
  fn: string;
  body: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  deliveryCount?: number;
}
const calls = () =>
  (globalThis as { serviceBusFixtureCalls?: Call[] }).serviceBusFixtureCalls ?? [];
const callsFor = (id: string) => calls().filter((call) => call.body?.id === id);

const topology = parseTopology({
  UserConfig: {
    Namespaces: [
      {
        Name: "host-triggers",
        Queues: [
          { Name: "work", Properties: { MaxDeliveryCount: 3 } },
          { Name: "settled-by-function", Properties: { MaxDeliveryCount: 5 } },
        ],
        Topics: [{ Name: "events", Subscriptions: [{ Name: "host" }] }],
      },
    ],
  },
});

describe("Service Bus triggers in the local host, against the local broker", () => {
  let bus: LocalServiceBus;
  let client: ServiceBusClient;
  let host: FunctionsHost;
  const lines: string[] = [];
  const receivers: ServiceBusReceiver[] = [];

  const receiver = (entity: string, deadLetter = false) => {
    const created = client.createReceiver(entity, deadLetter ? { subQueueType: "deadLetter" } : {});
    receivers.push(created);
    return created;
  };
  /** What is left on an entity, locked or not, without taking it. */
  const remaining = async (entity: string) => (await receiver(entity).peekMessages(10)).length;
  const send = (entity: string, body: unknown, contentType = "application/json") =>
    client.createSender(entity).sendMessages({ body, contentType });

  beforeAll(async () => {
    bus = await startLocalServiceBus({ topology });
    process.env.ServiceBusConnection = bus.connectionString;
    client = new ServiceBusClient(bus.connectionString);
    host = await startFunctionsHost({
      appRoot: fixtureApp,
      timers: false,
      log: (line) => lines.push(line),
    });
  });

  afterAll(async () => {
    await host?.stop();
    await Promise.all(receivers.map((created) => created.close()));
    await client?.close();
    await bus?.stop();
    delete process.env.ServiceBusConnection;
  });

  it("invokes a queue function once per message, with the parsed body and trigger metadata, and completes it", async () => {
    await send("work", { id: "q1" });

    const [call] = await waitFor(() => nonEmpty(callsFor("q1")), "the queue function's call");
    expect(call.fn).toBe("onQueue");
    expect(call.metadata).toMatchObject({ deliveryCount: 1 });
    expect(call.metadata?.messageId).toEqual(expect.any(String));
    await waitForLine(lines, /Executed 'Functions\.onQueue' \(Succeeded/);
    await expectEventually(() => remaining("work"), 0);
    expect(callsFor("q1")).toHaveLength(1);
  });

  it("abandons a message whose invocation fails, so it is redelivered, and the broker dead-letters it past the max delivery count", async () => {
    await send("work", { id: "q2", fail: true });

    const dead = receiver("work", true);
    const [message] = await dead.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    expect(message?.body).toEqual({ id: "q2", fail: true });
    expect(message.deadLetterReason).toBe("MaxDeliveryCountExceeded");
    await dead.completeMessage(message);
    expect(callsFor("q2").map((call) => call.metadata?.deliveryCount)).toEqual([1, 2, 3]);
    expect(await remaining("work")).toBe(0);
  });

  it("serves a topic subscription the same way", async () => {
    await client.createSender("events").sendMessages({ body: { id: "t1" } });

    const [call] = await waitFor(() => nonEmpty(callsFor("t1")), "the topic function's call");
    expect(call.fn).toBe("onTopic");
    await expectEventually(
      async () => (await client.createReceiver("events", "host").peekMessages(10)).length,
      0,
    );
  });

  it("lets an sdkBinding function dead-letter its message with a reason, through the settlement service", async () => {
    await send("settled-by-function", { id: "s1", settle: "deadLetter" });

    const dead = receiver("settled-by-function", true);
    const [message] = await dead.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    expect(message?.body).toEqual({ id: "s1", settle: "deadLetter" });
    expect(message.deadLetterReason).toBe("NotForUs");
    expect(message.deadLetterErrorDescription).toBe("the fixture refused it");
    await dead.completeMessage(message);
    expect(callsFor("s1")).toHaveLength(1);
  });

  it("lets an sdkBinding function complete its message, and abandons it when the function throws", async () => {
    await send("settled-by-function", { id: "s2", settle: "complete" });
    const [completed] = await waitFor(
      () => nonEmpty(callsFor("s2")),
      "the sdkBinding function's call",
    );
    expect(completed.deliveryCount).toBe(1);
    await expectEventually(() => remaining("settled-by-function"), 0);

    await send("settled-by-function", { id: "s3" });
    await waitFor(
      () => (callsFor("s3").length >= 2 ? callsFor("s3") : undefined),
      "a redelivery after the function threw",
      10_000,
    );
    // The message as the extension decodes it counts this delivery, as the trigger metadata does.
    expect(
      callsFor("s3")
        .map((call) => call.deliveryCount)
        .slice(0, 2),
    ).toEqual([1, 2]);
  });
});

describe("a Service Bus trigger whose connection setting is missing", () => {
  it("stops the host from starting, naming the setting", async () => {
    delete process.env.ServiceBusConnection;
    await expect(startFunctionsHost({ appRoot: fixtureApp, log: () => {} })).rejects.toThrow(
      /"ServiceBusConnection".*"ServiceBusConnection__fullyQualifiedNamespace"/,
    );
  });
});

function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}

async function expectEventually(probe: () => Promise<number>, expected: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  let last = await probe();
  while (last !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await probe();
  }
  expect(last).toBe(expected);
}

describe("reading a Service Bus trigger's options, as the host does at start", () => {
  const trigger = (binding: Record<string, unknown>): RegisteredFunction => ({
    name: "fn",
    functionId: "fn",
    triggerType: "serviceBusTrigger",
    triggerBindingName: "trigger",
    metadata: {
      name: "fn",
      bindings: { trigger: { type: "serviceBusTrigger", direction: "in", ...binding } },
    },
    handler: () => {},
  });
  const read = (binding: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
    new ServiceBusTriggers([trigger(binding)], { Conn: "Endpoint=sb://localhost;", ...env })
      .entries[0];

  it("resolves %SETTING% names, defaults to completing, and reads sdkBinding from the library's flag", () => {
    expect(read({ connection: "Conn", queueName: "%Q%" }, { Q: "orders" })).toMatchObject({
      entityPath: "orders",
      autoCompleteMessages: true,
      sdkBinding: false,
    });
    expect(
      read({
        connection: "Conn",
        topicName: "t",
        subscriptionName: "s",
        autoCompleteMessages: false,
        properties: { supportsDeferredBinding: "true" },
      }),
    ).toMatchObject({
      entityPath: "t/Subscriptions/s",
      autoCompleteMessages: false,
      sdkBinding: true,
    });
  });

  it("takes an identity-based connection, and the host's default connection name", () => {
    expect(
      read(
        { connection: "Sb", queueName: "q" },
        { Sb__fullyQualifiedNamespace: "ns.servicebus.windows.net" },
      ).connection,
    ).toEqual({
      kind: "identity",
      setting: "Sb",
      fullyQualifiedNamespace: "ns.servicebus.windows.net",
    });
    expect(
      read({ queueName: "q" }, { AzureWebJobsServiceBus: "Endpoint=sb://x;" }).connection,
    ).toMatchObject({ kind: "connectionString", setting: "AzureWebJobsServiceBus" });
  });

  it.each([
    [{ connection: "Conn" }, /needs queueName, or topicName and subscriptionName/],
    [{ connection: "Conn", topicName: "t" }, /needs queueName, or topicName and subscriptionName/],
    [{ connection: "Conn", queueName: "%MISSING%" }, /needs the app setting "MISSING"/],
    [{ connection: "Conn", queueName: "q", isSessionsEnabled: true }, /session-enabled/],
    [{ connection: "Conn", queueName: "q", cardinality: "many" }, /cardinality "many"/],
  ])("refuses %o", (binding, message) => {
    expect(() => read(binding)).toThrow(message);
  });
});
