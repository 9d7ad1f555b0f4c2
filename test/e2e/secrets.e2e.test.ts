import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acrPush, eventGridEvent, RESOURCE_ID } from "../support/eventGridEvents";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { everyEntity, everyMessage } from "../support/stackInventory";

/**
 * Secrets never leak: a run that sends distinctive webhook and Event Grid secrets every way a
 * sender might (header, `?code=`, `?key=`, `x-functions-key`), in valid, invalid and refused
 * deliveries, with Table Storage down once (journal) and the reconcile run, then looks through
 * everything the run left behind: the host's output, every entity of every table, every message
 * on every topic and queue, and every answer.
 */

// `+` and `/` so that URL and base64 encodings differ from the secret itself.
const WEBHOOK_SECRET = "wh+Sx7kQ/secret-Zq81vMf2";
const EVENTGRID_SECRET = "eg+Pq3/secret-Lw47nRt9";
const SECRETS = [WEBHOOK_SECRET, EVENTGRID_SECRET];

/** Every form in which a secret could be written down. */
function forms(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    secret.replaceAll("+", " "),
    Buffer.from(secret).toString("base64"),
    Buffer.from(secret).toString("base64url"),
    Buffer.from(`Bearer ${secret}`).toString("base64"),
    JSON.stringify(secret).slice(1, -1),
    // Long enough fragments that no legitimate value contains them by chance.
    secret.slice(0, 12),
    secret.slice(-12),
  ];
}

const push = () => acrPush("secrets/app");
const eventGridPush = () => [eventGridEvent(push())];

