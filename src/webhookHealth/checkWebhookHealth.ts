import { describeError } from "../core/describeError";
import {
  type ArmFailure,
  describeFailure,
  type RegistryWebhooks,
  registryKey,
  type WebhookConfiguration,
  type WebhookRef,
  webhookKey,
  webhookPath,
} from "../core/registryWebhooks";
import type { TopicMessage } from "../core/topicMessage";
import {
  configurationProblems,
  isEnabled,
  isMissingPingProblem,
  judge,
  missingPingProblem,
  type OutstandingPing,
  pingVerdict,
  type RegistryHealth,
  registryWebhookProblems,
  type WebhookExpectations,
  type WebhookHealth,
  webhookHealthMessage,
} from "../core/webhookHealth";
import type { FindingWrite, Versioned } from "../core/writePlan";
import {
  type ClaimContext,
  type ClaimedRecord,
  keepVerdict,
  resolveAndForget,
  settlePendingClaim,
} from "./claimedChange";
import { type RegistryOutcome, settleRegistryHealth } from "./settleRegistryHealth";

export interface WebhookHealthStore {
  read(ref: WebhookRef): Promise<Versioned<WebhookHealth> | undefined>;
  /**
   * Writes over the webhook's health as read at `version` (undefined: there was none), and only
   * over that: of concurrent runs that decided the same change, one claims it.
   */
  write(health: WebhookHealth, version: string | undefined): Promise<FindingWrite>;
  /** Every verdict kept, of every registry. */
  list(): Promise<WebhookHealth[]>;
  remove(ref: WebhookRef): Promise<void>;
}

export interface RegistryHealthStore {
  read(registryId: string): Promise<Versioned<RegistryHealth> | undefined>;
  /**
   * Writes over the registry's health as read at `version` (undefined: there was none), and only
   * over that: of concurrent runs that decided the same change, one claims it.
   */
  write(health: RegistryHealth, version: string | undefined): Promise<FindingWrite>;
  remove(registryId: string): Promise<void>;
  /** Every registry kept. */
  list(): Promise<RegistryHealth[]>;
}

export interface WebhookHealthDependencies {
  registryIds: readonly string[];
  webhooks: RegistryWebhooks;
  store: WebhookHealthStore;
  registries: RegistryHealthStore;
  isPingRecorded(eventId: string): Promise<boolean>;
  /** Publishes on `acr-discrepancies`. */
  publish(message: TopicMessage): Promise<void>;
  expectations: WebhookExpectations;
  pingTimeoutMs: number;
  /** How long a run goes on beginning checks and pings (`CHECKS_BEGUN_WITHIN_MS`). */
  checksBegunWithinMs: number;
}

export interface WebhookHealthReport {
  checked: number;
  unhealthy: { registryId: string; webhook: string; reasons: string[] }[];
  /** Registries none of whose webhooks delivers to the bridge. */
  uncovered: { registryId: string; reasons: string[] }[];
  /** Registries ARM could not be asked about (see `errors`): their verdicts are kept. */
  unreachable: string[];
  /** Registries ARM answers 404 for: their verdicts are dropped, their open findings resolved. */
  notFound: string[];
  /** Registries checked before and no longer in `ACR_RESOURCE_IDS`: handled as not found. */
  unconfigured: string[];
  findingsPublished: number;
  resolved: number;
  pinged: number;
  /** Webhooks checked before that ARM no longer lists: their verdicts are dropped. */
  deleted: string[];
  /** Changes (of a webhook's verdict or a registry's) another run claimed first, and publishes. */
  notClaimed: number;
  errors: string[];
}

/**
 * Checks each webhook's configuration, settles the ping sent by the previous run (arrived in the
 * bridge's records, still within the timeout, or missing), sends the next ping, and publishes a
 * `webhook-unhealthy` finding when a webhook turns unhealthy (a resolution when it recovers); and
 * for each registry, a `webhook-missing` finding when none of its webhooks delivers to the bridge.
 */
