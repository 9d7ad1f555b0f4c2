import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { loadEventGridSettings } from "../config";
import { handleEventGridTrigger } from "../eventgrid/handleEventGridTrigger";

const settings = loadEventGridSettings(process.env);
const bridge = getBridge();
if (settings.trustedResourceIds.length === 0) {
  console.warn("acrEventGrid: ACR_RESOURCE_IDS is not set; every Event Grid event is rejected");
}

app.eventGrid("acrEventGrid", {
  handler: (event, context) =>
    handleEventGridTrigger(event, context, settings, {
      ...bridge,
      loginServer: settings.loginServer,
    }),
});
