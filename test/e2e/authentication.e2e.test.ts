import { connect } from "node:net";
import { odata } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventTables } from "../../src/adapters/eventTables";
import { acrPush, eventGridEvent, RESOURCE_ID } from "../support/eventGridEvents";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { eventTables } from "../support/records";

/**
 * Authentication of the webhook (`WEBHOOK_SECRETS`, `WEBHOOK_AUTH_HEADER`) and of the Event Grid
 * endpoint (`EVENTGRID_SECRETS`), over HTTP on local stacks. Every refusal is a 401 that stores
 * nothing.
 */

const OLD = "old-webhook-secret-7c1e";
const NEW = "new-webhook-secret-a94d0b";
const CUSTOM_HEADER_SECRET = "custom-header-secret-55f2";
const EVENTGRID_SECRET = "eventgrid-endpoint-secret-3b8e";
const QUIET = { RECONCILE_SCHEDULE: "0 0 0 1 1 *", ACR_RESOURCE_IDS: RESOURCE_ID };

const push = () => acrPush("auth/app");

function eventGridPush(): { eventId: string; body: unknown[] } {
  const data = push();
  return { eventId: data.id, body: [eventGridEvent(data)] };
}

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: Record<string, unknown>;
}

/**
 * A raw HTTP/1.1 request, so that header values reach the host byte for byte (fetch would trim
 * their leading and trailing whitespace before sending).
 */
function rawPost(url: string, headerLines: string[], body: string): Promise<Answer> {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const headers = new Map(
        lines.map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
        }),
      );
      resolve({
        status: Number(statusLine.split(" ")[1]),
        headers,
        body: JSON.parse(text.slice(end + 4) || "{}"),
      });
    });
    socket.write(
      [
        `POST ${pathname}${search} HTTP/1.1`,
        `Host: ${hostname}:${port}`,
        "Content-Type: application/json",
        `Content-Length: ${Buffer.byteLength(body)}`,
        "Connection: close",
        ...headerLines,
        "",
        body,
      ].join("\r\n"),
    );
  });
}

