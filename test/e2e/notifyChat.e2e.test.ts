import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { Agent } from "node:https";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { ServiceBusAdministrationClient } from "@azure/service-bus";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort } from "../../dev/freePort";
import { ensureNotifyChatSubscription } from "../../dev/notifyChatSample";
import { DEFAULT_SAS_KEY } from "../../dev/servicebus/broker";
import {
  APP_ROOT,
  type HostProcess,
  type LocalStack,
  startHostProcess,
  startLocalStack,
  TEST_SECRET,
} from "../support/localStack";
import { startNpmStart } from "../support/npmStart";
import { webhookHeaders } from "../support/webhookClient";

/**
 * samples/notify-chat end to end: the bridge on the local stack receives the webhooks of a
 * multi-arch push, the sample is served by the local host on the same broker with the
 * subscription `npm start` creates for it, and a local capture stands in for the chat service.
 */

const SAMPLE_ROOT = resolve(APP_ROOT, "samples", "notify-chat");
const TOPIC = "acr-push";
const SUBSCRIPTION = "notify-chat";
const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

interface CapturedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let stack: LocalStack;
let chat: Server;
let chatStatus = 200;
const captured: CapturedRequest[] = [];
/** The incoming webhook's secret part, as in a Slack or Teams webhook URL. */
const CHAT_TOKEN = `tok${randomUUID().replaceAll("-", "")}`;
let chatUrl: string;
let maxDeliveryCount: number;
let admin: ServiceBusAdministrationClient;
const registry = `r${randomUUID().replaceAll("-", "").slice(0, 12)}.azurecr.io`;

let sample: HostProcess | undefined;
const sampleOutput: string[] = [];
let npmStartOutput = "";

beforeAll(async () => {
  // Tables of its own: on the shared Azurite, this bridge's reconcile would recover other test
  // files' Event Grid-only arrivals and publish them here, where the sample would post them.
  stack = await startLocalStack({ ownTables: true });
  chat = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      captured.push({
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body,
      });
      response.writeHead(chatStatus).end();
    });
  });
  await new Promise<void>((done) => chat.listen(0, "127.0.0.1", done));
  chatUrl = `http://127.0.0.1:${(chat.address() as AddressInfo).port}/services/T01/B02/${CHAT_TOKEN}`;

  admin = new ServiceBusAdministrationClient(stack.serviceBusConnection, {
    agent: new Agent({ ca: stack.broker().certificate }),
  });
  const subscription = await ensureNotifyChatSubscription(admin, TOPIC, SUBSCRIPTION);
  expect(subscription.created).toBe(true);
  maxDeliveryCount = (await admin.getSubscription(TOPIC, SUBSCRIPTION)).maxDeliveryCount;
});

afterEach(async () => {
  await sample?.stop("SIGTERM");
  sample = undefined;
  chatStatus = 200;
});

afterAll(async () => {
  await stack?.stop();
  await new Promise((done) => chat?.close(done));
});

/** The sample as `func start` would serve it from its directory, on the stack's Service Bus. */
async function startSample(settings: Record<string, string>): Promise<void> {
  const port = await freePort();
  sample = await startHostProcess(
    {
      ...process.env,
      PORT: String(port),
      SERVICEBUS: stack.serviceBusConnection,
      CHAT_WEBHOOK_URL: chatUrl,
      ...settings,
    },
    port,
    sampleOutput,
    SAMPLE_ROOT,
  );
}

const digest = () =>
  `sha256:${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "")}`;

