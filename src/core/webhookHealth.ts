import { z } from "zod";
import { loginServerFromResourceId } from "./eventGridTrust";
import { isoTime } from "./isoTime";
import { normalizeRegion } from "./region";
import type { WebhookConfiguration, WebhookRef } from "./registryWebhooks";
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
  const problems: string[] = [];
  if (config.status.toLowerCase() !== "enabled") problems.push(`status is ${config.status}`);
  const actions = new Set(config.actions.map((action) => action.toLowerCase()));
  const missing = expected.actions.filter((action) => !actions.has(action.toLowerCase()));
  if (missing.length > 0) problems.push(`actions missing: ${missing.join(", ")}`);
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

function describeScope(scope: string): string {
  return scope.trim() === "" ? "everything" : `'${scope.trim()}'`;
}

/**
 * A service URI is never shown whole: its query may carry a function key (`code`), and the path of
 * a URI at another host may be a secret itself (chat services put their webhook token there), so
 * only this bridge's own host has its path shown.
 */
function serviceUriProblems(config: WebhookConfiguration, bridgeWebhookUrl?: string): string[] {
  let uri: URL;
  try {
    uri = new URL(config.serviceUri);
  } catch {
    return ["service URI is not a URL"];
  }
  const problems: string[] = [];
  if (bridgeWebhookUrl !== undefined) {
    const bridge = new URL(bridgeWebhookUrl);
    const target = `${uri.origin}${uri.pathname.replace(/\/+$/, "")}`;
    const expected = `${bridge.origin}${bridge.pathname.replace(/\/+$/, "")}`;
    if (target.toLowerCase() !== expected.toLowerCase()) {
      const shown = uri.origin === bridge.origin ? target : `${uri.origin}/…`;
      problems.push(`service URI points at ${shown}, not at this bridge (${expected})`);
    }
  }
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

/** What the bridge last concluded about one webhook. */
export interface WebhookHealth {
  ref: WebhookRef;
  healthy: boolean;
  problems: string[];
  /** When the current verdict began (the finding's time, or the resolution's). */
  since: number;
  checkedAt: number;
  ping?: OutstandingPing;
}

export type HealthChange = "unchanged" | "unhealthy" | "resolved";

/** A finding is published when a webhook turns unhealthy or its reasons change, a resolution when it recovers. */
export function healthChange(
  previous: WebhookHealth | undefined,
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

const WEBHOOK_UNHEALTHY = "webhook-unhealthy";

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
  resolved: z.boolean().describe("true on the resolution: the webhook is healthy again."),
});

export type WebhookHealthData = z.infer<typeof webhookHealthDataSchema>;

/** The application properties of a webhook health message, for subscription filters. */
export type WebhookHealthProperties = {
  kind: typeof WEBHOOK_UNHEALTHY;
  registry: string;
  webhook: string;
  resolved: "true" | "false";
  /** Tells it from the cross-check's findings on the same topic, as the source silence's. */
  operational: "true";
};

/** The CloudEvents type after `com.azure.acr.`: the finding's, or its resolution's. */
export function webhookHealthType(resolved: boolean): string {
  return `discrepancy.${WEBHOOK_UNHEALTHY}${resolved ? ".resolved" : ""}`;
}

/** On `acr-discrepancies`: `discrepancy.webhook-unhealthy`, and `.resolved` when healthy again. */
export function webhookHealthMessage(health: WebhookHealth): TopicMessage {
  const resolved = health.healthy;
  const id = shortHash([
    WEBHOOK_UNHEALTHY,
    health.ref.registryId.toLowerCase(),
    health.ref.name,
    String(health.since),
    ...health.problems,
  ]);
  const registry = loginServerFromResourceId(health.ref.registryId) ?? health.ref.registryId;
  const data: WebhookHealthData = {
    kind: WEBHOOK_UNHEALTHY,
    registryId: health.ref.registryId,
    registry,
    webhook: health.ref.name,
    reasons: health.problems,
    detectedAt: isoTime(health.since),
    resolved,
  };
  const properties: WebhookHealthProperties = {
    kind: WEBHOOK_UNHEALTHY,
    registry,
    webhook: health.ref.name,
    resolved: resolved ? "true" : "false",
    operational: "true",
  };
  return cloudEventMessage({
    id,
    registry,
    type: webhookHealthType(resolved),
    subject: health.ref.name,
    time: isoTime(health.since),
    data,
    properties,
  });
}