export async function checkWebhookHealth(
  deps: WebhookHealthDependencies,
  now: number,
  options: { ping: boolean } = { ping: true },
): Promise<WebhookHealthReport> {
  const report: WebhookHealthReport = {
    checked: 0,
    unhealthy: [],
    uncovered: [],
    unreachable: [],
    notFound: [],
    unconfigured: [],
    findingsPublished: 0,
    resolved: 0,
    pinged: 0,
    deleted: [],
    notClaimed: 0,
    errors: [],
  };
  const startedAt = Date.now();
  const kept = await readKept(deps, report);
  // What is begun by then ends within the function's timeout, ARM hanging or not.
  const pace = runPace(deps, kept, () => Date.now() - startedAt >= deps.checksBegunWithinMs);
  const listed = new Map<string, readonly WebhookRef[]>();
  for (const registryId of pace.registries) {
    if (pace.timeUp()) {
      report.errors.push(`${registryId}: not checked, the run's time is up`);
      continue;
    }
    try {
      const outcome = await checkRegistry(
        registryId,
        deps,
        now,
        options.ping,
        report,
        listed,
        pace,
      );
      await settleRegistryHealth(
        registryId,
        outcome,
        deps.registries,
        claimContext(deps, now, report),
      );
    } catch (error) {
      report.errors.push(`${registryId}: ${describeError(error)}`);
    }
  }
  if (kept) await forgetGone(kept, listed, deps, now, report);
  return report;
}

/** The verdicts kept, read once a run: the order it checks in, and what is kept of what is gone. */
interface Kept {
  webhooks: WebhookHealth[];
  registries: RegistryHealth[];
}

async function readKept(
  deps: WebhookHealthDependencies,
  report: WebhookHealthReport,
): Promise<Kept | undefined> {
  try {
    const [webhooks, registries] = await Promise.all([deps.store.list(), deps.registries.list()]);
    return { webhooks, registries };
  } catch (error) {
    report.errors.push(
      `kept verdicts not read, registries no longer configured and deleted webhooks not forgotten: ${describeError(error)}`,
    );
    return undefined;
  }
}

/** How a run spends its time. */
interface RunPace {
  /** Once true, the run begins no more of ARM's work (`CHECKS_BEGUN_WITHIN_MS`). */
  timeUp(): boolean;
  /** The configured registries, in the order they are checked. */
  registries: string[];
  /** A registry's webhooks, in the order they are checked. */
  webhooks(refs: readonly WebhookRef[]): WebhookRef[];
}

/**
 * Registries and webhooks never checked first, then those checked longest ago: a run whose time
 * is up leaves those it had no time for to the next, and none is left behind for good.
 */
function runPace(
  deps: WebhookHealthDependencies,
  kept: Kept | undefined,
  timeUp: () => boolean,
): RunPace {
  const webhooksChecked = new Map(
    kept?.webhooks.map((health) => [webhookMatch(health.ref), health.checkedAt]),
  );
  const registriesChecked = new Map(
    kept?.registries.map((health) => [registryKey(health.registryId), lastChecked(health)]),
  );
  return {
    timeUp,
    registries: oldestFirst(deps.registryIds, (id) => registriesChecked.get(registryKey(id))),
    webhooks: (refs) => oldestFirst(refs, (ref) => webhooksChecked.get(webhookMatch(ref))),
  };
}

function oldestFirst<T>(items: readonly T[], checkedAt: (item: T) => number | undefined): T[] {
  return [...items].sort((a, b) => (checkedAt(a) ?? 0) - (checkedAt(b) ?? 0));
}

/** When ARM last answered for the registry, or failed to. */
function lastChecked(health: RegistryHealth): number {
  return Math.max(health.verdict?.checkedAt ?? 0, health.unreachable?.checkedAt ?? 0);
}

/** What a run matches a webhook by. */
function webhookMatch(ref: WebhookRef): string {
  const { registry, name } = webhookKey(ref);
  return `${registry}|${name}`;
}

/** Forgets registries no longer configured and webhooks deleted. */
async function forgetGone(
  kept: Kept,
  listed: Map<string, readonly WebhookRef[]>,
  deps: WebhookHealthDependencies,
  now: number,
  report: WebhookHealthReport,
): Promise<void> {
  try {
    await forgetUnconfigured(kept, listed, deps, now, report);
  } catch (error) {
    report.errors.push(`registries no longer configured not forgotten: ${describeError(error)}`);
  }
  try {
    await forgetDeleted(kept.webhooks, listed, deps, now, report);
  } catch (error) {
    report.errors.push(`deleted webhooks not forgotten: ${describeError(error)}`);
  }
}

