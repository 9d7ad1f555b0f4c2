import { app } from "@azure/functions";
import { parseEventGridBody } from "../adapters/eventGridParsing";
import { getBridge } from "../bridge";
import { loadEventGridSettings } from "../config";
import { ingestEventGridEvents } from "../eventgrid/ingestEventGridEvents";

const settings = loadEventGridSettings(process.env);
const bridge = getBridge();
if (settings.trustedResourceIds.length === 0) {
  console.warn("acrEventGrid: ACR_RESOURCE_IDS is not set; every Event Grid event is rejected");
}

// The host answers Event Grid's handshake itself and calls this once per event. Throwing makes
// the host fail the delivery so Event Grid retries it (storage down); malformed events are logged
// and dropped, since a retry cannot mend them.
app.eventGrid("acrEventGrid", {
  handler: async (event, context) => {
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
      { ...bridge, loginServer: settings.loginServer },
    );
  },
});
