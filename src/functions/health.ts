import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { getOperator } from "../operator";
import { checkHealth } from "../query/checkHealth";
import { openSilenceFindings } from "../watch/silenceView";

const bridge = getBridge();
const operator = getOperator();

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
        serviceBus: () => bridge.publisher.probe(bridge.routing.push.topic),
      },
      () => openSilenceFindings(operator.sourceWatch),
    ),
});
