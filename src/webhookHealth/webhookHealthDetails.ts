import type { RegistryAccess } from "../backfill/registryAccess";
import { isoTime } from "../core/isoTime";
import { registryKey } from "../core/registryWebhooks";
import type { RegistryHealth } from "../core/webhookHealth";

/**
 * The last verdict on each registry webhook, and on each registry's webhooks as a whole (does one
 * deliver to the bridge, can ARM be asked), checked so far; nothing before the first check.
 */
export async function webhookHealthDetails(
  registryAccess: RegistryAccess,
): Promise<Record<string, unknown>> {
  if (registryAccess.settings.resourceIds.length === 0) return {};
  const configured = new Set(registryAccess.settings.resourceIds.map(registryKey));
  // Only the registries this bridge reads now (a registry dropped from ACR_RESOURCE_IDS is gone).
  const readNow = (registryId: string) => configured.has(registryKey(registryId));
  const [allWebhooks, allRegistries] = await Promise.all([
    registryAccess.health.list(),
    registryAccess.registryHealth.list(),
  ]);
  const webhooks = allWebhooks.filter((health) => readNow(health.ref.registryId));
  const registries = allRegistries.filter((health) => readNow(health.registryId));
  return {
    ...(webhooks.length > 0 && {
      webhooks: webhooks.map((health) => ({
        registryId: health.ref.registryId,
        webhook: health.ref.name,
        status: health.healthy ? "healthy" : "unhealthy",
        reasons: health.problems,
        since: isoTime(health.since),
        checkedAt: isoTime(health.checkedAt),
      })),
    }),
    ...(registries.length > 0 && { registries: registries.map(registryDetails) }),
  };
}

function registryDetails({ registryId, verdict, unreachable }: RegistryHealth) {
  return {
    registryId,
    status: verdict === undefined ? "unknown" : verdict.healthy ? "healthy" : "unhealthy",
    reasons: verdict?.problems ?? [],
    since: isoTime(verdict?.since),
    checkedAt: isoTime(verdict?.checkedAt),
    unreachable: unreachable && {
      reason: unreachable.reason,
      since: isoTime(unreachable.since),
      checkedAt: isoTime(unreachable.checkedAt),
    },
  };
}
