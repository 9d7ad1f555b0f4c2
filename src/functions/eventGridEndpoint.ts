import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { loadEventGridEndpointSettings } from "../config";
import { handleEventGridRequest } from "../eventgrid/handleEventGridRequest";

const settings = loadEventGridEndpointSettings(process.env);
const bridge = getBridge();
if (settings.secrets.length === 0) {
  console.warn("eventGridEndpoint: EVENTGRID_SECRETS is not set; every request is refused (401)");
}

app.http("eventGridEndpoint", {
  route: "eventgrid",
  methods: ["POST", "OPTIONS"],
  authLevel: "anonymous",
  handler: (request, context) =>
    handleEventGridRequest(request, context, settings, {
      ...bridge,
      loginServer: settings.loginServer,
    }),
});
