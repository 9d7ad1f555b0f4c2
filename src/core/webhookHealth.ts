import { z } from "zod";
import { loginServerFromResourceId } from "./eventGridTrust";
import { isoTime } from "./isoTime";
import { normalizeRegion } from "./region";
import { registryKey, type WebhookConfiguration, type WebhookRef } from "./registryWebhooks";
import { shortHash } from "./shortHash";
import { cloudEventMessage, type TopicMessage } from "./topicMessage";

/** What a webhook must look like to deliver to this bridge. */
export interface WebhookExpectations {
  /** `<bridge base URL>/api/acr/webhook`; unset, the service URI is not checked. */
  bridgeWebhookUrl?: string;
  actions: readonly string[];
  /** ACR scope syntax; empty means every repository and tag. */
  scope: string;
  /** The custom header that must carry the secret (its presence only is checked). */
  authHeader: string;
}

/** Why a webhook's configuration will not deliver what the bridge expects; empty when it will. */
export function configurationProblems(
  config: WebhookConfiguration,
  expected: WebhookExpectations,
): string[] {
  const problems = deliveryProblems(config, expected);
  if (config.scope.trim() !== expected.scope.trim()) {
    problems.push(
      `scope is ${describeScope(config.scope)}, expected ${describeScope(expected.scope)}`,
    );
  }
  problems.push(...serviceUriProblems(config, expected.bridgeWebhookUrl));
  const header = expected.authHeader.toLowerCase();
  if (!config.customHeaderNames.some((name) => name.toLowerCase() === header)) {
    problems.push(`custom headers carry no ${expected.authHeader} header`);
  }
  return problems;
}

/** Whether ACR sends the webhook's deliveries at all (its status is any case of `enabled`). */
export function isEnabled(config: WebhookConfiguration): boolean {
  return config.status.toLowerCase() === "enabled";
}

/** Whether the webhook sends at all, and every action the bridge expects. */
function deliveryProblems(config: WebhookConfiguration, expected: WebhookExpectations): string[] {
  const problems: string[] = [];
  if (!isEnabled(config)) problems.push(`status is ${config.status}`);
  const actions = new Set(config.actions.map((action) => action.toLowerCase()));
  const missing = expected.actions.filter((action) => !actions.has(action.toLowerCase()));
  if (missing.length > 0) problems.push(`actions missing: ${missing.join(", ")}`);
  return problems;
}

/**
 * Why no webhook of a registry delivers to the bridge; empty when one does: it calls the bridge's
 * endpoint (any URI does when `BRIDGE_PUBLIC_URL` is not known), is enabled and has every expected
 * action, each judged as for a single webhook. Its other problems (scope, region, auth header, a
 * lost ping) are that webhook's own findings. Webhooks are named in order of their names, so the
 * reasons stay the same while the registry's webhooks do.
 */
export function registryWebhookProblems(
  configs: readonly WebhookConfiguration[],
  expected: WebhookExpectations,
): string[] {
  if (configs.length === 0) return ["the registry has no webhooks"];
  const byName = [...configs].sort((a, b) => a.ref.name.localeCompare(b.ref.name));
  const calling = byName.filter((config) => callsBridge(config, expected.bridgeWebhookUrl));
  if (calling.length === 0) {
    const names = byName.map((config) => config.ref.name).join(", ");
    // Without the bridge's URL any URI calls it: none does only when none is a URL.
    const none = expected.bridgeWebhookUrl
      ? `no webhook calls this bridge (${expected.bridgeWebhookUrl})`
      : "no webhook's service URI is a URL";
    return [`${none}; the registry's webhooks: ${names}`];
  }
  const why = calling.map((config) => ({
    name: config.ref.name,
    problems: deliveryProblems(config, expected),
  }));
  if (why.some((webhook) => webhook.problems.length === 0)) return [];
  return [
    "no webhook calling this bridge is enabled with every expected action",
    ...why.flatMap((webhook) => webhook.problems.map((problem) => `${webhook.name}: ${problem}`)),
  ];
}

function describeScope(scope: string): string {
  return scope.trim() === "" ? "everything" : `'${scope.trim()}'`;
}

function serviceUri(config: WebhookConfiguration): URL | undefined {
  try {
    return new URL(config.serviceUri);
  } catch {
    return undefined;
  }
}

function callsBridge(config: WebhookConfiguration, bridgeWebhookUrl?: string): boolean {
  const uri = serviceUri(config);
  return uri !== undefined && targetProblem(uri, bridgeWebhookUrl) === undefined;
}

/**
 * A service URI is never shown whole: its query may carry a function key (`code`), and the path of
 * a URI at another host may be a secret itself (chat services put their webhook token there), so
 * only this bridge's own host has its path shown.
 */
