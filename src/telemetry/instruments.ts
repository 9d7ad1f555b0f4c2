import { metrics, SpanStatusCode, trace } from "@opentelemetry/api";
import type { IngestResult } from "../core/ingestDelivery";
import type { ReconcileReport } from "../core/reconcile";

/**
 * The bridge's spans and metrics. Without a registered SDK (no connection string) the
 * OpenTelemetry API is a no-op, so these cost nothing locally.
 */
const tracer = trace.getTracer("acr-event-bridge");
const meter = metrics.getMeter("acr-event-bridge");

const received = meter.createCounter("acr_bridge.deliveries.received", {
  description: "Deliveries recorded (or journaled), by action and origin",
});
const duplicates = meter.createCounter("acr_bridge.deliveries.duplicate", {
  description: "Repeated deliveries of an event already recorded",
});
const published = meter.createCounter("acr_bridge.messages.published", {
  description: "Events published to their topic, at delivery or by the re-drive",
});
const pending = meter.createCounter("acr_bridge.deliveries.pending", {
  description: "Deliveries left pending because the publish failed",
});
const recovered = meter.createCounter("acr_bridge.events.recovered", {
  description: "Lost webhooks recovered from their Event Grid twin",
});
const discrepancies = meter.createCounter("acr_bridge.discrepancies", {
  description: "Cross-check findings, by kind",
});
const dead = meter.createCounter("acr_bridge.deliveries.dead", {
  description: "Records the re-drive gave up on",
});

export function countIngest(result: IngestResult, origin: string): void {
  const attributes = { action: result.action, origin };
  if (result.duplicate) duplicates.add(1, attributes);
  else received.add(1, { ...attributes, journaled: result.journaled === true });
  if (!result.duplicate && result.publishState === "published" && !result.coveredBy) {
    published.add(1, attributes);
  }
  if (result.publishState === "pending" && !result.duplicate) pending.add(1, attributes);
}

export function countReconcile(report: ReconcileReport): void {
  recovered.add(report.recovered);
  published.add(report.redriven + report.recovered, { origin: "reconcile" });
  dead.add(report.dead);
  for (const [kind, count] of Object.entries(report.closed)) {
    if (kind !== "matched") discrepancies.add(count, { kind });
  }
}

/** Runs `work` in an active span, so the SDKs' own spans (Table, Service Bus) nest under it. */
export function inSpan<T>(
  name: string,
  attributes: Record<string, string | undefined>,
  work: () => Promise<T>,
): Promise<T> {
  const defined = Object.fromEntries(Object.entries(attributes).filter(([, value]) => value));
  return tracer.startActiveSpan(name, { attributes: defined }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
