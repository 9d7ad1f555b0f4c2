import {
  type Counter,
  context,
  createContextKey,
  type Meter,
  type MeterProvider,
  metrics,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { isPublishableAction } from "../core/actions";
import type { IngestResult } from "../core/ingestDelivery";
import { type DependencyResult, describeDependencyFailure } from "../core/ports";
import type { ReconcileReport } from "../core/reconcile";

/**
 * The bridge's spans and metrics. Without a registered SDK (no connection string) the
 * OpenTelemetry API is a no-op, so these cost nothing locally.
 *
 * Tracers, meters and counters are taken from the providers registered when they are used, never
 * when a module loads: one taken before the SDK registers stays a no-op for good (the distro may
 * register through its own copy of the API), so telemetry would depend on import order.
 */
export function bridgeTracer(): Tracer {
  return trace.getTracer("acr-event-bridge");
}

function createCounters(meter: Meter) {
  return {
    received: meter.createCounter("acr_bridge.deliveries.received", {
      description: "Deliveries recorded (or journaled), by action and origin",
    }),
    duplicates: meter.createCounter("acr_bridge.deliveries.duplicate", {
      description: "Repeated deliveries of an event already recorded",
    }),
    published: meter.createCounter("acr_bridge.messages.published", {
      description: "Events published to their topic, at delivery or by the re-drive",
    }),
    pending: meter.createCounter("acr_bridge.deliveries.pending", {
      description: "Deliveries left pending because the publish failed",
    }),
    recovered: meter.createCounter("acr_bridge.events.recovered", {
      description: "Lost webhooks recovered from their Event Grid twin",
    }),
    discrepancies: meter.createCounter("acr_bridge.discrepancies", {
      description: "Cross-check findings, by kind",
    }),
    dead: meter.createCounter("acr_bridge.deliveries.dead", {
      description: "Records the re-drive gave up on",
    }),
    refused: meter.createCounter("acr_bridge.deliveries.refused", {
      description: "Webhook deliveries refused (4xx), which ACR does not retry, by status and code",
    }),
  } satisfies Record<string, Counter>;
}

/** The counters of the meter provider registered now (created again if it changed). */
let instruments:
  | { provider: MeterProvider; counters: ReturnType<typeof createCounters> }
  | undefined;

function counters(): ReturnType<typeof createCounters> {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider !== provider) {
    instruments = { provider, counters: createCounters(provider.getMeter("acr-event-bridge")) };
  }
  return instruments.counters;
}

/** For `inSpan`: a dependency that did not answer fails the span. */
export function dependencyFailureOf(result: DependencyResult<unknown>): string | undefined {
  return result.ok ? undefined : describeDependencyFailure(result.failure);
}

/**
 * An action as a metric dimension: a documented one, or `unknown`. An unknown action is recorded
 * as sent (any text up to 64 characters), and each distinct one would be a metric series of its own.
 */
function actionDimension(action: string): string {
  return action === "ping" || isPublishableAction(action) ? action : "unknown";
}

/** A webhook delivery answered 4xx: lost unless its sender sends it again. */
export function countRefusal(status: number, code: string): void {
  counters().refused.add(1, { status: String(status), code });
}

export function countIngest(result: IngestResult, origin: string): void {
  if (result.conflictingFields) return;
  const { received, duplicates, published, pending } = counters();
  const attributes = { action: actionDimension(result.action), origin };
  if (result.duplicate) duplicates.add(1, attributes);
  else received.add(1, { ...attributes, journaled: result.journaled === true });
  if (!result.duplicate && result.publishState === "published" && !result.coveredBy) {
    published.add(1, attributes);
  }
  if (result.publishState === "pending" && !result.duplicate) pending.add(1, attributes);
}

export function countReconcile(report: ReconcileReport): void {
  const { recovered, published, dead, discrepancies } = counters();
  recovered.add(report.recovered);
  published.add(report.redriven + report.recovered, { origin: "reconcile" });
  dead.add(report.dead);
  for (const [kind, count] of Object.entries(report.closed)) {
    if (kind !== "matched") discrepancies.add(count, { kind });
  }
}

/** One function invocation: its request span, and what its spans learnt about the event. */
export interface InvocationScope {
  readonly span: Span;
  /** The `acr.*` attributes of the spans inside it (event id, registry...), for its log records. */
  readonly attributes: Record<string, string>;
}

const INVOCATION = createContextKey("acr-event-bridge.invocation");

export function withInvocationScope<T>(scope: InvocationScope, work: () => T): T {
  return context.with(
    trace.setSpan(context.active(), scope.span).setValue(INVOCATION, scope),
    work,
  );
}

function currentInvocationScope(): InvocationScope | undefined {
  return context.active().getValue(INVOCATION) as InvocationScope | undefined;
}

/**
 * Runs `work` in an active span, so the SDKs' own spans (Table, Service Bus) nest under it. Its
 * `acr.*` attributes also go on the invocation's request span and its log records. The span fails
 * when `work` throws, or when `failureOf` finds a failure in what it answered.
 */
export function inSpan<T>(
  name: string,
  attributes: Record<string, string | undefined>,
  work: () => Promise<T>,
  failureOf?: (value: T) => string | undefined,
): Promise<T> {
  const defined = Object.fromEntries(
    Object.entries(attributes).filter((entry): entry is [string, string] => Boolean(entry[1])),
  );
  const scope = currentInvocationScope();
  for (const [key, value] of Object.entries(defined)) {
    if (!scope || !key.startsWith("acr.")) continue;
    scope.span.setAttribute(key, value);
    scope.attributes[key] = value;
  }
  return bridgeTracer().startActiveSpan(name, { attributes: defined }, async (span) => {
    try {
      const value = await work();
      const failure = failureOf?.(value);
      if (failure) span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
      return value;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
