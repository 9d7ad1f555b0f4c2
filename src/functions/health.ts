import { app } from "@azure/functions";
import { getRegistryAccess } from "../backfill/registryAccess";
import { getBridge } from "../bridge";
import { getOperator } from "../operator";
import { checkHealth } from "../query/checkHealth";
import { openSilenceFindings } from "../watch/silenceView";
import { webhookHealthDetails } from "../webhookHealth/webhookHealthDetails";

const bridge = getBridge();
const operator = getOperator();
const registryAccess = getRegistryAccess();

// Anonymous, so load balancers and uptime probes can call it without a key.
app.http("health", {
  route: "health",
  methods: ["GET"],
  authLevel: "anonymous",
  handler: (_request, context) =>
    checkHealth(
      context,
      {
        tableStorage: () => bridge.registries.list(),
        serviceBus: () => bridge.publisher.probe(bridge.serviceBusEntities),
      },
      async () => ({
        ...(await webhookHealthDetails(registryAccess)),
        operational: await openSilenceFindings(operator.sourceWatch),
      }),
    ),
});
