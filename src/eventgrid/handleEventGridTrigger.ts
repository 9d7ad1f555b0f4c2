import type { InvocationContext } from "@azure/functions";
import { parseEventGridBody } from "../adapters/eventGridParsing";
import type { EventGridSettings } from "../config";
import { type EventGridDependencies, ingestEventGridEvents } from "./ingestEventGridEvents";

/**
 * One event of the Event Grid trigger (the host answers Event Grid's handshake itself and calls
 * the function once per event). A storage failure propagates, so that the host fails the delivery
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
  await ingestEventGridEvents(
    parsed.events,
    { method: "EVENTGRID", uri: "eventGridTrigger://acrEventGrid", headers: {} },
    context,
    deps,
  );
}
