import { context, metrics, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IngestResult } from "../../src/core/ingestDelivery";
import type { DependencyResult } from "../../src/core/ports";
import { startTelemetry } from "../../src/telemetry/azureMonitor";
// Loaded before any provider is registered, as in the app: telemetry must not depend on it.
import * as instruments from "../../src/telemetry/instruments";

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 60_000,
});
beforeAll(() => {
  // The Azure Monitor distro registers these in production; parent spans need a context manager.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

afterAll(() => {
  trace.disable();
  metrics.disable();
  context.disable();
});

async function counters(): Promise<
  Map<string, { attributes: Record<string, unknown>; value: number }[]>
> {
  await reader.forceFlush();
  const found = new Map<string, { attributes: Record<string, unknown>; value: number }[]>();
  for (const batch of metricExporter.getMetrics()) {
    for (const scope of batch.scopeMetrics) {
      for (const metric of scope.metrics) {
        found.set(
          metric.descriptor.name,
          metric.dataPoints.map((point) => ({
            attributes: point.attributes,
            value: point.value as number,
          })),
        );
      }
    }
  }
  return found;
}

describe("telemetry", () => {
  it("stays off without APPLICATIONINSIGHTS_CONNECTION_STRING", () => {
    expect(startTelemetry({})).toBe(false);
    expect(startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: "  " })).toBe(false);
  });

  it("traces a delivery with its record and publish spans nested under it", async () => {
    spans.reset();
    await instruments.inSpan(
      "acr.webhook.delivery",
      { "acr.event_id": "e-1", "acr.registry": undefined },
      () =>
        Promise.all([
          instruments.inSpan("table.recordDelivery", {}, async () => undefined),
          instruments.inSpan(
            "servicebus.publish",
            { "messaging.destination.name": "acr-push" },
            async () => undefined,
          ),
        ]),
    );
    const finished = spans.getFinishedSpans();
    const root = finished.find((span) => span.name === "acr.webhook.delivery");
    expect(root?.attributes).toEqual({ "acr.event_id": "e-1" });
    for (const name of ["table.recordDelivery", "servicebus.publish"]) {
      const child = finished.find((span) => span.name === name);
      expect(child?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
      expect(child?.spanContext().traceId).toBe(root?.spanContext().traceId);
    }
  });

  it("marks a failed span as an error and rethrows", async () => {
    spans.reset();
    await expect(
      instruments.inSpan("servicebus.publish", {}, async () => {
        throw new Error("broker down");
      }),
    ).rejects.toThrow("broker down");
    expect(spans.getFinishedSpans()[0].status).toEqual({
      code: SpanStatusCode.ERROR,
      message: "broker down",
    });
  });

  it("marks a span failed when its result names a dependency that did not answer", async () => {
    spans.reset();
    const failed: DependencyResult<number> = {
      ok: false,
      failure: { dependency: "table-storage", reason: "timeout" },
    };
    const succeeded: DependencyResult<number> = { ok: true, value: 1 };
    const answered = await instruments.inSpan(
      "acr.webhook.delivery",
      {},
      async () => failed,
      instruments.dependencyFailureOf,
    );
    expect(answered).toBe(failed);
    await instruments.inSpan(
      "acr.webhook.delivery",
      {},
      async () => succeeded,
      instruments.dependencyFailureOf,
    );
    expect(spans.getFinishedSpans().map((span) => span.status)).toEqual([
      { code: SpanStatusCode.ERROR, message: "table-storage unavailable: timeout" },
      { code: SpanStatusCode.UNSET },
    ]);
  });

  it("counts received, duplicate, published, pending and reconcile outcomes", async () => {
    const result = (overrides: Partial<IngestResult>): IngestResult => ({
      eventId: "e",
      action: "push",
      duplicate: false,
      deliveryCount: 1,
      publishState: "published",
      warnings: [],
      ...overrides,
    });
    instruments.countIngest(result({}), "webhook");
    instruments.countIngest(result({ publishState: "pending" }), "webhook");
    instruments.countIngest(result({ duplicate: true }), "webhook");
    instruments.countIngest(result({ coveredBy: "eventgrid" }), "webhook");
    instruments.countReconcile({
      restored: 0,
      setAside: 0,
      closed: { matched: 3, "webhook-only": 2, "eventgrid-only": 1 },
      recovered: 1,
      resolved: 0,
      held: 0,
      extended: 0,
      findingsPublished: 3,
      redriven: 4,
      redriveFailed: 0,
      dead: 1,
      gaveUp: [{ eventId: "e-1", action: "push", registry: "r.azurecr.io", reason: "refused" }],
      deferred: 0,
      errors: [],
    });
    const found = await counters();
    const total = (name: string) =>
      (found.get(name) ?? []).reduce((sum, point) => sum + point.value, 0);
    expect(total("acr_bridge.deliveries.received")).toBe(3);
    expect(total("acr_bridge.deliveries.duplicate")).toBe(1);
    expect(total("acr_bridge.deliveries.pending")).toBe(1);
    expect(total("acr_bridge.messages.published")).toBe(1 + 4 + 1);
    expect(total("acr_bridge.events.recovered")).toBe(1);
    expect(total("acr_bridge.deliveries.dead")).toBe(1);
    expect(found.get("acr_bridge.discrepancies")).toEqual(
      expect.arrayContaining([
        { attributes: { kind: "webhook-only" }, value: 2 },
        { attributes: { kind: "eventgrid-only" }, value: 1 },
      ]),
    );
  });

  // After the test above, whose totals take every origin.
  it("counts actions no registry documents under one `unknown`, so a sender cannot add series at will", async () => {
    const origin = "cardinality";
    for (const action of ["push", "ping", "retag", "x1", "x2", "x3"]) {
      instruments.countIngest(
        {
          eventId: `e-${action}`,
          action,
          duplicate: false,
          deliveryCount: 1,
          publishState: "not-routed",
          warnings: [],
        },
        origin,
      );
    }
    const received = ((await counters()).get("acr_bridge.deliveries.received") ?? []).filter(
      (point) => point.attributes.origin === origin,
    );
    expect(received.map((point) => [point.attributes.action, point.value]).sort()).toEqual([
      ["ping", 1],
      ["push", 1],
      ["unknown", 4],
    ]);
  });
});
