import { Agent } from "node:https";
import {
  ServiceBusAdministrationClient,
  ServiceBusClient,
  type ServiceBusReceivedMessage,
} from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { parseTopology } from "../../dev/servicebus/topology";
import { sqlFilterFor } from "../../dev/subscribe/globFilter";

const topology = parseTopology({
  UserConfig: {
    Namespaces: [
      {
        Name: "administration",
        Topics: [
          { Name: "acr-push", Subscriptions: [{ Name: "all" }] },
          { Name: "other", Subscriptions: [] },
          {
            Name: "from-config",
            Subscriptions: [
              {
                Name: "tagged-v",
                Rules: [
                  {
                    Name: "sql",
                    Properties: {
                      FilterType: "Sql",
                      SqlFilter: { SqlExpression: "tag LIKE 'v%' AND tagged = 'true'" },
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
});

let bus: LocalServiceBus;
let admin: ServiceBusAdministrationClient;
let client: ServiceBusClient;

/** The SDK's own administration client, trusting the broker's certificate as NODE_EXTRA_CA_CERTS would. */
const adminClient = (connectionString: string) =>
  new ServiceBusAdministrationClient(connectionString, {
    agent: new Agent({ ca: bus.certificate }),
  });

beforeAll(async () => {
  bus = await startLocalServiceBus({ topology });
  admin = adminClient(bus.connectionString);
  client = new ServiceBusClient(bus.connectionString);
});

afterAll(async () => {
  await client?.close();
  await bus?.stop();
});

const push = (properties: Record<string, string>) => ({
  body: { specversion: "1.0" },
  contentType: "application/cloudevents+json",
  applicationProperties: properties,
});

async function receiveAll(topic: string, subscription: string, expected: number) {
  const receiver = client.createReceiver(topic, subscription, { receiveMode: "receiveAndDelete" });
  const received: ServiceBusReceivedMessage[] = [];
  // Asks for one more than expected: an extra message would show, the drain ends the wait.
  while (received.length <= expected) {
    const batch = await receiver.receiveMessages(expected + 1 - received.length, {
      maxWaitTimeInMs: 300,
    });
    if (batch.length === 0) break;
    received.push(...batch);
  }
  await receiver.close();
  return received.map((message) => message.applicationProperties?.tag);
}

const errorOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: { code?: string; statusCode?: number; message: string }) => error,
  );

describe("the local broker's administration endpoint, through ServiceBusAdministrationClient", () => {
  const messages = [
    push({ repository: "prod/api", tag: "v1.4.0", artifactKind: "index", tagged: "true" }),
    push({ repository: "prod/api", artifactKind: "image", tagged: "false" }),
    push({
      repository: "prod/api",
      tag: "sha256-ab.sig",
      artifactKind: "signature",
      tagged: "true",
    }),
    push({ repository: "dev/api", tag: "v1.4.0", artifactKind: "index", tagged: "true" }),
    push({ repository: "prod/web", tag: "v2", artifactKind: "image", tagged: "true" }),
  ];

  it("creates a subscription whose SQL filter, made from globs, selects what it says", async () => {
    const filter = sqlFilterFor({
      repositories: ["prod/*"],
      tags: ["v*"],
      actions: [],
      kinds: ["image", "index"],
      tagged: true,
    });
    if (!filter.ok) throw new Error(filter.failure.join());
    const created = await admin.createSubscription("acr-push", "prod-api", {
      maxDeliveryCount: 5,
      lockDuration: "PT30S",
      defaultRuleOptions: { name: "globs", filter: { sqlExpression: filter.value } },
    });
    expect(created).toMatchObject({
      topicName: "acr-push",
      subscriptionName: "prod-api",
      maxDeliveryCount: 5,
      status: "Active",
    });
    expect(await admin.subscriptionExists("acr-push", "prod-api")).toBe(true);
    expect(await admin.getRule("acr-push", "prod-api", "globs")).toMatchObject({
      name: "globs",
      filter: { sqlExpression: filter.value },
    });
    expect(await admin.ruleExists("acr-push", "prod-api", "$Default")).toBe(false);

    await client.createSender("acr-push").sendMessages(messages);
    expect(await receiveAll("acr-push", "prod-api", 2)).toEqual(["v1.4.0", "v2"]);
    expect(await receiveAll("acr-push", "all", 5)).toHaveLength(5);
  });

  it("gives a subscription created without a rule the $Default rule that takes everything", async () => {
    await admin.createSubscription("acr-push", "everything");
    const rule = await admin.getRule("acr-push", "everything", "$Default");
    expect(rule.filter).toMatchObject({ sqlExpression: "1=1" });
    await client.createSender("acr-push").sendMessages(messages);
    expect(await receiveAll("acr-push", "everything", 5)).toHaveLength(5);
  });

  it("adds, replaces and deletes rules; rules are ORed", async () => {
    await admin.createSubscription("other", "rules", {
      defaultRuleOptions: {
        name: "signatures",
        filter: { sqlExpression: "artifactKind = 'signature'" },
      },
    });
    await admin.createRule("other", "rules", "dev", { sqlExpression: "repository LIKE 'dev/%'" });
    await client.createSender("other").sendMessages(messages);
    expect(await receiveAll("other", "rules", 2)).toEqual(["sha256-ab.sig", "v1.4.0"]);

    const rule = await admin.getRule("other", "rules", "dev");
    await admin.updateRule("other", "rules", { ...rule, filter: { sqlExpression: "tag = 'v2'" } });
    await admin.deleteRule("other", "rules", "signatures");
    await client.createSender("other").sendMessages(messages);
    expect(await receiveAll("other", "rules", 1)).toEqual(["v2"]);
  });

  it("honours SQL filters read from Config.json", async () => {
    await client.createSender("from-config").sendMessages(messages);
    expect(await receiveAll("from-config", "tagged-v", 3)).toEqual(["v1.4.0", "v1.4.0", "v2"]);
  });

  it("answers as Azure does: exists 409, unknown 404, bad filter 400, wrong key 401", async () => {
    expect(await errorOf(admin.createSubscription("acr-push", "all"))).toMatchObject({
      code: "MessageEntityAlreadyExistsError",
      statusCode: 409,
    });
    expect(await errorOf(admin.getSubscription("acr-push", "nobody"))).toMatchObject({
      code: "MessageEntityNotFoundError",
    });
    expect(await errorOf(admin.createSubscription("no-such-topic", "x"))).toMatchObject({
      code: "MessageEntityNotFoundError",
    });
    const badFilter = await errorOf(
      admin.createSubscription("acr-push", "bad", {
        defaultRuleOptions: { name: "bad", filter: { sqlExpression: "tag LIKE" } },
      }),
    );
    expect(badFilter).toMatchObject({ statusCode: 400 });
    expect(badFilter?.message).toContain('SQL filter "tag LIKE"');
    expect(await admin.subscriptionExists("acr-push", "bad")).toBe(false);
    const wrongKey = adminClient(
      bus.connectionString.replace(/SharedAccessKey=[^;]+/, "SharedAccessKey=wrong"),
    );
    expect(await errorOf(wrongKey.createSubscription("acr-push", "intruder"))).toMatchObject({
      code: "UnauthorizedRequestError",
      statusCode: 401,
    });
  });

  it("lists subscriptions and rules, page by page", async () => {
    await admin.createSubscription("other", "listed", {
      defaultRuleOptions: { name: "first", filter: { sqlExpression: "tagged = 'true'" } },
    });
    await admin.createRule("other", "listed", "second", { sqlExpression: "action = 'push'" });
    const rules = [];
    for await (const rule of admin.listRules("other", "listed")) rules.push(rule);
    expect(rules.map((rule) => [rule.name, rule.filter])).toEqual([
      ["first", { sqlExpression: "tagged = 'true'", sqlParameters: undefined }],
      ["second", { sqlExpression: "action = 'push'", sqlParameters: undefined }],
    ]);
    const pages = [];
    for await (const page of admin.listSubscriptions("acr-push").byPage({ maxPageSize: 1 })) {
      pages.push(page.map((subscription) => subscription.subscriptionName));
    }
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.flat()).toContain("all");
    expect(pages.flat()).toContain("prod-api");
    expect(pages.every((page) => page.length === 1)).toBe(true);
  });

  it("deletes a subscription: it takes no more messages", async () => {
    await admin.createSubscription("acr-push", "short-lived");
    await admin.deleteSubscription("acr-push", "short-lived");
    expect(await admin.subscriptionExists("acr-push", "short-lived")).toBe(false);
    expect(() => bus.messageCount("acr-push", "short-lived")).toThrow("no queue or subscription");
  });
});