describe("webhook and Event Grid authentication", () => {
  /** Rotation in progress: both secrets accepted, default `Authorization: Bearer`. */
  let rotating: LocalStack;
  /** Rotation done: only the new secret. */
  let rotated: LocalStack;
  /** `WEBHOOK_AUTH_HEADER` set: the raw secret in a custom header. */
  let custom: LocalStack;
  let deliveries: EventTables;

  beforeAll(async () => {
    [rotating, rotated, custom] = await Promise.all([
      startLocalStack({
        env: { ...QUIET, WEBHOOK_SECRETS: `${OLD},${NEW}`, EVENTGRID_SECRETS: EVENTGRID_SECRET },
      }),
      startLocalStack({ env: { ...QUIET, WEBHOOK_SECRETS: NEW } }),
      startLocalStack({
        env: {
          ...QUIET,
          WEBHOOK_SECRETS: CUSTOM_HEADER_SECRET,
          WEBHOOK_AUTH_HEADER: "X-Acr-Webhook-Secret",
        },
      }),
    ]);
    deliveries = eventTables(rotating.tablesConnection);
  });

  afterAll(async () => {
    await Promise.all([rotating?.stop(), rotated?.stop(), custom?.stop()]);
  });

  async function recordsOf(eventId: string): Promise<number> {
    let count = 0;
    const rows = deliveries.scan(odata`eventId eq ${eventId}`, ["PartitionKey"]);
    try {
      for await (const _ of rows) count += 1;
    } catch (error) {
      // Nothing was ever stored: the table is created with the first record.
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
    return count;
  }

  async function expectRefused(answer: Answer, eventId: string, challenge?: string) {
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({
      error: { code: "unauthorized", message: expect.stringContaining("secret") },
    });
    if (challenge) expect(answer.headers.get("www-authenticate")).toBe(challenge);
    expect(await recordsOf(eventId)).toBe(0);
  }

  async function expectAccepted(answer: Answer, eventId: string) {
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ id: eventId, duplicate: false });
    expect(await recordsOf(eventId)).toBe(1);
  }

  describe("POST /api/acr/webhook with Authorization: Bearer", () => {
    it.each([
      ["no Authorization header", []],
      ["an empty Authorization header", ["Authorization: "]],
      ["a wrong secret", ["Authorization: Bearer wrong-secret"]],
      ["a prefix of the right secret", [`Authorization: Bearer ${NEW.slice(0, -1)}`]],
      ["the right secret plus one character", [`Authorization: Bearer ${NEW}x`]],
      ["the right secret after two spaces", [`Authorization: Bearer  ${NEW}`]],
      ["the right secret after a tab", [`Authorization: Bearer\t${NEW}`]],
      ["the right secret in the Basic scheme", [`Authorization: Basic ${NEW}`]],
      [
        "the right secret base64-encoded in the Basic scheme",
        [`Authorization: Basic ${Buffer.from(`user:${NEW}`).toString("base64")}`],
      ],
      ["the raw secret without a scheme", [`Authorization: ${NEW}`]],
      ["the right secret in another case", [`Authorization: Bearer ${NEW.toUpperCase()}`]],
      ["the right secret in x-functions-key", [`x-functions-key: ${NEW}`]],
      ["both secrets joined", [`Authorization: Bearer ${OLD},${NEW}`]],
    ])("refuses %s with 401 and stores nothing", async (_name, headers) => {
      const payload = push();
      const answer = await rawPost(rotating.webhookUrl, headers, JSON.stringify(payload));
      await expectRefused(answer, payload.id, "Bearer");
    });

    it("refuses the right secret in the query string", async () => {
      const payload = push();
      const answer = await rawPost(
        `${rotating.webhookUrl}?code=${NEW}&key=${NEW}`,
        [],
        JSON.stringify(payload),
      );
      await expectRefused(answer, payload.id);
    });

    it.each([
      ["the new secret", `Bearer ${NEW}`],
      ["the old secret (rotation in progress)", `Bearer ${OLD}`],
      ["lowercase bearer", `bearer ${NEW}`],
      ["uppercase BEARER", `BEARER ${OLD}`],
      // RFC 9110 5.5: whitespace around a field value is not part of it; the parser drops it.
      ["leading whitespace before the scheme", ` \t Bearer ${NEW}`],
      ["trailing whitespace after the secret", `Bearer ${NEW} \t `],
    ])("accepts %s", async (_name, value) => {
      const payload = push();
      const answer = await rawPost(
        rotating.webhookUrl,
        [`Authorization:${value}`],
        JSON.stringify(payload),
      );
      await expectAccepted(answer, payload.id);
    });

    it("after the rotation (a host started with only the new secret) refuses the old one", async () => {
      const old = push();
      await expectRefused(
        await rawPost(rotated.webhookUrl, [`Authorization: Bearer ${OLD}`], JSON.stringify(old)),
        old.id,
        "Bearer",
      );
      const fresh = push();
      await expectAccepted(
        await rawPost(rotated.webhookUrl, [`Authorization: Bearer ${NEW}`], JSON.stringify(fresh)),
        fresh.id,
      );
    });

    it("keeps its secrets across a host restart", async () => {
      await rotated.stopHost();
      await rotated.startHost();
      const old = push();
      await expectRefused(
        await rawPost(rotated.webhookUrl, [`Authorization: Bearer ${OLD}`], JSON.stringify(old)),
        old.id,
      );
      const fresh = push();
      await expectAccepted(
        await rawPost(rotated.webhookUrl, [`Authorization: Bearer ${NEW}`], JSON.stringify(fresh)),
        fresh.id,
      );
    });
  });

  describe("POST /api/acr/webhook with WEBHOOK_AUTH_HEADER=X-Acr-Webhook-Secret", () => {
    it.each([
      ["the raw secret", `X-Acr-Webhook-Secret: ${CUSTOM_HEADER_SECRET}`],
      ["the raw secret, header name in lowercase", `x-acr-webhook-secret: ${CUSTOM_HEADER_SECRET}`],
      [
        "the raw secret with surrounding whitespace",
        `X-Acr-Webhook-Secret:  ${CUSTOM_HEADER_SECRET}\t`,
      ],
    ])("accepts %s", async (_name, header) => {
      const payload = push();
      await expectAccepted(
        await rawPost(custom.webhookUrl, [header], JSON.stringify(payload)),
        payload.id,
      );
    });

    it.each([
      ["no header", []],
      ["the secret in Authorization: Bearer", [`Authorization: Bearer ${CUSTOM_HEADER_SECRET}`]],
      [
        "Bearer <secret> in the custom header",
        [`X-Acr-Webhook-Secret: Bearer ${CUSTOM_HEADER_SECRET}`],
      ],
      ["a prefix of the secret", [`X-Acr-Webhook-Secret: ${CUSTOM_HEADER_SECRET.slice(0, 8)}`]],
      ["a wrong secret", ["X-Acr-Webhook-Secret: nope"]],
    ])("refuses %s with 401 naming the header", async (_name, headers) => {
      const payload = push();
      await expectRefused(
        await rawPost(custom.webhookUrl, headers, JSON.stringify(payload)),
        payload.id,
        "x-acr-webhook-secret",
      );
    });
  });

  describe("POST /api/eventgrid", () => {
    const eventGridUrl = (query = "") => `${rotating.url}/api/eventgrid${query}`;

    it.each([
      ["?key=<secret>", `?key=${EVENTGRID_SECRET}`, []],
      ["Authorization: Bearer <secret>", "", [`Authorization: Bearer ${EVENTGRID_SECRET}`]],
      ["lowercase bearer", "", [`Authorization: bearer ${EVENTGRID_SECRET}`]],
    ])("accepts %s", async (_name, query, headers) => {
      const { eventId, body } = eventGridPush();
      const answer = await rawPost(eventGridUrl(query), headers, JSON.stringify(body));
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toMatchObject({ accepted: 1, rejected: 0 });
      expect(await recordsOf(eventId)).toBe(1);
    });

    it.each([
      ["no secret at all", "", []],
      ["a wrong ?key=", "?key=wrong", []],
      ["a prefix of the secret in ?key=", `?key=${EVENTGRID_SECRET.slice(0, -1)}`, []],
      ["an empty ?key=", "?key=", []],
      ["a wrong Bearer", "", ["Authorization: Bearer wrong"]],
      ["the secret in the Basic scheme", "", [`Authorization: Basic ${EVENTGRID_SECRET}`]],
      ["the secret in ?code=", `?code=${EVENTGRID_SECRET}`, []],
      ["the webhook's secret", `?key=${NEW}`, []],
    ])("refuses %s with 401 and stores nothing", async (_name, query, headers) => {
      const { eventId, body } = eventGridPush();
      const answer = await rawPost(eventGridUrl(query), headers, JSON.stringify(body));
      await expectRefused(answer, eventId);
    });

    it("refuses the Event Grid secret on the webhook", async () => {
      const payload = push();
      await expectRefused(
        await rawPost(
          rotating.webhookUrl,
          [`Authorization: Bearer ${EVENTGRID_SECRET}`],
          JSON.stringify(payload),
        ),
        payload.id,
      );
    });
  });

  it("never wrote a secret to any host's output", () => {
    for (const stack of [rotating, rotated, custom]) {
      const output = stack.output();
      for (const secret of [OLD, NEW, CUSTOM_HEADER_SECRET, EVENTGRID_SECRET]) {
        expect(output).not.toContain(secret);
      }
    }
  });
});
