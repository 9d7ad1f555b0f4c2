import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventTables } from "../../src/adapters/eventTables";
import {
  acrPush,
  cloudEvent,
  eventGridEvent,
  RESOURCE_ID,
  SAMPLE_EVENTGRID_SECRET,
} from "../support/eventGridEvents";
import { type LocalStack, startLocalStack } from "../support/localStack";
import { eventTables, recordEntity } from "../support/records";
import { type Inventory, inventory } from "../support/stackInventory";

/**
 * Hostile and malformed input to `POST /api/eventgrid`, each answered with a status that tells
 * Event Grid whether to retry and a JSON body naming the problem, and changing nothing when it is
 * refused: no entity in any table, no message anywhere.
 */

type Json = Record<string, unknown>;

interface Case {
  name: string;
  body: () => string;
  headers?: Record<string, string>;
  status: number;
  /** `error.code` of the refusal. */
  code: string;
  /** A path `details.issues` must name. */
  issue?: string;
}

const json = JSON.stringify;

function push() {
  return acrPush("hostile/eg");
}

/** An Event Grid schema ACR event whose `data` is changed by `change`. */
function withData(change: (data: Json & { target: Json }) => void, type?: string): Json {
  const data: Json & { target: Json } = { ...push(), location: "westeurope" };
  change(data);
  const event = { ...eventGridEvent(push()), data };
  return type === undefined ? event : { ...event, eventType: type };
}

const IMAGE_PUSHED = "Microsoft.ContainerRegistry.ImagePushed";

