import { type ArmFailure, failureSummary } from "../core/registryWebhooks";
import { judge, type RegistryHealth, webhookMissingMessage } from "../core/webhookHealth";
import type { RegistryHealthStore } from "./checkWebhookHealth";
import {
  type ClaimContext,
  type ClaimedRecord,
  keepVerdict,
  resolveAndForget,
  settlePendingClaim,
} from "./claimedChange";

/** What a run learnt of a registry from ARM. */
export type RegistryOutcome =
  /** Its webhooks were listed and described: why none delivers to the bridge (empty: one does). */
  | { kind: "answered"; problems: string[] }
  /** ARM could not be asked (forbidden, throttled, down), about the registry or a webhook of it. */
  | { kind: "unreachable"; failure: ArmFailure }
  /** ARM answers 404: the registry was deleted. */
  | { kind: "not-found" }
  /** The run's time was up before each webhook was checked, and none checked delivers. */
  | { kind: "unfinished" };

function registryClaims(
  registries: RegistryHealthStore,
  registryId: string,
): ClaimedRecord<RegistryHealth> {
  return {
    verdict: (health) => health.verdict,
    withVerdict: (health, verdict) => ({ ...health, verdict }),
    write: (health, version) => registries.write(health, version),
    message: (verdict) => webhookMissingMessage(registryId, verdict),
    label: `${registryId}: webhook-missing`,
  };
}

/**
 * Keeps the registry's verdict and publishes each change of it once (`webhook-missing`, and its
 * resolution), claimed (see claimedChange): a new change waits for a later run until the one
 * claimed before it has gone out.
 *
 * Unreachable, the verdict stays as it was, marked unreachable; unfinished, it stays as it was
 * (no longer unreachable) until a run checks the webhooks left; not found, an open finding gets its resolution and the
 * registry is forgotten.
 */
export async function settleRegistryHealth(
  registryId: string,
  outcome: RegistryOutcome,
  registries: RegistryHealthStore,
  context: ClaimContext,
): Promise<void> {
  const { now } = context;
  const claims = registryClaims(registries, registryId);
  const settled = await settlePendingClaim(await registries.read(registryId), claims, context);
  if (!settled.ok) return;
  const kept = settled.value;
  const previous = kept?.value.verdict;
  switch (outcome.kind) {
    case "unreachable": {
      const unreachable = {
        reason: failureSummary(outcome.failure),
        since: kept?.value.unreachable?.since ?? now,
        checkedAt: now,
      };
      // Another run's write since is as good as this one.
      await registries.write({ registryId, ...kept?.value, unreachable }, kept?.version);
      return;
    }
    case "unfinished":
      // ARM answered, so it is no longer unreachable; the verdict waits for the webhooks left.
      if (kept?.value.unreachable) {
        await registries.write({ ...kept.value, unreachable: undefined }, kept.version);
      }
      return;
    case "not-found": {
      // The resolution is claimed on the verdict alone: what ARM said before no longer holds.
      if (kept) {
        const forget = () => registries.remove(registryId);
        await resolveAndForget(kept, { registryId }, claims, context, forget);
      }
      return;
    }
    case "answered": {
      const judged = judge(previous, outcome.problems, now);
      await keepVerdict({ registryId }, judged, kept?.version, claims, context);
      return;
    }
  }
}
