import type { RegistryAccess } from "../backfill/registryAccess";

/** The last verdict on each registry webhook, when the registry side is configured. */
export async function webhookHealthDetails(
  registryAccess: RegistryAccess,
): Promise<Record<string, unknown>> {
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