function targetProblem(uri: URL, bridgeWebhookUrl?: string): string | undefined {
  if (bridgeWebhookUrl === undefined) return undefined;
  const bridge = new URL(bridgeWebhookUrl);
  const target = `${uri.origin}${uri.pathname.replace(/\/+$/, "")}`;
  const expected = `${bridge.origin}${bridge.pathname.replace(/\/+$/, "")}`;
  if (target.toLowerCase() === expected.toLowerCase()) return undefined;
  const shown = uri.origin === bridge.origin ? target : `${uri.origin}/…`;
  return `service URI points at ${shown}, not at this bridge (${expected})`;
}

function serviceUriProblems(config: WebhookConfiguration, bridgeWebhookUrl?: string): string[] {
  const uri = serviceUri(config);
  if (!uri) return ["service URI is not a URL"];
  const problems: string[] = [];
  const target = targetProblem(uri, bridgeWebhookUrl);
  if (target) problems.push(target);
  for (const name of ["region", "registry"]) {
    const given = uri.searchParams.getAll(name);
    if (given.length > 1) {
      problems.push(
        `service URI gives ${name} ${given.length} times (${given.map((value) => `'${value}'`).join(", ")}): deliveries are recorded under the first`,
      );
    }
  }
  const location = normalizeRegion(config.location);
  const region = uri.searchParams.get("region");
  if (region === null) {
    problems.push(`service URI has no region parameter (expected region=${location})`);
  } else if (normalizeRegion(region) !== location) {
    problems.push(`service URI region '${region}' is not the webhook's location '${location}'`);
  }
  return problems;
}

/** A ping sent to a webhook, waiting to be seen in the bridge's records. */
export interface OutstandingPing {
  eventId: string;
  sentAt: number;
}

export type PingVerdict = "arrived" | "waiting" | "missing";

export function pingVerdict(
  ping: OutstandingPing,
  recorded: boolean,
  now: number,
  timeoutMs: number,
): PingVerdict {
  if (recorded) return "arrived";
  return now - ping.sentAt >= timeoutMs ? "missing" : "waiting";
}

/** Stable text, so each new ping that goes missing is not a new finding. */
export function missingPingProblem(timeoutMs: number): string {
  return `${MISSING_PING} ${Math.round(timeoutMs / 1000)} s`;
}

export function isMissingPingProblem(problem: string): boolean {
  return problem.startsWith(MISSING_PING);
}

const MISSING_PING = "a ping was not recorded by the bridge within";

/** A verdict on one webhook, or on a registry's webhooks as a whole. */
export interface HealthVerdict {
  healthy: boolean;
  problems: string[];
  /** When the current verdict began (the finding's time, or the resolution's). */
  since: number;
  checkedAt: number;
}

/**
 * A verdict whose changes are published once across concurrent runs: a run claims a change (keeps
 * it unpublished, with when it claimed it) before it publishes it.
 */
export interface ClaimedVerdict extends HealthVerdict {
  /** False from a run's claim of the change until its message is on the topic; absent: published. */
  published?: boolean;
  /** When the run that claimed the change, not yet published, began. */
  claimedAt?: number;
}

/** What the bridge last concluded about one webhook. */
export interface WebhookHealth extends ClaimedVerdict {
  ref: WebhookRef;
  ping?: OutstandingPing;
}

/**
 * What the bridge last concluded about a registry: whether one of its webhooks delivers to the
 * bridge (`verdict`, absent until ARM has answered for it), and whether ARM can be asked now.
 */
export interface RegistryHealth {
  registryId: string;
  verdict?: ClaimedVerdict;
  /**
   * Set while ARM cannot be asked about the registry's webhooks (forbidden, throttled, down): why,
   * since when, and when it was last tried. The verdicts stay as they were until it answers.
   */
  unreachable?: { reason: string; since: number; checkedAt: number };
}

/** The resolution of whatever was open about a webhook or registry gone from ARM. */
export function healthyVerdict(now: number): HealthVerdict {
  return { healthy: true, problems: [], since: now, checkedAt: now };
}

export type HealthChange = "unchanged" | "unhealthy" | "resolved";

/**
 * A finding is published when a webhook (or a registry's webhooks as a whole) turns unhealthy or
 * its reasons change, a resolution when it recovers.
 */
export function healthChange(
  previous: HealthVerdict | undefined,
  problems: string[],
): HealthChange {
  if (problems.length === 0) return previous && !previous.healthy ? "resolved" : "unchanged";
  const same =
    previous !== undefined &&
    !previous.healthy &&
    previous.problems.length === problems.length &&
    previous.problems.every((problem, index) => problem === problems[index]);
  return same ? "unchanged" : "unhealthy";
}

/** A check's verdict, from the problems it found and the verdict before it, and what changed. */
export function judge(
  previous: HealthVerdict | undefined,
  problems: string[],
  now: number,
): { verdict: HealthVerdict; change: HealthChange } {
  const change = healthChange(previous, problems);
  const since = change === "unchanged" ? (previous?.since ?? now) : now;
  return { verdict: { healthy: problems.length === 0, problems, since, checkedAt: now }, change };
}

const WEBHOOK_UNHEALTHY = "webhook-unhealthy";
const WEBHOOK_MISSING = "webhook-missing";

