import { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import type { ParsedEventGridEvent } from "../../src/adapters/eventGridParsing";
import {
  handleEventGridQueueMessage,
  type IngestEvents,
} from "../../src/eventgrid/handleEventGridQueueMessage";
import type { EventGridSummary } from "../../src/eventgrid/ingestEventGridEvents";
import { outageHoldMs } from "../../src/eventgrid/settleEventGridQueueMessage";
import { acrPush, cloudEvent, eventGridEvent, RESOURCE_ID } from "../support/eventGridEvents";

const SETTINGS = { trustedResourceIds: [RESOURCE_ID] };
const FOREIGN = RESOURCE_ID.replace("myregistry", "someoneelse");

/** Counts what it is handed the way the recording does; keeps what it got for the assertions. */
function countingIngest(): IngestEvents & { handed: ParsedEventGridEvent[][] } {
  const handed: ParsedEventGridEvent[][] = [];
  const ingest = async (events: readonly ParsedEventGridEvent[]) => {
    handed.push([...events]);
    const count = (kind: string) => events.filter((event) => event.kind === kind).length;
    return summarised({
      accepted: count("registry"),
      duplicates: 0,
      ignored: count("ignored"),
      rejected: count("untrusted"),
      conflicting: 0,
    });
  };
  return Object.assign(ingest, { handed });
}

function summarised(summary: EventGridSummary) {
  return { ok: true, value: summary } as const;
}

function handle(body: unknown, ingest: IngestEvents = countingIngest()) {
  return handleEventGridQueueMessage(
    { body, messageId: "m-1" },
    "acr-eventgrid",
    new InvocationContext({ functionName: "acrEventGridQueue" }),
    SETTINGS,
    ingest,
  );
}

const push = () => eventGridEvent(acrPush("team/api"));

describe("handleEventGridQueueMessage: what a queue message becomes", () => {
  it.each([
    ["an Event Grid schema event, parsed by the extension", () => push()],
    ["an Event Grid schema event as JSON text", () => JSON.stringify(push())],
    ["an Event Grid schema event as bytes", () => Buffer.from(JSON.stringify(push()))],
    ["a CloudEvent", () => cloudEvent(acrPush("team/api"))],
    ["an array of events (taken defensively)", () => [push(), push()]],
  ])("%s is recorded and completed", async (_, body) => {
    const ingest = countingIngest();
    const outcome = await handle(body(), ingest);
    expect(outcome).toMatchObject({ kind: "complete" });
    expect(ingest.handed).toHaveLength(1);
    expect(ingest.handed[0].every((event) => event.kind === "registry")).toBe(true);
  });

  it("hands the recording a request naming the queue and the message", async () => {
    let request: unknown;
    await handle(push(), async (events, recorded) => {
      request = recorded;
      return summarised({
        accepted: events.length,
        duplicates: 0,
        ignored: 0,
        rejected: 0,
        conflicting: 0,
      });
    });
    expect(request).toEqual({ method: "SERVICEBUS", uri: "sb://acr-eventgrid/m-1", headers: {} });
  });

  it("completes an event already recorded (a redelivery)", async () => {
    const outcome = await handle(push(), async () =>
      summarised({ accepted: 0, duplicates: 1, ignored: 0, rejected: 0, conflicting: 0 }),
    );
    expect(outcome).toMatchObject({ kind: "complete" });
  });

  it("dead-letters an event whose id was recorded with other content, as ConflictingEventId", async () => {
    const outcome = await handle(push(), async () =>
      summarised({ accepted: 0, duplicates: 0, ignored: 0, rejected: 0, conflicting: 1 }),
    );
    expect(outcome).toMatchObject({ kind: "deadLetter", reason: "ConflictingEventId" });
  });

  it.each([
    ["text that is not JSON", "{not json", "NotJson"],
    ["bytes that are not JSON", Buffer.from([0xff, 0x00, 0x7b]), "NotJson"],
    [
      "an event whose bytes are not UTF-8",
      Buffer.from(JSON.stringify(push()).replace("team/api", "team/\u00ff"), "latin1"),
      "NotJson",
    ],
    ["JSON that is not an event", { hello: "world" }, "InvalidEvent"],
    ["a number", 42, "InvalidEvent"],
    ["an empty array", [], "InvalidEvent"],
  ])("dead-letters %s without recording anything", async (_, body, reason) => {
    const ingest = countingIngest();
    const outcome = await handle(body, ingest);
    expect(outcome).toMatchObject({ kind: "deadLetter", reason });
    expect(ingest.handed).toEqual([]);
  });

  it("dead-letters an event from a registry it does not trust, after the rejection is counted", async () => {
    const ingest = countingIngest();
    const outcome = await handle(eventGridEvent(acrPush("team/api"), { topic: FOREIGN }), ingest);
    expect(outcome).toEqual({
      kind: "deadLetter",
      reason: "UntrustedSource",
      description: expect.stringContaining(FOREIGN),
    });
    expect(ingest.handed[0].map((event) => event.kind)).toEqual(["untrusted"]);
  });

  it("dead-letters an event type the bridge does not take", async () => {
    const event = { ...push(), eventType: "Microsoft.Storage.BlobCreated" };
    const outcome = await handle(event);
    expect(outcome).toMatchObject({
      kind: "deadLetter",
      reason: "UnsupportedEventType",
      description: expect.stringContaining("Microsoft.Storage.BlobCreated"),
    });
  });

  it("dead-letters a subscription validation event, which Event Grid never sends to a queue", async () => {
    const validation = {
      id: "v-1",
      topic: RESOURCE_ID,
      subject: "",
      eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
      eventTime: new Date().toISOString(),
      data: { validationCode: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" },
      dataVersion: "1",
      metadataVersion: "1",
    };
    expect(await handle(validation)).toMatchObject({
      kind: "deadLetter",
      reason: "SubscriptionValidation",
    });
  });

  it("records the good events of an array and dead-letters the message for its bad one", async () => {
    const ingest = countingIngest();
    const outcome = await handle([push(), { id: "broken" }], ingest);
    expect(outcome).toMatchObject({ kind: "deadLetter", reason: "InvalidEvent" });
    expect(ingest.handed[0]).toHaveLength(1);
  });

  it("keeps the description short whatever the issues", async () => {
    const outcome = await handle(Array.from({ length: 200 }, () => ({ id: "x" })));
    expect(outcome.kind === "deadLetter" && outcome.description.length).toBe(1024);
  });

  it("abandons the message on a storage outage, so that it is redelivered", async () => {
    const failure = { dependency: "table-storage", reason: "timed out" };
    const outcome = await handle(push(), async () => ({ ok: false, failure }));
    expect(outcome).toEqual({ kind: "abandon", failure });
  });
});

describe("outageHoldMs", () => {
  it("spreads the queue's 2000 deliveries (Service Bus's most) over the day the queue keeps an event", () => {
    const MAX_DELIVERY_COUNT = 2000;
    const DAY_MS = 24 * 3600 * 1000;
    let heldMs = 0;
    for (let delivery = 1; delivery <= MAX_DELIVERY_COUNT; delivery++) {
      heldMs += outageHoldMs(delivery);
    }
    expect(heldMs).toBeGreaterThanOrEqual(DAY_MS);
  });

  it("retries a short outage at once, and never holds a message past its 1-minute lock", () => {
    expect(outageHoldMs(1)).toBe(1000);
    expect(outageHoldMs(100_000)).toBeLessThan(60_000);
  });
});