/**
 * How long a run goes on beginning ARM's work: listing a registry's webhooks, describing one
 * (`get` and `getCallbackConfig`), pinging one. What is begun by then takes at most two ARM calls
 * (`ARM_TIMEOUT_SECONDS`, at most 20 s each), under host.json's `functionTimeout` of 2 minutes.
 */
export const CHECKS_BEGUN_WITHIN_MS = 60_000;

/**
 * Checks each webhook ARM lists for the registry (into `listed`: none when ARM no longer finds
 * the registry, nothing when it could not be asked), while the run's time lasts, and what that
 * says of the registry as a whole: a webhook ARM did not describe, or the run had no time for,
 * might be the one delivering to the bridge.
 */
async function checkRegistry(
  registryId: string,
  deps: WebhookHealthDependencies,
  now: number,
  sendPing: boolean,
  report: WebhookHealthReport,
  listed: Map<string, readonly WebhookRef[]>,
  pace: RunPace,
): Promise<RegistryOutcome> {
  let pinging = sendPing;
  const found = await deps.webhooks.list(registryId);
  if (!found.ok && found.failure.kind === "not-found") {
    listed.set(registryKey(registryId), []);
    report.notFound.push(registryId);
    return { kind: "not-found" };
  }
  if (!found.ok) {
    report.errors.push(`${registryId}: ${describeFailure(found.failure)}`);
    report.unreachable.push(registryId);
    return { kind: "unreachable", failure: found.failure };
  }
  listed.set(registryKey(registryId), found.value);
  const configs: WebhookConfiguration[] = [];
  let undescribed: ArmFailure | undefined;
  const webhooks = pace.webhooks(found.value);
  let unchecked = 0;
  for (const [index, ref] of webhooks.entries()) {
    if (pace.timeUp()) {
      unchecked = webhooks.length - index;
      report.errors.push(
        `${registryId}: ${unchecked} of ${webhooks.length} webhooks not checked, the run's time is up`,
      );
      break;
    }
    const where = webhookPath(ref);
    const config = await deps.webhooks.configuration(ref);
    if (!config.ok) {
      report.errors.push(`${where}: ${describeFailure(config.failure)}`);
      // ARM hangs for this registry: each other call would wait as long, and say nothing more.
      if (config.failure.kind === "timed-out") {
        report.unreachable.push(registryId);
        return { kind: "unreachable", failure: config.failure };
      }
      // One deleted since the list was read delivers nothing.
      if (config.failure.kind !== "not-found") undescribed ??= config.failure;
      continue;
    }
    configs.push(config.value);
    try {
      // Described once the run's time is up, it is not pinged: the next run pings it.
      const ping = pinging && !pace.timeUp();
      const pingFailure = await checkOne(config.value, deps, now, ping, report);
      // A ping ARM did not answer: the registry's other pings would wait as long.
      if (pingFailure?.kind === "timed-out") pinging = false;
    } catch (error) {
      report.errors.push(`${where}: ${describeError(error)}`);
    }
  }
  const problems = registryWebhookProblems(configs, deps.expectations);
  if (problems.length > 0 && undescribed) {
    report.unreachable.push(registryId);
    return { kind: "unreachable", failure: undescribed };
  }
  if (problems.length > 0 && unchecked > 0) return { kind: "unfinished" };
  if (problems.length > 0) report.uncovered.push({ registryId, reasons: problems });
  return { kind: "answered", problems };
}

/**
 * A registry checked before and since removed from `ACR_RESOURCE_IDS` is no longer the bridge's to
 * judge: as for a registry ARM no longer finds, its verdicts (and its webhooks', as `listed` names
 * none of them) are dropped and each open finding about it gets its resolution.
 */
async function forgetUnconfigured(
  kept: Kept,
  listed: Map<string, readonly WebhookRef[]>,
  deps: WebhookHealthDependencies,
  now: number,
  report: WebhookHealthReport,
): Promise<void> {
  const configured = new Set(deps.registryIds.map(registryKey));
  const keptIds = new Map<string, string>();
  for (const { registryId } of kept.registries) keptIds.set(registryKey(registryId), registryId);
  for (const { ref } of kept.webhooks) keptIds.set(registryKey(ref.registryId), ref.registryId);
  for (const [key, registryId] of keptIds) {
    if (configured.has(key)) continue;
    listed.set(key, []);
    report.unconfigured.push(registryId);
    const context = claimContext(deps, now, report);
    await settleRegistryHealth(registryId, { kind: "not-found" }, deps.registries, context);
  }
}