/** A multi-arch push as ACR delivers it: each platform manifest, the tagged index, its cosign signature. */
async function deliverMultiArchPush(tag: string, webhookUrl = stack.webhookUrl): Promise<string> {
  const index = digest();
  const push = (target: Record<string, unknown>) => ({
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: "push",
    target: { repository: "prod/api", size: 1024, ...target },
    request: { id: randomUUID(), host: registry, method: "PUT" },
  });
  for (const payload of [
    push({ mediaType: MANIFEST, digest: digest() }),
    push({ mediaType: MANIFEST, digest: digest() }),
    push({ mediaType: INDEX, digest: index, tag }),
    push({ mediaType: MANIFEST, digest: digest(), tag: `sha256-${index.slice(7)}.sig` }),
  ]) {
    const response = await fetch(webhookUrl, {
      method: "POST",
      headers: webhookHeaders(),
      body: JSON.stringify(payload),
    });
    expect(response.status).toBe(200);
  }
  return index;
}

const postsFor = (tag: string) =>
  captured.filter((request) => request.body.includes(`${registry}/prod/api:${tag}`));

/** This file's dead-lettered messages on the sample's subscription. */
const deadLetters = () =>
  stack
    .broker()
    .deadLetterMessages(TOPIC, SUBSCRIPTION)
    .filter(({ applicationProperties }) => applicationProperties.registry === registry);

/** The push's messages on the topic, as its take-everything subscription `all` got them. */
const topicMessages = () =>
  stack
    .broker()
    .messages(TOPIC, "all")
    .filter(({ applicationProperties }) => applicationProperties.registry === registry).length;

describe("the subscription npm start creates for notify-chat", () => {
  it("selects released images and, already there, is kept as it is", async () => {
    expect((await admin.getRule(TOPIC, SUBSCRIPTION, "released-images")).filter).toMatchObject({
      sqlExpression: "artifactKind IN ('image', 'index', 'patch') AND tagged = 'true'",
    });
    expect(maxDeliveryCount).toBe(5);
    // Started again (a second npm start on the same broker), it keeps the subscription as it is.
    expect(await ensureNotifyChatSubscription(admin, TOPIC, SUBSCRIPTION)).toMatchObject({
      created: false,
    });
  });
});

