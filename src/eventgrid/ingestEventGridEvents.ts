import type { InvocationContext } from "@azure/functions";
import type { ParsedEventGridEvent } from "../adapters/eventGridParsing";
import type { CrossCheckSettings } from "../config";
import type { RecordedRequest } from "../core/deliveryRecord";
import { registryEventFromEventGrid } from "../core/eventGridEvent";
import { describeConflict, type IngestPorts, ingestDelivery } from "../core/ingestDelivery";
import { type DependencyResult, type RejectionLog, whenAvailable } from "../core/ports";
import { type RoutingTable, routeForEvent } from "../core/routing";
import { countIngest, dependencyFailureOf, inSpan } from "../telemetry/instruments";

export interface EventGridDependencies extends Omit<IngestPorts, "windowMs"> {
  routing: RoutingTable;
  crossCheckSettings: CrossCheckSettings;
  rejections: RejectionLog;
  loginServer?: string;
}

export interface EventGridSummary {
  accepted: number;
  duplicates: number;
  ignored: number;
  rejected: number;
  /** Events whose id was recorded with other content: refused, nothing written. */
  conflicting: number;
}

/**
 * Events of one batch recorded at the same time, as many as a Flex Consumption instance takes
 * HTTP requests at once: they share Table transactions and Service Bus batches (group commit),
 * so a batch of hundreds answers within Event Grid's 30 s, without queueing so many calls that
 * they run past `TABLES_TIMEOUT_MS`.
 */
const EVENTS_IN_FLIGHT = 16;

/**
 * Records each trusted ACR event (idempotent on its id: Event Grid sends duplicates) and notes it
 * for the cross-check; counts the rest. Stops at a dependency that did not answer and returns it,
 * so that Event Grid retries the batch.
 */
export async function ingestEventGridEvents(
  events: readonly ParsedEventGridEvent[],
  request: RecordedRequest,
  context: InvocationContext,
  deps: EventGridDependencies,
): Promise<DependencyResult<EventGridSummary>> {
  const summary: EventGridSummary = {
    accepted: 0,
    duplicates: 0,
    ignored: 0,
    rejected: 0,
    conflicting: 0,
  };
  const receivedAt = Date.now();
  for (let start = 0; start < events.length; start += EVENTS_IN_FLIGHT) {
    const outcomes = await Promise.all(
      events
        .slice(start, start + EVENTS_IN_FLIGHT)
        .map((parsed) => ingestEvent(parsed, receivedAt, request, context, deps)),
    );
    for (const outcome of outcomes) {
      if (!outcome.ok) return outcome;
      summary[outcome.value]++;
    }
  }
  return { ok: true, value: summary };
}

/** One event of a batch: which count of the summary it adds to. */
async function ingestEvent(
  parsed: ParsedEventGridEvent,
  receivedAt: number,
  request: RecordedRequest,
  context: InvocationContext,
  deps: EventGridDependencies,
): Promise<DependencyResult<keyof EventGridSummary>> {
  if (parsed.kind === "ignored") {
    context.log(`event grid ${parsed.envelopeId}: type ${parsed.type} ignored`);
    return { ok: true, value: "ignored" };
  }
  if (parsed.kind === "untrusted") {
    context.warn(
      `event grid ${parsed.envelopeId}: ${parsed.reason} (${parsed.source ?? "no source"}${parsed.host === undefined ? "" : `, host ${parsed.host}`}) rejected`,
    );
    const noted = await whenAvailable(() => deps.rejections.record({ ...parsed, at: receivedAt }));
    return noted.ok ? { ok: true, value: "rejected" } : noted;
  }
  const event = registryEventFromEventGrid(parsed, { configuredLoginServer: deps.loginServer });
  const ingested = await inSpan(
    "acr.eventgrid.delivery",
    { "acr.event_id": event.eventId, "acr.action": event.action, "acr.registry": event.registry },
    () =>
      ingestDelivery(
        { event, route: routeForEvent(event, deps.routing), receivedAt, request },
        { ...deps, windowMs: deps.crossCheckSettings.windowMs },
      ),
    dependencyFailureOf,
  );
  if (!ingested.ok) return ingested;
  deps.journal.storeAnswered();
  const result = ingested.value;
  if (result.conflictingFields) {
    context.warn(
      `event grid event ${event.eventId}: ${describeConflict(result.conflictingFields)}, refused`,
    );
    return { ok: true, value: "conflicting" };
  }
  countIngest(result, "eventgrid");
  for (const warning of result.warnings) context.warn(`event ${event.eventId}: ${warning}`);
  return { ok: true, value: result.duplicate ? "duplicates" : "accepted" };
}
