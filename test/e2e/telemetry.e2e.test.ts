import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckedMessage, servedCatalogChecker } from "../support/catalogConformance";
import { acrPush, eventGridEvent, postEventGrid, RESOURCE_ID } from "../support/eventGridEvents";
import {
  type Envelope,
  type IngestionCapture,
  startIngestionCapture,
} from "../support/ingestionCapture";
import { type LocalStack, startLocalStack, TEST_SECRET } from "../support/localStack";
import { runReconcile, sleep } from "../support/reconcile";
import { deliverWebhook, postWebhookJson } from "../support/webhookClient";

const EVENTGRID_SECRET = "e2e-telemetry-eventgrid-secret";
const WINDOW_SECONDS = 1;

describe("telemetry reaches Azure Monitor (a TLS capture of the ingestion endpoint)", () => {
  const dir = mkdtempSync(join(tmpdir(), "acr-bridge-telemetry-"));
  let capture: IngestionCapture;
  let stack: LocalStack;
  const pushed = acrPush("team/telemetry");
  const lost = acrPush("team/telemetry-lost");
  const pendingPush = acrPush("team/telemetry-pending");
  // Its topic does not exist: Service Bus refuses it, and the re-drive gives up on it.
  const refused = { ...acrPush("team/telemetry-refused"), action: "quarantine" };
  let hostOutput = "";
  let published: CheckedMessage[] = [];
  let catalogMismatches: (message: CheckedMessage) => string[] = () => ["not checked"];

  beforeAll(async () => {
    capture = await startIngestionCapture(dir);
    stack = await startLocalStack({
      ownTables: true,
      env: {
        ...capture.hostSettings(),
        CROSSCHECK_WINDOW_SECONDS: String(WINDOW_SECONDS),
        EVENTGRID_SECRETS: EVENTGRID_SECRET,
        ACR_RESOURCE_IDS: RESOURCE_ID,
        PUBLISH_TIMEOUT_MS: "500",
        REDRIVE_MAX_ATTEMPTS: "1",
        REDRIVE_BASE_DELAY_SECONDS: "1",
        RECONCILE_SCHEDULE: "0 0 0 1 1 *",
        TOPIC_QUARANTINE: "acr-missing",
      },
    });
    await deliverWebhook(stack, pushed);
    await deliverWebhook(stack, pushed); // a duplicate
    const egResponse = await postEventGrid(stack, [eventGridEvent(lost)], EVENTGRID_SECRET);
    expect(egResponse.status).toBeLessThan(300);
    await deliverWebhook(stack, refused); // recorded, publish pending
    const invalid = await postWebhookJson(stack, { ...acrPush("team/telemetry-invalid"), id: 5 });
    expect(invalid.status).toBe(400);
    await sleep(WINDOW_SECONDS * 1000 + 100);
    // Recovers `lost`, reports both one-sided events, and gives up on `refused`.
    await runReconcile(stack);
    published = ["acr-push", "acr-discrepancies"].flatMap((topic) =>
      stack.broker().messages(topic, "all"),
    );
    catalogMismatches = (await servedCatalogChecker(stack.url)).mismatches;
    await stack.stopBroker();
    await deliverWebhook(stack, pendingPush); // recorded, publish pending
    await sleep(1_100);
    await runReconcile(stack); // the re-drive fails: Service Bus is down, it stays pending
    // A graceful stop flushes what the exporters still hold (metrics export once a minute).
    await stack.stopHost("SIGTERM");
    hostOutput = stack.output();
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await capture?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ofType = (baseType: string) =>
    capture.envelopes().filter((envelope) => envelope.data.baseType === baseType);
  const property = (envelope: Envelope, name: string) => envelope.data.baseData.properties?.[name];
  const operation = (envelope: Envelope) => envelope.tags?.["ai.operation.id"];

  it("a request per delivery, named by its route, carrying the event id", () => {
    const [webhookRequests, refusedRequests] = partition(
      ofType("RequestData").filter(
        (request) => request.data.baseData.name === "POST /api/acr/webhook",
      ),
      (request) => property(request, "acr.event_id") !== undefined,
    );
    expect(webhookRequests.map((request) => property(request, "acr.event_id")).sort()).toEqual(
      [pushed.id, pushed.id, refused.id, pendingPush.id].sort(),
    );
    // The one refused before it named an event.
    expect(refusedRequests.map((request) => request.data.baseData.responseCode)).toEqual(["400"]);
    for (const request of webhookRequests) {
      expect(request.data.baseData.responseCode).toBe("200");
      expect(request.data.baseData.url).not.toContain("?");
    }
    const eventGridRequest = ofType("RequestData").find(
      (request) => request.data.baseData.name === "POST /api/eventgrid",
    );
    expect(eventGridRequest && property(eventGridRequest, "acr.event_id")).toBe(lost.id);
    expect(eventGridRequest?.data.baseData.url).not.toContain(EVENTGRID_SECRET);
  });

  it("every message carries its publish's trace context, as the catalog documents it", () => {
    expect(published.length).toBeGreaterThanOrEqual(3);
    for (const message of published) {
      expect(message.applicationProperties["Diagnostic-Id"]).toMatch(
        /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/,
      );
    }
    expect(published.map(catalogMismatches)).toEqual(published.map(() => []));
  });

  it("Table Storage and Service Bus calls are dependencies of the delivery that made them", () => {
    const [first] = ofType("RequestData").filter(
      (request) => property(request, "acr.event_id") === pushed.id,
    );
    const dependencies = ofType("RemoteDependencyData").filter(
      (dependency) => operation(dependency) === operation(first),
    );
    const types = new Set(dependencies.map((dependency) => String(dependency.data.baseData.type)));
    expect([...types].some((type) => type.includes("Microsoft.Data.Tables"))).toBe(true);
    expect(
      dependencies.some((dependency) => dependency.data.baseData.name === "ServiceBusSender.send"),
    ).toBe(true);
    expect(types).toContain("Queue Message");
  });

  it("each of the bridge's counters arrives with its dimensions", () => {
    const points = ofType("MetricData").flatMap((envelope) =>
      (envelope.data.baseData.metrics as { name: string; value: number }[]).map((metric) => ({
        name: metric.name,
        value: metric.value,
        dimensions: envelope.data.baseData.properties ?? {},
      })),
    );
    const find = (name: string, dimensions: Record<string, string>) =>
      points.find(
        (point) =>
          point.name === name &&
          expect.objectContaining(dimensions).asymmetricMatch(point.dimensions),
      );
    expect(
      find("acr_bridge.deliveries.received", {
        action: "push",
        origin: "webhook",
        journaled: "false",
      })?.value,
    ).toBe(2);
    expect(
      find("acr_bridge.deliveries.received", { action: "push", origin: "eventgrid" })?.value,
    ).toBe(1);
    expect(
      find("acr_bridge.deliveries.duplicate", { action: "push", origin: "webhook" })?.value,
    ).toBe(1);
    expect(
      find("acr_bridge.messages.published", { action: "push", origin: "webhook" })?.value,
    ).toBe(1);
    expect(find("acr_bridge.messages.published", { origin: "reconcile" })?.value).toBe(1);
    expect(
      find("acr_bridge.deliveries.pending", { action: "push", origin: "webhook" })?.value,
    ).toBe(1);
    expect(find("acr_bridge.events.recovered", {})?.value).toBe(1);
    expect(find("acr_bridge.discrepancies", { kind: "eventgrid-only" })?.value).toBe(1);
    expect(
      find("acr_bridge.discrepancies", { kind: "webhook-only" })?.value,
    ).toBeGreaterThanOrEqual(1);
    expect(find("acr_bridge.deliveries.dead", {})?.value).toBe(1);
    expect(
      find("acr_bridge.deliveries.refused", { status: "400", code: "invalid_payload" })?.value,
    ).toBe(1);
  });

  it("a refused delivery, which ACR does not send again, is logged as a warning naming why", () => {
    expect(hostOutput).toMatch(
      /\[warning\].*webhook refused: 400 invalid_payload: the body is not an ACR webhook event \(id: [^\n]*expected string/,
    );
  });

  it("log records arrive as structured traces with the event id, under their request", () => {
    const logs = ofType("MessageData").filter(
      (message) => property(message, "acr.event_id") === pendingPush.id,
    );
    expect(logs.length).toBeGreaterThan(0);
    const [request] = ofType("RequestData").filter(
      (candidate) => property(candidate, "acr.event_id") === pendingPush.id,
    );
    for (const log of logs) {
      expect(operation(log)).toBe(operation(request));
      expect(property(log, "faas.name")).toBe("acrWebhook");
    }
    expect(logs.map((log) => log.data.baseData.severityLevel)).toContain("Warning");
  });

  it("never sends a secret, and the SDK's baseUri deprecation stays out of the log", () => {
    expect(capture.rawBodies().length).toBeGreaterThan(0);
    for (const body of capture.rawBodies()) {
      expect(body).not.toContain(TEST_SECRET);
      expect(body).not.toContain(EVENTGRID_SECRET);
    }
    expect(hostOutput).not.toContain("baseUri option");
    expect(hostOutput).not.toMatch(/loopback-only: refused a connection to (?!169\.254\.169\.254)/);
  });
});

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
}