describe.each([
  {
    format: "teams",
    title: (body: Record<string, unknown>) =>
      (body as { attachments: { content: { body: { text: string }[] } }[] }).attachments[0].content
        .body[0].text,
  },
  { format: "slack", title: (body: Record<string, unknown>) => body.text as string },
])("notify-chat in $format format", ({ format, title }) => {
  it("posts exactly one message for a multi-arch push with its signature", async () => {
    await startSample({ CHAT_FORMAT: format });
    const tag = `v1.0.0-${format}`;
    const before = topicMessages();
    const postsBefore = captured.length;
    const index = await deliverMultiArchPush(tag);

    await vi.waitFor(() => expect(postsFor(tag)).toHaveLength(1), { timeout: 15_000 });
    // Settled: the message was completed, nothing is waiting or locked on the subscription.
    await vi.waitFor(() => expect(stack.broker().messageCount(TOPIC, SUBSCRIPTION)).toBe(0));
    expect(captured.slice(postsBefore)).toEqual(postsFor(tag));
    // Four messages on the topic (two platform manifests, the index, the signature), one post.
    expect(topicMessages() - before).toBe(4);

    const [post] = postsFor(tag);
    expect(post.method).toBe("POST");
    expect(post.url).toBe(`/services/T01/B02/${CHAT_TOKEN}`);
    expect(post.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(post.body) as Record<string, unknown>;
    expect(title(body)).toBe(`New multi-arch image: ${registry}/prod/api:${tag}`);
    if (format === "teams") {
      expect(body).toMatchObject({
        type: "message",
        attachments: [
          {
            contentType: "application/vnd.microsoft.card.adaptive",
            content: { type: "AdaptiveCard" },
          },
        ],
      });
    } else {
      expect(body.attachments).toBeUndefined();
      expect(body.blocks).toContainEqual({
        type: "context",
        elements: [{ type: "mrkdwn", text: `\`docker pull ${registry}/prod/api:${tag}\`` }],
      });
    }
    expect(post.body).toContain(index);
    expect(post.body).not.toContain(".sig");
    expect(deadLetters()).toEqual([]);
  });
});

describe("notify-chat when the chat fails", () => {
  it("leaves the post to Service Bus: one attempt per delivery, then the dead-letter queue", async () => {
    chatStatus = 503;
    await startSample({ CHAT_FORMAT: "slack", CHAT_MAX_HOLD_MS: "0" });
    const tag = "v2.0.0-failing";
    await deliverMultiArchPush(tag);

    await vi.waitFor(() => expect(deadLetters()).toHaveLength(1), { timeout: 20_000 });
    // Should the count be short, the sample's own lines say what became of each delivery.
    expect(postsFor(tag), sampleOutput.join("").slice(-6000)).toHaveLength(maxDeliveryCount);
    expect(stack.broker().messageCount(TOPIC, SUBSCRIPTION)).toBe(0);
    const [deadLetter] = deadLetters();
    expect(deadLetter.applicationProperties).toMatchObject({
      registry,
      tag,
      artifactKind: "index",
    });
    const output = sampleOutput.join("");
    for (let delivery = 1; delivery <= maxDeliveryCount; delivery += 1) {
      expect(output).toContain(`delivery ${delivery}: the chat webhook answered 503`);
    }
  });

  it("refuses a webhook URL that is not https, naming the setting and never its value", async () => {
    const secretUrl = `http://chat.invalid/services/T01/B02/${CHAT_TOKEN}`;
    const failure = await startSample({ CHAT_WEBHOOK_URL: secretUrl }).then(
      () => new Error("the sample started"),
      (error: Error) => error,
    );
    expect(failure.message).toMatch(/the host exited \(1\) at start/);
    expect(failure.message).toContain("CHAT_WEBHOOK_URL must be https");
    expect(failure.message).not.toContain(CHAT_TOKEN);
  });
});

describe("notify-chat under npm start", () => {
  it("is served beside the bridge when CHAT_WEBHOOK_URL is set, its subscription created on the local Service Bus", async () => {
    const npmStart = await startNpmStart({ CHAT_WEBHOOK_URL: chatUrl, CHAT_FORMAT: "slack" });
    let exitCode: number | null;
    try {
      await vi.waitFor(() => expect(npmStart.output()).toContain("Press Ctrl-C to stop."), {
        timeout: 20_000,
      });
      expect(npmStart.output()).toContain(
        "notify-chat:    acr-push/notify-chat (created, released images only) -> CHAT_WEBHOOK_URL as slack",
      );
      expect(npmStart.output()).toContain("notifyChat: serviceBusTrigger");

      const tag = "v3.0.0-npm-start";
      await deliverMultiArchPush(tag, `${npmStart.url}/api/acr/webhook`);
      await vi.waitFor(() => expect(postsFor(tag)).toHaveLength(1), { timeout: 15_000 });
      expect(JSON.parse(postsFor(tag)[0].body).text).toBe(
        `New multi-arch image: ${registry}/prod/api:${tag}`,
      );
      await vi.waitFor(() => expect(npmStart.output()).toContain(`posted prod/api:${tag} (index)`));
    } finally {
      exitCode = await npmStart.stop();
      npmStartOutput = npmStart.output();
    }
    expect(exitCode).toBe(0);
  });
});

describe("notify-chat secrets", () => {
  it("no secret in the requests to the chat or in the hosts' output", () => {
    expect(captured.length).toBeGreaterThan(0);
    const requests = JSON.stringify(captured.map(({ headers, body }) => ({ headers, body })));
    const outputs = `${stack.output()}${sampleOutput.join("")}${npmStartOutput}`;
    expect(outputs).toContain("Function.notifyChat");
    for (const secret of [TEST_SECRET, DEFAULT_SAS_KEY, CHAT_TOKEN]) {
      expect(requests).not.toContain(secret);
      expect(outputs).not.toContain(secret);
    }
  });
});