describe("secrets never appear in output, records, messages or answers", () => {
  let stack: LocalStack;
  const answers: string[] = [];
  let journalSnapshot = "";

  beforeAll(async () => {
    stack = await startLocalStack({
      ownTables: true,
      env: {
        WEBHOOK_SECRETS: `${WEBHOOK_SECRET},another-secret-0000`,
        EVENTGRID_SECRETS: EVENTGRID_SECRET,
        ACR_RESOURCE_IDS: RESOURCE_ID,
        CROSSCHECK_WINDOW_SECONDS: "1",
        TABLES_TIMEOUT_MS: "500",
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function send(
    path: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<number> {
    const response = await fetch(`${stack.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    const text = await response.text();
    answers.push(`${response.status} ${[...response.headers].join(" ")} ${text}`);
    return response.status;
  }

  const secretQuery = `code=${encodeURIComponent(WEBHOOK_SECRET)}&key=${encodeURIComponent(EVENTGRID_SECRET)}`;
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const everywhere = {
    ...bearer(WEBHOOK_SECRET),
    "x-functions-key": WEBHOOK_SECRET,
    cookie: `session=${WEBHOOK_SECRET}`,
    "proxy-authorization": `Bearer ${EVENTGRID_SECRET}`,
  };

  // First, while no table exists yet: Azurite restarted keeps only what it has flushed to disk.
  it("journals a delivery while Table Storage is down, then restores it", async () => {
    await stack.stopTables();
    try {
      expect(
        await send(`/api/acr/webhook?${secretQuery}`, JSON.stringify(push()), everywhere),
      ).toBe(200);
      expect(stack.broker().messageCount("acr-journal")).toBe(1);
      // What the journal holds before the reconcile consumes it.
      journalSnapshot = JSON.stringify(stack.broker().messages("acr-journal"));
      expect(journalSnapshot).not.toBe("[]");
    } finally {
      await stack.startTables();
    }
    await sleep(1100);
    await runReconcile(stack);
  });

  it("runs valid, invalid and refused webhook deliveries", async () => {
    const statuses = [
      // Valid, the secrets riding along in every place a caller might put them.
      await send("/api/acr/webhook", JSON.stringify(push()), bearer(WEBHOOK_SECRET)),
      await send(`/api/acr/webhook?${secretQuery}`, JSON.stringify(push()), everywhere),
      await send(
        `/api/acr/webhook?region=westeurope&${secretQuery}`,
        JSON.stringify({ ...push(), action: "retag" }),
        everywhere,
      ),
      await send(`/api/acr/webhook?${secretQuery}`, JSON.stringify({ action: "ping" }), everywhere),
      // The other route's secret, under names that carry no secret by convention.
      await send(
        `/api/acr/webhook?sig=${encodeURIComponent(EVENTGRID_SECRET)}`,
        JSON.stringify(push()),
        { ...bearer(WEBHOOK_SECRET), "x-forwarded-key": EVENTGRID_SECRET },
      ),
      // A secret pasted into the URI as a parameter's name, as a bare one or with a value.
      await send(
        `/api/acr/webhook?${encodeURIComponent(WEBHOOK_SECRET)}&region=westeurope&${encodeURIComponent(EVENTGRID_SECRET)}=1`,
        JSON.stringify(push()),
        bearer(WEBHOOK_SECRET),
      ),
      // Bad deliveries with the right secret.
      await send(`/api/acr/webhook?${secretQuery}`, '{"id":', everywhere),
      await send(
        `/api/acr/webhook?${secretQuery}`,
        JSON.stringify({ ...push(), timestamp: "yesterday" }),
        everywhere,
      ),
      await send(`/api/acr/webhook?registry=x'&${secretQuery}`, JSON.stringify(push()), everywhere),
      await send("/api/acr/webhook", "x".repeat(70_000), everywhere),
      await send("/api/acr/webhook", "action=push", {
        ...everywhere,
        "content-type": "application/x-www-form-urlencoded",
      }),
      // Refused: the secret nearly right, or in the wrong place.
      await send("/api/acr/webhook", JSON.stringify(push()), bearer(`${WEBHOOK_SECRET}x`)),
      await send("/api/acr/webhook", JSON.stringify(push()), bearer(WEBHOOK_SECRET.slice(0, -1))),
      await send("/api/acr/webhook", JSON.stringify(push()), {
        authorization: `Basic ${Buffer.from(`u:${WEBHOOK_SECRET}`).toString("base64")}`,
      }),
      await send(`/api/acr/webhook?${secretQuery}`, JSON.stringify(push()), {
        "x-functions-key": WEBHOOK_SECRET,
      }),
      await send("/api/acr/webhook", JSON.stringify(push()), bearer(EVENTGRID_SECRET)),
    ];
    expect(statuses).toEqual([
      200, 200, 200, 200, 200, 200, 400, 400, 400, 413, 415, 401, 401, 401, 401, 401,
    ]);
  });

  it("runs Event Grid deliveries, accepted and refused", async () => {
    const statuses = [
      await send(
        `/api/eventgrid?key=${encodeURIComponent(EVENTGRID_SECRET)}`,
        JSON.stringify(eventGridPush()),
        {
          "aeg-event-type": "Notification",
        },
      ),
      await send(`/api/eventgrid?${secretQuery}`, JSON.stringify(eventGridPush()), {
        ...bearer(EVENTGRID_SECRET),
        "x-functions-key": EVENTGRID_SECRET,
      }),
      await send(
        `/api/eventgrid?sig=${encodeURIComponent(WEBHOOK_SECRET)}`,
        JSON.stringify(eventGridPush()),
        { ...bearer(EVENTGRID_SECRET), "x-forwarded-webhook": `Bearer ${WEBHOOK_SECRET}` },
      ),
      await send(
        `/api/eventgrid?${encodeURIComponent(WEBHOOK_SECRET)}=1`,
        JSON.stringify(eventGridPush()),
        bearer(EVENTGRID_SECRET),
      ),
      await send(`/api/eventgrid?${secretQuery}`, "[{", { ...bearer(EVENTGRID_SECRET) }),
      await send(
        `/api/eventgrid?key=${encodeURIComponent(WEBHOOK_SECRET)}`,
        JSON.stringify(eventGridPush()),
        { "x-functions-key": EVENTGRID_SECRET },
      ),
      await send("/api/eventgrid", JSON.stringify(eventGridPush()), bearer(`${EVENTGRID_SECRET}x`)),
      await send(
        `/runtime/webhooks/EventGrid?functionName=acrEventGrid&code=${encodeURIComponent(EVENTGRID_SECRET)}`,
        JSON.stringify(eventGridPush()),
        { "aeg-event-type": "Notification", "x-functions-key": EVENTGRID_SECRET },
      ),
    ];
    expect(statuses.slice(0, 7)).toEqual([200, 200, 200, 200, 400, 401, 401]);
    expect(statuses[7]).toBeLessThan(300);
  });

  it("left no secret in the host output, any table, any message or any answer", async () => {
    const entities = await everyEntity(stack);
    const messages = everyMessage(stack);
    // The run did leave things behind to look through.
    expect(entities.some((entity) => /^AcrEvents\d+ /.test(entity))).toBe(true);
    expect(entities.join("\n")).toContain("******");
    expect(messages.length).toBeGreaterThan(0);
    expect(stack.output()).toContain("webhook refused");

    const places: [string, string][] = [
      ["host output", stack.output()],
      ["tables", entities.join("\n")],
      ["messages", messages.join("\n")],
      ["journal before restore", journalSnapshot],
      ["answers", answers.join("\n")],
    ];
    for (const [place, text] of places) {
      for (const secret of SECRETS) {
        for (const form of forms(secret)) {
          expect(text.includes(form), `${place} contains ${JSON.stringify(form)}`).toBe(false);
        }
      }
    }
  });
});
