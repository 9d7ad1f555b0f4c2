import type { InvocationContext } from "@azure/functions";
import { parseEventGridBody } from "../adapters/eventGridParsing";
import type { EventGridSettings } from "../config";
import { DependencyUnavailableError } from "../core/ports";
import { type EventGridDependencies, ingestEventGridEvents } from "./ingestEventGridEvents";

/**
 * One event of the Event Grid trigger (the host answers Event Grid's handshake itself and calls
 * the function once per event). A storage failure is thrown, so that the host fails the delivery
 * and Event Grid retries it; a malformed event is logged and dropped, since a retry cannot mend it.
 */
export async function handleEventGridTrigger(
  event: unknown,
  context: InvocationContext,
  settings: EventGridSettings,
  deps: EventGridDependencies,
): Promise<void> {
  const parsed = await parseEventGridBody(event, settings);
  if (parsed.kind === "invalid") {
    context.error(`event grid event refused: ${JSON.stringify(parsed.issues)}`);
    return;
  }
  if (parsed.kind !== "events") return;
  const ingested = await ingestEventGridEvents(
    parsed.events,
    { method: "EVENTGRID", uri: "eventGridTrigger://acrEventGrid", headers: {} },
    context,
    deps,
  );
  if (!ingested.ok) {
    throw DependencyUnavailableError.of(ingested.failure);
  }
}
