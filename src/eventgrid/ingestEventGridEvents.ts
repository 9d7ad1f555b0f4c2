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
  for (const parsed of events) {
    if (parsed.kind === "ignored") {
      summary.ignored++;
      context.log(`event grid ${parsed.envelopeId}: type ${parsed.type} ignored`);
      continue;
    }
    if (parsed.kind === "untrusted") {
      summary.rejected++;
      context.warn(
        `event grid ${parsed.envelopeId}: ${parsed.reason} (${parsed.source ?? "no source"}) rejected`,
      );
      const noted = await whenAvailable(() =>
        deps.rejections.record({ ...parsed, at: receivedAt }),
      );
      if (!noted.ok) return noted;
      continue;
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
    const result = ingested.value;
    if (result.conflictingFields) {
      summary.conflicting++;
      context.warn(
        `event grid event ${event.eventId}: ${describeConflict(result.conflictingFields)}, refused`,
      );
      continue;
    }
    countIngest(result, "eventgrid");
    for (const warning of result.warnings) context.warn(`event ${event.eventId}: ${warning}`);
    if (result.duplicate) summary.duplicates++;
    else summary.accepted++;
  }
  return { ok: true, value: summary };
}