/**
 * A webhook checked before that its registry's list (answered) no longer names was deleted: its
 * verdict leaves `/api/health`, and an open finding about it gets its resolution, so no alert
 * waits forever on a webhook that is gone. A registry whose list failed keeps its verdicts.
 */
async function forgetDeleted(
  keptWebhooks: readonly WebhookHealth[],
  listed: ReadonlyMap<string, readonly WebhookRef[]>,
  deps: WebhookHealthDependencies,
  now: number,
  report: WebhookHealthReport,
): Promise<void> {
  const present = new Set([...listed.values()].flat().map(webhookMatch));
  const context = claimContext(deps, now, report);
  for (const { ref } of keptWebhooks) {
    if (!listed.has(registryKey(ref.registryId)) || present.has(webhookMatch(ref))) continue;
    const claims = webhookClaims(deps.store, ref);
    // An opening still to go out goes first; one whose claimer is still going is left to it.
    const settled = await settlePendingClaim(await deps.store.read(ref), claims, context);
    if (!settled.ok || !settled.value) continue;
    const kept = settled.value;
    const forget = () => deps.store.remove(ref);
    if (await resolveAndForget(kept, kept.value, claims, context, forget)) {
      report.deleted.push(webhookPath(ref));
    }
  }
}

function claimContext(
  deps: WebhookHealthDependencies,
  now: number,
  report: WebhookHealthReport,
): ClaimContext {
  return { publish: deps.publish, now, report };
}

/** A webhook's verdict, published once (`webhook-unhealthy`, and its resolution). */
function webhookClaims(store: WebhookHealthStore, ref: WebhookRef): ClaimedRecord<WebhookHealth> {
  return {
    verdict: (health) => health,
    withVerdict: (health, verdict) => ({ ...health, ...verdict }),
    write: (health, version) => store.write(health, version),
    message: (verdict) => webhookHealthMessage({ ref, ...verdict }),
    label: `${webhookPath(ref)}: webhook-unhealthy`,
  };
}

async function checkOne(
  config: WebhookConfiguration,
  deps: WebhookHealthDependencies,
  now: number,
  sendPing: boolean,
  report: WebhookHealthReport,
): Promise<ArmFailure | undefined> {
  const { ref } = config;
  const where = webhookPath(ref);
  report.checked++;
  const claims = webhookClaims(deps.store, ref);
  const context = claimContext(deps, now, report);
  // A change another run claimed goes out first: this run leaves the webhook to it meanwhile.
  const settled = await settlePendingClaim(await deps.store.read(ref), claims, context);
  if (!settled.ok) return undefined;
  const kept = settled.value;
  const previous = kept?.value;
  const problems = configurationProblems(config, deps.expectations);

  // A missing ping stays a problem until a later ping arrives.
  let pingProblem = previous?.problems.find(isMissingPingProblem);
  let outstanding: OutstandingPing | undefined = previous?.ping;
  if (outstanding) {
    const recorded = await deps.isPingRecorded(outstanding.eventId);
    const verdict = pingVerdict(outstanding, recorded, now, deps.pingTimeoutMs);
    if (verdict === "arrived") pingProblem = undefined;
    if (verdict === "missing") pingProblem = missingPingProblem(deps.pingTimeoutMs);
    if (verdict !== "waiting") outstanding = undefined;
  }
  if (pingProblem) problems.push(pingProblem);

  let pingFailure: ArmFailure | undefined;
  if (sendPing && !outstanding && isEnabled(config)) {
    const pinged = await deps.webhooks.ping(ref);
    if (pinged.ok) {
      outstanding = { eventId: pinged.value, sentAt: now };
      report.pinged++;
    } else {
      pingFailure = pinged.failure;
      report.errors.push(`${where}: ${describeFailure(pinged.failure)}`);
    }
  }

  const judged = judge(previous, problems, now);
  if (!judged.verdict.healthy) {
    report.unhealthy.push({ registryId: ref.registryId, webhook: ref.name, reasons: problems });
  }
  const health: WebhookHealth = { ref, ...judged.verdict, ping: outstanding };
  await keepVerdict(health, judged, kept?.version, claims, context);
  return pingFailure;
}
