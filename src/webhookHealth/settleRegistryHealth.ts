import { describeError } from "../core/describeError";
import { type ArmFailure, failureSummary } from "../core/registryWebhooks";
import {
  healthChange,
  type RegistryHealth,
  type RegistryVerdict,
  webhookMissingMessage,
} from "../core/webhookHealth";
import type { Versioned } from "../core/writePlan";
import type { WebhookHealthDependencies, WebhookHealthReport } from "./checkWebhookHealth";

/** What a run learnt of a registry from ARM. */
export type RegistryOutcome =
  /** Its webhooks were listed and described: why none delivers to the bridge (empty: one does). */
  | { kind: "answered"; problems: string[] }
  /** ARM could not be asked (forbidden, throttled, down), about the registry or a webhook of it. */
  | { kind: "unreachable"; failure: ArmFailure }
  /** ARM answers 404: the registry was deleted. */
  | { kind: "not-found" };

type Deps = Pick<WebhookHealthDependencies, "registries" | "publish">;

/** Longer than a run can last (host.json's `functionTimeout` is 2 minutes). */
const CLAIM_LEASE_MS = 5 * 60_000;

/**
 * Keeps the registry's verdict and publishes each change of it once (`webhook-missing`, and its
 * resolution). A run claims a change by writing it at the version it read and publishes only what
 * it claimed, so of concurrent runs one publishes it. A change claimed and not yet marked
 * published is its claimer's while that run may still be going (`CLAIM_LEASE_MS`), and goes out
 * first after (its publish failed, its run ended), so an opening always goes out before its
 * resolution; a new change waits for a later run until it has.
 *
 * Unreachable, the verdict stays as it was, marked unreachable; not found, an open finding gets its
 * resolution and the registry is forgotten.
 */
export async function settleRegistryHealth(
  registryId: string,
  outcome: RegistryOutcome,
  deps: Deps,
  now: number,
  report: WebhookHealthReport,
): Promise<void> {
  let kept = await deps.registries.read(registryId);
  const pending = kept?.value.verdict;
  if (kept && pending && !pending.published) {
    // Its claimer may be publishing it still: the next run after the lease takes it over.
    if (now - (pending.claimedAt ?? 0) < CLAIM_LEASE_MS) {
      report.notClaimed++;
      return;
    }
    const health = { ...kept.value, verdict: pending };
    kept = await publishClaimed(health, kept.version, deps, now, report);
    if (!kept) return;
  }
  const previous = kept?.value.verdict;
  switch (outcome.kind) {
    case "unreachable": {
      const unreachable = {
        reason: failureSummary(outcome.failure),
        since: kept?.value.unreachable?.since ?? now,
        checkedAt: now,
      };
      // Another run's write since is as good as this one.
      await deps.registries.write({ registryId, ...kept?.value, unreachable }, kept?.version);
      return;
    }
    case "not-found": {
      if (!kept) return;
      if (previous && !previous.healthy) {
        const resolution = { registryId, verdict: healthyVerdict(now) };
        kept = await publishClaimed(resolution, kept.version, deps, now, report);
        if (!kept) return;
      }
      await deps.registries.remove(registryId);
      return;
    }
    case "answered": {
      const { problems } = outcome;
      const change = healthChange(previous, problems);
      const verdict: RegistryVerdict = {
        healthy: problems.length === 0,
        problems,
        since: change === "unchanged" ? (previous?.since ?? now) : now,
        checkedAt: now,
        published: change === "unchanged",
      };
      if (change === "unchanged") {
        await deps.registries.write({ registryId, verdict }, kept?.version);
      } else {
        await publishClaimed({ registryId, verdict }, kept?.version, deps, now, report);
      }
      return;
    }
  }
}

function healthyVerdict(now: number): RegistryVerdict {
  return { healthy: true, problems: [], since: now, checkedAt: now, published: false };
}

/**
 * Claims the change (written unpublished at `version`), publishes it and marks it published;
 * undefined when another run claimed it first or the publish failed (it stays claimed, so a run
 * after the lease publishes it again, under the same message id).
 */
async function publishClaimed(
  health: RegistryHealth & { verdict: RegistryVerdict },
  version: string | undefined,
  deps: Deps,
  now: number,
  report: WebhookHealthReport,
): Promise<Versioned<RegistryHealth> | undefined> {
  const { registryId, verdict } = health;
  const claim = await deps.registries.write(
    { ...health, verdict: { ...verdict, published: false, claimedAt: now } },
    version,
  );
  if (!claim.ok) {
    report.notClaimed++;
    return undefined;
  }
  try {
    await deps.publish(webhookMissingMessage(registryId, verdict));
  } catch (error) {
    const what = verdict.healthy ? "resolution" : "finding";
    report.errors.push(
      `${registryId}: webhook-missing ${what} not published: ${describeError(error)}`,
    );
    return undefined;
  }
  if (verdict.healthy) report.resolved++;
  else report.findingsPublished++;
  const marked = { ...health, verdict: { ...verdict, published: true, claimedAt: undefined } };
  const written = await deps.registries.write(marked, claim.value);
  return written.ok ? { value: marked, version: written.value } : undefined;
}
