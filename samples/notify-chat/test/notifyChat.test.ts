import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { redeliveryDelayMs } from "../src/chatPost";
import { notifyChatHandler } from "../src/notifyChat";
import { loadSettings } from "../src/settings";

/** A local capture standing in for the chat service: records posts, answers what a test says. */
let server: Server;
let url: string;
const posts: { body: unknown; contentType?: string }[] = [];
let answers: { status: number; headers?: Record<string, string> }[] = [];

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      posts.push({ body: JSON.parse(body), contentType: request.headers["content-type"] });
      const answer = answers.shift() ?? { status: 200 };
      response.writeHead(answer.status, answer.headers).end("1");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/secret-path`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  posts.length = 0;
  answers = [];
});

const logged: string[] = [];
function context(messageId: string, properties: Record<string, string>, deliveryCount = 1) {
  return new InvocationContext({
    functionName: "notifyChat",
    triggerMetadata: { messageId, deliveryCount, applicationProperties: properties },
    logHandler: (_level, ...args) => logged.push(args.join(" ")),
  });
}

const RELEASE = {
  action: "push",
  registry: "myregistry.azurecr.io",
  repository: "prod/api",
  tag: "v1",
  artifactKind: "index",
  tagged: "true",
};

describe("notifyChat, posting to a local capture", () => {
  const holds: number[] = [];
  const handler = () =>
    notifyChatHandler(loadSettings({ CHAT_WEBHOOK_URL: url, CHAT_FORMAT: "slack" }), {
      sleep: async (ms) => holds.push(ms),
    });

  it("posts a release once, as JSON, and not again when the same message comes back", async () => {
    const notify = handler();
    await notify({ time: "t" }, context("m-1", RELEASE));
    await notify({ time: "t" }, context("m-1", RELEASE, 2));
    expect(posts).toHaveLength(1);
    expect(posts[0].contentType).toBe("application/json");
    expect(posts[0].body).toMatchObject({
      text: "New multi-arch image: myregistry.azurecr.io/prod/api:v1",
    });
  });

  it("posts nothing for a multi-arch child or a signature", async () => {
    const notify = handler();
    await notify(
      {},
      context("m-2", { ...RELEASE, tag: "", tagged: "false", artifactKind: "image" }),
    );
    await notify(
      {},
      context("m-3", { ...RELEASE, tag: "sha256-a.sig", artifactKind: "signature" }),
    );
    expect(posts).toHaveLength(0);
  });

  it("throws on a failed post, after holding the message as long as the chat asked", async () => {
    const notify = handler();
    answers = [{ status: 429, headers: { "retry-after": "3" } }, { status: 503 }];
    await expect(notify({}, context("m-4", RELEASE, 1))).rejects.toThrow("answered 429");
    await expect(notify({}, context("m-4", RELEASE, 3))).rejects.toThrow("answered 503");
    expect(holds.slice(-2)).toEqual([3000, 4000]);
    await notify({}, context("m-4", RELEASE, 4));
    expect(posts).toHaveLength(3);
    expect(logged.join("\n")).not.toContain("secret-path");
  });

  it("throws when the chat does not answer at all", async () => {
    const notify = notifyChatHandler(
      loadSettings({ CHAT_WEBHOOK_URL: "http://127.0.0.1:9/closed", CHAT_TIMEOUT_MS: "500" }),
      { sleep: async () => {} },
    );
    await expect(notify({}, context("m-5", RELEASE))).rejects.toThrow("did not answer");
  });
});

describe("redeliveryDelayMs", () => {
  it("doubles with the delivery count, takes Retry-After, and never passes the cap", () => {
    expect([1, 2, 3, 4].map((count) => redeliveryDelayMs(count, undefined, 20_000))).toEqual([
      1000, 2000, 4000, 8000,
    ]);
    expect(redeliveryDelayMs(10, undefined, 20_000)).toBe(20_000);
    expect(redeliveryDelayMs(1, 7000, 20_000)).toBe(7000);
    expect(redeliveryDelayMs(1, 90_000, 20_000)).toBe(20_000);
  });
});

describe("loadSettings", () => {
  it.each([
    [{}, "CHAT_WEBHOOK_URL"],
    [{ CHAT_WEBHOOK_URL: "http://chat.example.com/hook" }, "must be https"],
    [
      { CHAT_WEBHOOK_URL: "https://chat.example.com/hook", CHAT_FORMAT: "discord" },
      "CHAT_FORMAT must be teams or slack",
    ],
    [
      { CHAT_WEBHOOK_URL: "https://chat.example.com/hook", NOTIFY_SIGNATURES: "yes" },
      "NOTIFY_SIGNATURES",
    ],
    [
      { CHAT_WEBHOOK_URL: "https://chat.example.com/hook", NOTIFY_REPLAYS: "1" },
      "NOTIFY_REPLAYS must be true or false",
    ],
  ])("refuses %j naming the setting", (env, problem) => {
    expect(() => loadSettings(env)).toThrow(problem);
  });

  it("never puts the webhook URL in its error", () => {
    expect(() =>
      loadSettings({ CHAT_WEBHOOK_URL: "http://hooks.example.com/services/T0/B0/SECRET" }),
    ).toThrow(expect.objectContaining({ message: expect.not.stringContaining("SECRET") }));
  });

  it("defaults to Teams without signatures or replays", () => {
    expect(loadSettings({ CHAT_WEBHOOK_URL: "https://chat.example.com/hook" })).toEqual({
      webhookUrl: "https://chat.example.com/hook",
      format: "teams",
      includeSignatures: false,
      includeReplays: false,
      timeoutMs: 5000,
      maxHoldMs: 20_000,
    });
  });
});
