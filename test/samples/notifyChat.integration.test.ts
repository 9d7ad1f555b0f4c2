import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { InvocationContext } from "@azure/functions";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { parseTopology } from "../../dev/servicebus/topology";
import { notifyChatHandler } from "../../samples/notify-chat/src/notifyChat";
import { loadSettings } from "../../samples/notify-chat/src/settings";
import { ServiceBusPublisher } from "../../src/adapters/serviceBusPublisher";
import { validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { topicMessageFor } from "../../src/core/topicMessage";

/**
 * The sample against the local broker: the bridge's own publisher sends the messages of a real
 * multi-arch push, the subscription has the filter of the sample's Bicep module, and a loop does
 * what the Functions Service Bus trigger does (peek-lock, call, complete or abandon).
 */

const bicep = readFileSync(
  join(__dirname, "../../samples/notify-chat/infra/notify-chat.bicep"),
  "utf8",
);
/** The module's default filter, Bicep string escapes undone. */
const BICEP_FILTER = (
  /param sqlFilter string = '((?:[^'\\]|\\.)*)'/.exec(bicep)?.[1] ?? ""
).replaceAll("\\'", "'");
const MAX_DELIVERY_COUNT = 3;

let bus: LocalServiceBus;
let client: ServiceBusClient;
let chat: Server;
let chatUrl: string;
let chatStatus = 200;
const posts: unknown[] = [];

beforeAll(async () => {
  bus = await startLocalServiceBus({
    topology: parseTopology({
      UserConfig: {
        Namespaces: [
          {
            Name: "sample",
            Topics: [
              {
                Name: "acr-push",
                Properties: { RequiresDuplicateDetection: true },
                Subscriptions: [
                  {
                    Name: "notify-chat",
                    Properties: { MaxDeliveryCount: MAX_DELIVERY_COUNT },
                    Rules: [
                      {
                        Name: "$Default",
                        Properties: {
                          FilterType: "Sql",
                          SqlFilter: { SqlExpression: BICEP_FILTER },
                        },
                      },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      },
    }),
  });
  client = new ServiceBusClient(bus.connectionString);
  chat = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      posts.push(JSON.parse(body));
      response.writeHead(chatStatus).end();
    });
  });
  await new Promise<void>((resolve) => chat.listen(0, "127.0.0.1", resolve));
  chatUrl = `http://127.0.0.1:${(chat.address() as AddressInfo).port}/webhook`;
});

afterAll(async () => {
  await client?.close();
  await bus?.stop();
  await new Promise((resolve) => chat?.close(resolve));
});

beforeEach(() => {
  posts.length = 0;
  chatStatus = 200;
});

let pushes = 0;
/** The webhook payloads of one multi-arch push: two platform manifests, the tagged index, its signature. */
function multiArchPush(tag: string) {
  pushes += 1;
  const hex = (n: number) => n.toString(16).padStart(64, `${pushes}`);
  const push = (id: number, target: Record<string, unknown>) => ({
    id: `push-${pushes}-${id}`,
    timestamp: "2026-05-01T09:12:44.123456789Z",
    action: "push",
    target: { repository: "prod/api", size: 1000, ...target },
    request: { id: `r-${id}`, host: "myregistry.azurecr.io", method: "PUT" },
  });
  const manifest = "application/vnd.oci.image.manifest.v1+json";
  return [
    push(1, { mediaType: manifest, digest: `sha256:${hex(1)}` }),
    push(2, { mediaType: manifest, digest: `sha256:${hex(2)}` }),
    push(3, {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: `sha256:${hex(3)}`,
      tag,
    }),
    push(4, { mediaType: manifest, digest: `sha256:${hex(4)}`, tag: `sha256-${hex(3)}.sig` }),
  ];
}

async function publish(payloads: unknown[]) {
  const publisher = new ServiceBusPublisher({ client, timeoutMs: 5000 });
  for (const payload of payloads) {
    const validation = validateAcrWebhookPayload(payload);
    if (!validation.ok) throw new Error(JSON.stringify(validation.failure));
    const event = registryEventFromWebhook(validation.value, {
      registry: "myregistry.azurecr.io",
      receivedAt: 0,
      fallbackEventId: "x",
    });
    await publisher.publish("acr-push", topicMessageFor(event));
  }
}

/** What the Functions host's Service Bus trigger does, until the subscription is empty. */
async function runTrigger(handler: ReturnType<typeof notifyChatHandler>) {
  const receiver = client.createReceiver("acr-push", "notify-chat");
  for (;;) {
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 });
    if (!message) break;
    const context = new InvocationContext({
      functionName: "notifyChat",
      triggerMetadata: {
        messageId: message.messageId,
        deliveryCount: message.deliveryCount,
        applicationProperties: message.applicationProperties,
      },
      logHandler: () => {},
    });
    try {
      await handler(message.body, context);
      await receiver.completeMessage(message);
    } catch {
      await receiver.abandonMessage(message);
    }
  }
  await receiver.close();
}

const handler = () =>
  notifyChatHandler(loadSettings({ CHAT_WEBHOOK_URL: chatUrl, CHAT_FORMAT: "teams" }), {
    sleep: async () => {},
  });

describe("notify-chat on the local broker", () => {
  it("posts one Teams message for a multi-arch push with its signature: the filter lets the index alone through", async () => {
    expect(BICEP_FILTER).toBe("tagged = 'true' AND artifactKind IN ('image', 'index', 'patch')");
    await publish(multiArchPush("v1.4.0"));
    expect(bus.messageCount("acr-push", "notify-chat")).toBe(1);
    await runTrigger(handler());
    expect(posts).toHaveLength(1);
    expect(JSON.stringify(posts[0])).toContain(
      "New multi-arch image: myregistry.azurecr.io/prod/api:v1.4.0",
    );
    expect(bus.messageCount("acr-push", "notify-chat")).toBe(0);
  });

  it("leaves a post the chat keeps refusing to redelivery, then to the dead-letter queue", async () => {
    chatStatus = 503;
    await publish(multiArchPush("v1.5.0"));
    await runTrigger(handler());
    expect(posts).toHaveLength(MAX_DELIVERY_COUNT);
    expect(bus.messageCount("acr-push", "notify-chat")).toBe(0);
    const [deadLetter] = bus.deadLetterMessages("acr-push", "notify-chat");
    expect(deadLetter.applicationProperties).toMatchObject({
      tag: "v1.5.0",
      artifactKind: "index",
    });
  });
});