/** The webhook health check's findings: one webhook's, and a registry's as a whole. */
export const HEALTH_FINDING_KINDS = [WEBHOOK_UNHEALTHY, WEBHOOK_MISSING] as const;
export type HealthFindingKind = (typeof HEALTH_FINDING_KINDS)[number];

/** The `data` of a webhook health message: its one definition, shown by the event catalog. */
export const webhookHealthDataSchema = z.object({
  kind: z.literal(WEBHOOK_UNHEALTHY),
  registryId: z.string().describe("The registry's ARM resource id."),
  registry: z
    .string()
    .describe("The registry's login server (its resource id when none can be derived from it)."),
  webhook: z.string().describe("The webhook's name."),
  reasons: z
    .array(z.string())
    .describe(
      "Why the webhook will not deliver what the bridge expects (status, actions, scope, service URI, auth header, a ping not recorded); empty on the resolution.",
    ),
  detectedAt: z
    .string()
    .describe(
      "When the current verdict began (ISO 8601): the finding's time, or the resolution's.",
    ),
  resolved: z
    .boolean()
    .describe(
      "true on the resolution: the webhook is healthy again, or was deleted (with its registry or alone), or its registry was removed from ACR_RESOURCE_IDS.",
    ),
});

export type WebhookHealthData = z.infer<typeof webhookHealthDataSchema>;

/** The `data` of a registry's webhook-missing message, shown by the event catalog. */
export const webhookMissingDataSchema = webhookHealthDataSchema.omit({ webhook: true }).extend({
  kind: z.literal(WEBHOOK_MISSING),
  reasons: z
    .array(z.string())
    .describe(
      "Why no webhook of the registry delivers to the bridge: none calls the bridge's endpoint (the registry's webhooks named), or each that does is disabled or lacks expected actions (named, with why); empty on the resolution.",
    ),
  resolved: z
    .boolean()
    .describe(
      "true on the resolution: a webhook of the registry delivers to the bridge again, or the registry was deleted or removed from ACR_RESOURCE_IDS.",
    ),
});

/** The application properties of a webhook health message, for subscription filters. */
export type WebhookHealthProperties = {
  kind: typeof WEBHOOK_UNHEALTHY;
  registry: string;
  webhook: string;
  resolved: "true" | "false";
  /** Tells it from the cross-check's findings on the same topic, as the source silence's. */
  operational: "true";
};

/** The application properties of a webhook-missing message: those of webhook health but `webhook`. */
export type WebhookMissingProperties = Omit<WebhookHealthProperties, "kind" | "webhook"> & {
  kind: typeof WEBHOOK_MISSING;
};

/** The CloudEvents type after `com.azure.acr.`: the finding's, or its resolution's. */
export function healthFindingType(kind: HealthFindingKind, resolved: boolean): string {
  return `discrepancy.${kind}${resolved ? ".resolved" : ""}`;
}

/** On `acr-discrepancies`: `discrepancy.webhook-unhealthy`, and `.resolved` when healthy again. */
export function webhookHealthMessage(health: WebhookHealth): TopicMessage {
  return healthFindingMessage(WEBHOOK_UNHEALTHY, health.ref.registryId, health.ref.name, health);
}

/**
 * On `acr-discrepancies`: `discrepancy.webhook-missing` when no webhook of the registry delivers to
 * the bridge, and `.resolved` once one does (or the registry is gone).
 */
export function webhookMissingMessage(registryId: string, verdict: HealthVerdict): TopicMessage {
  return healthFindingMessage(WEBHOOK_MISSING, registryId, undefined, verdict);
}

/** A webhook health message's fields, of either kind: a registry's finding names no webhook. */
type OfEitherKind<T> = Omit<T, "kind" | "webhook"> & { kind: HealthFindingKind; webhook?: string };

/** A webhook's finding names it (`webhook`, the subject); a registry's names none. */
function healthFindingMessage(
  kind: HealthFindingKind,
  registryId: string,
  webhook: string | undefined,
  verdict: HealthVerdict,
): TopicMessage {
  const resolved = verdict.healthy;
  const named = webhook === undefined ? {} : { webhook };
  const id = shortHash([
    kind,
    registryKey(registryId),
    ...Object.values(named),
    String(verdict.since),
    ...verdict.problems,
  ]);
  const registry = loginServerFromResourceId(registryId) ?? registryId;
  const data: OfEitherKind<WebhookHealthData> = {
    kind,
    registryId,
    registry,
    ...named,
    reasons: verdict.problems,
    detectedAt: isoTime(verdict.since),
    resolved,
  };
  const properties: OfEitherKind<WebhookHealthProperties> = {
    kind,
    registry,
    ...named,
    resolved: resolved ? "true" : "false",
    operational: "true",
  };
  return cloudEventMessage({
    id,
    registry,
    type: healthFindingType(kind, resolved),
    subject: webhook ?? "",
    time: isoTime(verdict.since),
    data,
    properties,
  });
}
