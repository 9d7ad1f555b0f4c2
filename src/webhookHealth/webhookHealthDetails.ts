import type { RegistryAccess } from "../backfill/registryAccess";
import { isoTime } from "../core/isoTime";

/** The last verdict on each registry webhook checked so far; nothing before the first check. */
export async function webhookHealthDetails(
  registryAccess: RegistryAccess,
): Promise<Record<string, unknown>> {
  if (registryAccess.settings.resourceIds.length === 0) return {};
  const registries = new Set(registryAccess.settings.resourceIds.map((id) => id.toLowerCase()));
  // Only the registries this bridge reads now (a registry dropped from ACR_RESOURCE_IDS is gone).
  const webhooks = (await registryAccess.health.list()).filter((health) =>
    registries.has(health.ref.registryId.toLowerCase()),
  );
  if (webhooks.length === 0) return {};
  return {
    webhooks: webhooks.map((health) => ({
      registryId: health.ref.registryId,
      webhook: health.ref.name,
      status: health.healthy ? "healthy" : "unhealthy",
      reasons: health.problems,
      since: isoTime(health.since),
      checkedAt: isoTime(health.checkedAt),
    })),
  };
}