const cases: Case[] = [
  // What no Event Grid subscription sends: a body that is not JSON by its media type.
  {
    name: "text/plain",
    body: () => json([eventGridEvent(push())]),
    headers: { "content-type": "text/plain" },
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "application/x-www-form-urlencoded",
    body: () => json([eventGridEvent(push())]),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "multipart/form-data",
    body: () => json([eventGridEvent(push())]),
    headers: { "content-type": "multipart/form-data; boundary=x" },
    status: 415,
    code: "unsupported_media_type",
  },
  { name: "an empty body", body: () => "", status: 400, code: "invalid_json" },
  { name: "null", body: () => "null", status: 400, code: "invalid_events", issue: "(body)" },
  { name: "an empty batch", body: () => "[]", status: 400, code: "invalid_events" },
  {
    name: "an event without its type",
    body: () => json([{ id: "x", topic: RESOURCE_ID, data: {} }]),
    status: 400,
    code: "invalid_events",
    issue: "[0]",
  },
  {
    name: "eventType as a number",
    body: () => json([{ ...eventGridEvent(push()), eventType: 5 }]),
    status: 400,
    code: "invalid_events",
    issue: "[0]",
  },
  {
    name: "data as a string that is not JSON",
    body: () => json([{ ...eventGridEvent(push()), data: "{nope" }]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data",
  },
  {
    name: "data.id as a number",
    body: () => json([withData((data) => (data.id = 42))]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data.id",
  },
  {
    name: "data.timestamp in the year 9999",
    body: () => json([withData((data) => (data.timestamp = "9999-01-01T00:00:00Z"))]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data.timestamp",
  },
  {
    name: "# in data.target.repository",
    body: () => json([withData((data) => (data.target.repository = "a#b"))]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data.target.repository",
  },
  {
    name: "data.id too long for a table key once percent-encoded",
    body: () => json([withData((data) => (data.id = `p${"|".repeat(170)}`))]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data.id",
  },
  {
    // Event Grid takes events of up to 1 MB; Table Storage an entity of 1 MiB of UTF-16.
    name: "data of 600,000 characters",
    body: () => json([withData((data) => (data.annotations = "a".repeat(600_000)))]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data",
  },
  {
    name: "a control character in data.id",
    body: () => json([withData((data) => (data.id = "a\u0007b"))]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data.id",
  },
  {
    name: "a CloudEvent of spec version 0.3",
    body: () => json([{ ...cloudEvent(push()), specversion: "0.3" }]),
    status: 400,
    code: "invalid_events",
    issue: "[0]",
  },
  // The event types ACR publishes each carry one action: another one is not an ACR event.
  ...[
    ["quarantine", IMAGE_PUSHED],
    ["ping", IMAGE_PUSHED],
    ["delete", IMAGE_PUSHED],
    ["push", "Microsoft.ContainerRegistry.ImageDeleted"],
    ["push", "Microsoft.ContainerRegistry.ChartPushed"],
    ["chart_push", "Microsoft.ContainerRegistry.ChartDeleted"],
  ].map(
    ([action, type]): Case => ({
      name: `${type} carrying action ${action}`,
      body: () => json([withData((data) => (data.action = action), type)]),
      status: 400,
      code: "invalid_events",
      issue: "[0].data.action",
    }),
  ),
  {
    name: "a CloudEvent ImagePushed carrying action quarantine",
    body: () => json([{ ...cloudEvent(push()), data: json({ ...push(), action: "quarantine" }) }]),
    status: 400,
    code: "invalid_events",
    issue: "[0].data.action",
  },
];

describe("hostile and malformed input to POST /api/eventgrid", () => {
  let stack: LocalStack;
  let deliveries: EventTables;

  beforeAll(async () => {
    stack = await startLocalStack({
      ownTables: true,
      env: { ACR_RESOURCE_IDS: RESOURCE_ID, RECONCILE_SCHEDULE: "0 0 0 1 1 *" },
    });
    deliveries = eventTables(stack.tablesConnection);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${stack.url}/api/eventgrid?key=${SAMPLE_EVENTGRID_SECRET}`, {
      method: "POST",
      headers: { "content-type": "application/json", "aeg-event-type": "Notification", ...headers },
      body,
    });
  }

  it("takes a valid batch before the corpus", async () => {
    const response = await post(json([eventGridEvent(push()), cloudEvent(push())]));
    expect(await response.json()).toMatchObject({ accepted: 2 });
  });

  it.each(cases)("$name -> $status", async (hostile) => {
    const before: Inventory = await inventory(stack);
    const response = await post(hostile.body(), hostile.headers);
    const text = await response.text();
    expect(response.status, text.slice(0, 500)).toBe(hostile.status);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(text).not.toContain(SAMPLE_EVENTGRID_SECRET);
    expect(text).not.toMatch(/\n\s+at |\.(ts|js):\d+/);
    const body = JSON.parse(text) as { error: { code: string; details?: { issues: Json[] } } };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error.code).toBe(hostile.code);
    if (hostile.issue) {
      expect(body.error.details?.issues.map((issue) => issue.path)).toContain(hostile.issue);
    }
    expect(await inventory(stack)).toEqual(before);
  });

  it("takes the valid events of a batch, an action ACR may add too, and names the others", async () => {
    const valid = eventGridEvent(push());
    const mismatched = withData((data) => (data.action = "quarantine"));
    const added = withData((data) => (data.action = "artifact_push"));
    const response = await post(json([valid, mismatched, added]));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { accepted: number; invalid: Json[] };
    expect(body.accepted).toBe(2);
    expect(body.invalid.map((issue) => issue.path)).toEqual(["[1].data.action"]);
  });

  it("refuses a megabyte of empty events whole, in a short answer", async () => {
    const before = await inventory(stack);
    const body = `[${Array(340_000).fill("{}").join(",")}]`;
    const response = await post(body);
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text.length).toBeLessThan(1_000);
    expect(JSON.parse(text)).toMatchObject({
      error: {
        code: "invalid_events",
        details: { issues: [{ path: "(body)", message: "must hold at most 5000 events" }] },
      },
    });
    expect(await inventory(stack)).toEqual(before);
  });

  it("stores a __proto__ key of data as data, as the webhook does", async () => {
    const data = push();
    const text = json([eventGridEvent(data)]).replace(
      '"action":',
      '"__proto__":{"polluted":"yes"},"action":',
    );
    const response = await post(text);
    expect(await response.json()).toMatchObject({ accepted: 1 });
    const record = await recordEntity(deliveries, {
      registry: "myregistry.azurecr.io",
      repository: "hostile/eg",
      eventId: data.id,
      origin: "eventgrid",
    });
    expect(String(record.payload0)).toContain('"__proto__":{"polluted":"yes"}');
    expect(({} as Json).polluted).toBeUndefined();
  });
});
