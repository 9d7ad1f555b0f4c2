import type { InvocationContext } from "@azure/functions";
import type { ParsedEventGridEvent } from "../adapters/eventGridParsing";
import type { CrossCheckSettings } from "../config";
import type { RecordedRequest } from "../core/deliveryRecord";
import { registryEventFromEventGrid } from "../core/eventGridEvent";
import { type IngestPorts, ingestDelivery } from "../core/ingestDelivery";
import type { RejectionLog } from "../core/ports";
import { type RoutingTable, routeForEvent } from "../core/routing";
import { countIngest, inSpan } from "../telemetry/instruments";

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
}

/**
 * Records each trusted ACR event (idempotent on its id: Event Grid sends duplicates) and notes it
 * for the cross-check; counts the rest. A storage failure propagates so Event Grid retries.
 */
export async function ingestEventGridEvents(
  events: readonly ParsedEventGridEvent[],
  request: RecordedRequest,
  context: InvocationContext,
  deps: EventGridDependencies,
): Promise<EventGridSummary> {
  const summary: EventGridSummary = { accepted: 0, duplicates: 0, ignored: 0, rejected: 0 };
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
      await deps.rejections.record({ ...parsed, at: receivedAt });
      continue;
    }
    const event = registryEventFromEventGrid(parsed, { configuredLoginServer: deps.loginServer });
    const result = await inSpan(
      "acr.eventgrid.delivery",
      { "acr.event_id": event.eventId, "acr.action": event.action, "acr.registry": event.registry },
      () =>
        ingestDelivery(
          { event, route: routeForEvent(event, deps.routing), receivedAt, request },
          { ...deps, windowMs: deps.crossCheckSettings.windowMs },
        ),
    );
    countIngest(result, "eventgrid");
    for (const warning of result.warnings) context.warn(`event ${event.eventId}: ${warning}`);
    if (result.duplicate) summary.duplicates++;
    else summary.accepted++;
  }
  return summary;
}
