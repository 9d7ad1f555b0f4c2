import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { loadWebhookSettings } from "../config";
import { handleWebhookDelivery } from "../webhook/handleWebhookDelivery";

// Read at load time: a missing or wrong setting stops the function from starting, and without a
// secret it refuses to run open.
const settings = loadWebhookSettings(process.env);
const bridge = getBridge();

app.http("acrWebhook", {
  route: "acr/webhook",
  methods: ["POST"],
  authLevel: settings.authLevel,
  handler: (request, context) => handleWebhookDelivery(request, context, { settings, ...bridge }),
});
