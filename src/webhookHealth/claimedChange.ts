import { describeError } from "../core/describeError";
import type { Result } from "../core/result";
import type { TopicMessage } from "../core/topicMessage";
import {
  type ClaimedVerdict,
  type HealthChange,
  type HealthVerdict,
  healthyVerdict,
} from "../core/webhookHealth";
import type { FindingWrite, Versioned } from "../core/writePlan";
import type { WebhookHealthReport } from "./checkWebhookHealth";

/** Longer than a run can last (host.json's `functionTimeout` is 2 minutes). */
const CLAIM_LEASE_MS = 5 * 60_000;

/**
 * A kept record holding a verdict (a webhook's, or a registry's as a whole) whose changes are
 * published once across concurrent runs: a run claims a change by writing it at the version it
 * read and publishes only what it claimed.
 */
export interface ClaimedRecord<T> {
  verdict(record: T): ClaimedVerdict | undefined;
  /** The record with `verdict` in place of its own. */
  withVerdict(record: T, verdict: ClaimedVerdict): T;
  /** Writes over the record as read at `version` (undefined: there was none), and only over that. */
  write(record: T, version: string | undefined): Promise<FindingWrite>;
  message(verdict: HealthVerdict): TopicMessage;
  /** What the change is about, for the run's errors: `<registry id>: webhook-missing`. */
  label: string;
}

export interface ClaimContext {
  publish(message: TopicMessage): Promise<void>;
  now: number;
  report: WebhookHealthReport;
}

/**
 * Settles a change claimed before and not yet published, so an opening always goes out before its
 * resolution: its claimer's while that run may still be going (`CLAIM_LEASE_MS`: `claimed`, this
 * run leaves the record alone), published (under the same message id) by the first run after.
 * The record as it now stands, or a failure when this run must leave it.
 */
export async function settlePendingClaim<T>(
  kept: Versioned<T> | undefined,
  claims: ClaimedRecord<T>,
  context: ClaimContext,
): Promise<Result<Versioned<T> | undefined, "claimed" | "not-published">> {
  const pending = kept && claims.verdict(kept.value);
  if (!kept || !pending || pending.published !== false) return { ok: true, value: kept };
  if (context.now - (pending.claimedAt ?? 0) < CLAIM_LEASE_MS) {
    context.report.notClaimed++;
    return { ok: false, failure: "claimed" };
  }
  const published = await publishClaimed(kept.value, pending, kept.version, claims, context);
  return published ? { ok: true, value: published } : { ok: false, failure: "not-published" };
}

/**
 * Claims the change (`verdict`, written unpublished into `record` at `version`), publishes it and
 * marks it published; undefined when another run claimed it first or the publish failed (it
 * stays claimed, so a run after the lease publishes it again, under the same message id).
 */
async function publishClaimed<T>(
  record: T,
  verdict: HealthVerdict,
  version: string | undefined,
  claims: ClaimedRecord<T>,
  { publish, now, report }: ClaimContext,
): Promise<Versioned<T> | undefined> {
  const claimed = claims.withVerdict(record, { ...verdict, published: false, claimedAt: now });
  const claim = await claims.write(claimed, version);
  if (!claim.ok) {
    report.notClaimed++;
    return undefined;
  }
  try {
    await publish(claims.message(verdict));
  } catch (error) {
    const what = verdict.healthy ? "resolution" : "finding";
    report.errors.push(`${claims.label} ${what} not published: ${describeError(error)}`);
    return undefined;
  }
  if (verdict.healthy) report.resolved++;
  else report.findingsPublished++;
  const marked = claims.withVerdict(record, { ...verdict, published: true, claimedAt: undefined });
  const written = await claims.write(marked, claim.value);
  return written.ok ? { value: marked, version: written.value } : undefined;
}

/**
 * Keeps the verdict a run reached (`judge`) in `record`: unchanged, written over the record as
 * read at `version` (another run's write since is as good as this one); changed, claimed and
 * published (`publishClaimed`).
 */
export async function keepVerdict<T>(
  record: T,
  { verdict, change }: { verdict: HealthVerdict; change: HealthChange },
  version: string | undefined,
  claims: ClaimedRecord<T>,
  context: ClaimContext,
): Promise<void> {
  if (change === "unchanged") {
    await claims.write(claims.withVerdict(record, { ...verdict, published: true }), version);
  } else {
    await publishClaimed(record, verdict, version, claims, context);
  }
}

/**
 * Forgets the record of what is gone (a webhook or registry deleted, a registry no longer
 * configured): an open finding about it gets its resolution (claimed, `record` with it in place)
 * before `forget` runs, so no alert waits on it forever. False when the resolution did not go
 * out: the record is kept, and a later run resolves it.
 */
export async function resolveAndForget<T>(
  kept: Versioned<T>,
  record: T,
  claims: ClaimedRecord<T>,
  context: ClaimContext,
  forget: () => Promise<void>,
): Promise<boolean> {
  if (claims.verdict(kept.value)?.healthy === false) {
    const resolution = healthyVerdict(context.now);
    if (!(await publishClaimed(record, resolution, kept.version, claims, context))) return false;
  }
  await forget();
  return true;
}
