import { app } from "@azure/functions";
import { getRegistryAccess } from "../backfill/registryAccess";
import { getBridge } from "../bridge";
import { checkHealth } from "../query/checkHealth";

const bridge = getBridge();
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
        serviceBus: () => bridge.publisher.probe(bridge.routing.push.topic),
      },
      webhookDetails,
    ),
});

/** The last verdict on each registry webhook, when the registry side is configured. */
async function webhookDetails(): Promise<Record<string, unknown>> {
  if (registryAccess.settings.resourceIds.length === 0) return {};
  const webhooks = await registryAccess.health.list();
  return {
    webhooks: webhooks.map((health) => ({
      registryId: health.ref.registryId,
      webhook: health.ref.name,
      status: health.healthy ? "healthy" : "unhealthy",
      reasons: health.problems,
      since: new Date(health.since).toISOString(),
      checkedAt: new Date(health.checkedAt).toISOString(),
    })),
  };
}
