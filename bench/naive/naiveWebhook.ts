import { TableClient } from "@azure/data-tables";
import { app } from "@azure/functions";
import { ServiceBusClient, type ServiceBusSender } from "@azure/service-bus";
import { NAIVE_TABLE, TOPIC_BY_ACTION } from "./naiveLayout";

/**
 * The naive bridge `npm run bench` compares the real one with: what a team writes in an afternoon.
 * Per webhook one createEntity and one sendMessages, nothing else: no authentication, no
 * validation, no deduplication, no cross-check. Its table is created by the benchmark, as infra
 * would create it. Same route and settings as the bridge, so the same load drives both.
 */
const table = TableClient.fromConnectionString(setting("TABLES_CONNECTION"), NAIVE_TABLE, {
  allowInsecureConnection: true,
});
const serviceBus = new ServiceBusClient(setting("SERVICEBUS_CONNECTION"));
const senders = new Map<string, ServiceBusSender>();

app.http("naiveWebhook", {
  route: "acr/webhook",
  methods: ["POST"],
  handler: async (request) => {
    const event = (await request.json()) as { id: string; action: string };
    await table.createEntity({
      partitionKey: event.action,
      rowKey: event.id,
      payload: JSON.stringify(event),
    });
    const topic = TOPIC_BY_ACTION[event.action];
    if (topic) await senderFor(topic).sendMessages({ body: event, messageId: event.id });
    return { jsonBody: { id: event.id } };
  },
});

app.hook.appTerminate(() => serviceBus.close());

function senderFor(topic: string): ServiceBusSender {
  let sender = senders.get(topic);
  if (!sender) {
    sender = serviceBus.createSender(topic);
    senders.set(topic, sender);
  }
  return sender;
}

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
