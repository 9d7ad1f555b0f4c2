import { z } from "zod";
import { MAX_PAYLOAD_CHARS } from "./adapters/deliveryEntity";
import { serviceBusConnectionProblem, tablesConnectionProblem } from "./connectionStrings";
import { isPublishableAction, PUBLISHABLE_ACTIONS, type PublishableAction } from "./core/actions";
import { isRegistryResourceId } from "./core/eventGridTrust";
import { loginServerName } from "./core/registryIdentity";
import type { ReplaySettings } from "./core/replay";
import type { RoutingTable } from "./core/routing";
import { parseScope, parseScopeList, type Scope } from "./core/scope";
import type { WebhookAuthSettings } from "./core/webhookAuth";

/** A setting that is missing or wrong; the message names it and never echoes a secret. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(`setting ${setting}: ${problem}`);
  }
}

type Env = Record<string, string | undefined>;

function read<T>(env: Env, setting: string, schema: z.ZodType<T>): T {
  const raw = env[setting]?.trim();
  const parsed = schema.safeParse(raw === "" ? undefined : raw);
  if (!parsed.success) {
    throw new ConfigError(setting, parsed.error.issues.map((issue) => issue.message).join("; "));
  }
  return parsed.data;
}

/** A whole number from 1 to `max`, in decimal digits (a setting, or a command's option). */
export function wholeNumberUpTo(max: number) {
  const range = `must be a whole number from 1 to ${max}`;
  return z
    .string()
    .regex(/^[0-9]+$/, range)
    .transform(Number)
    .pipe(z.number().min(1, range).max(max, range));
}

/**
 * Every numeric setting has a maximum (the README's settings table says each): past it a timeout
 * overflows the timers' 2^31-1 ms, or a time computed from the setting is no longer a date.
 */
const wholeNumber = (fallback: number, max: number) => wholeNumberUpTo(max).default(fallback);

const SECONDS_PER_DAY = 86_400;
const SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY;

/** A Table Storage or Service Bus call that takes a minute is down, whatever ACR's 5 s. */
const MAX_CALL_TIMEOUT_MS = 60_000;

export const DEFAULT_TOPICS: Record<PublishableAction, string> = {
  push: "acr-push",
  delete: "acr-delete",
  chart_push: "acr-chart-push",
  chart_delete: "acr-chart-delete",
  quarantine: "acr-quarantine",
};

/** `TOPIC_PUSH`, `TOPIC_CHART_DELETE`, ... and the matching `..._SCOPE`. */
export function topicSettingFor(action: PublishableAction): string {
  return `TOPIC_${action.toUpperCase()}`;
}

/** A Service Bus topic or queue name; the message names which the setting holds. */
const entityName = (kind: "topic" | "queue") =>
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$/, `must be a Service Bus ${kind} name`);

const topicName = entityName("topic");
const queueName = entityName("queue");

export function loadRoutingTable(env: Env): RoutingTable {
  const route = (action: PublishableAction) => {
    const setting = topicSettingFor(action);
    return {
      topic: read(env, setting, topicName.default(DEFAULT_TOPICS[action])),
      scopes: readScopes(env, `${setting}_SCOPE`),
    };
  };
  return {
    push: route("push"),
    delete: route("delete"),
    chart_push: route("chart_push"),
    chart_delete: route("chart_delete"),
    quarantine: route("quarantine"),
  };
}

/** A comma-separated list of scopes in ACR's syntax; an entry that could match nothing is refused. */
function readScopes(env: Env, setting: string): Scope[] {
  const scopes = parseScopeList(env[setting]);
  if (!scopes.ok) throw new ConfigError(setting, scopes.failure);
  return scopes.value;
}

export interface WebhookSettings {
  auth: WebhookAuthSettings;
  /** Every secret the bridge accepts on any route, masked wherever a record would hold one. */
  maskedSecrets: string[];
  maxBodyBytes: number;
  loginServer?: string;
  /** `function` puts the webhook behind a function key as well (`?code=` in ACR's service URI). */
  authLevel: "anonymous" | "function";
}

/** A comma-separated list, trimmed, without empty entries. */
function readList(env: Env, setting: string): string[] {
  return (env[setting] ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/**
 * App Service leaves a Key Vault reference it could not resolve (a role not yet propagated) as its
 * literal text: taken as a secret, it would refuse every genuine delivery and be guessable.
 */
function readUnresolvedAware(env: Env, setting: string): string[] {
  if ((env[setting] ?? "").trim().startsWith("@Microsoft.KeyVault(")) {
    throw new ConfigError(
      setting,
      "is an unresolved Key Vault reference; check the app's access to the vault",
    );
  }
  return readList(env, setting);
}

/**
 * The secrets of every route: a client may send the Event Grid endpoint's secret to the webhook,
 * or the other way round, and a record keeps no secret whichever route it came by.
 */
function readAcceptedSecrets(env: Env): string[] {
  return [...readList(env, "WEBHOOK_SECRETS"), ...readList(env, "EVENTGRID_SECRETS")];
}

/** One or more secrets, comma-separated so one can be rotated without downtime; never empty. */
function readSecrets(env: Env, setting: string): string[] {
  const secrets = readUnresolvedAware(env, setting);
  if (secrets.length === 0) {
    throw new ConfigError(
      setting,
      "no secret is set; the endpoint refuses to run open (set one or more, comma-separated)",
    );
  }
  return secrets;
}

export function loadWebhookSettings(env: Env): WebhookSettings {
  const secrets = readSecrets(env, "WEBHOOK_SECRETS");
  const header = read(
    env,
    "WEBHOOK_AUTH_HEADER",
    z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name")
      .default("Authorization"),
  );
  return {
    auth: { secrets, header: header.toLowerCase() },
    maskedSecrets: readAcceptedSecrets(env),
    // UTF-8 takes at least a byte a character: a body within it is a payload a record can hold.
    maxBodyBytes: read(env, "WEBHOOK_MAX_BODY_BYTES", wholeNumber(64 * 1024, MAX_PAYLOAD_CHARS)),
    loginServer: readLoginServer(env),
    authLevel: read(
      env,
      "WEBHOOK_AUTH_LEVEL",
      z.enum(["anonymous", "function"]).default("anonymous"),
    ),
  };
}

/** The login server for events that name none, spelled as the webhook's `?registry=` must be. */
function readLoginServer(env: Env): string | undefined {
  return read(env, "ACR_LOGIN_SERVER", loginServerName.optional());
}

/**
 * A connection string whose shape the SDK can use; the problem named never echoes a value (the
 * secrets are values).
 */
function readConnectionString(
  env: Env,
  setting: string,
  problemOf: (connectionString: string) => string | undefined,
): string | undefined {
  const connectionString = read(env, setting, z.string().optional());
  const problem = connectionString === undefined ? undefined : problemOf(connectionString);
  if (problem !== undefined) throw new ConfigError(setting, problem);
  return connectionString;
}

export type TablesConnection =
  | { kind: "connection-string"; connectionString: string }
  | { kind: "managed-identity"; endpoint: string };

export function loadTablesConnection(env: Env): TablesConnection {
  const connectionString = readConnectionString(env, "TABLES_CONNECTION", tablesConnectionProblem);
  if (connectionString) return { kind: "connection-string", connectionString };
  const endpoint = read(env, "TABLES_ENDPOINT", z.url().optional());
  if (endpoint) return { kind: "managed-identity", endpoint };
  throw new ConfigError("TABLES_CONNECTION", "set TABLES_CONNECTION or TABLES_ENDPOINT");
}

export type ServiceBusConnection =
  | { kind: "connection-string"; connectionString: string }
  | { kind: "managed-identity"; namespace: string };

/** What the SDK takes with a credential: a host name, without scheme, port or path. */
const namespaceHostName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, {
    error: "must be the namespace's host name, e.g. <name>.servicebus.windows.net",
  });

export function loadServiceBusConnection(env: Env): ServiceBusConnection {
  const connectionString = readConnectionString(
    env,
    "SERVICEBUS_CONNECTION",
    serviceBusConnectionProblem,
  );
  if (connectionString) return { kind: "connection-string", connectionString };
  const namespace = read(env, "SERVICEBUS_NAMESPACE", namespaceHostName.optional());
  if (namespace) return { kind: "managed-identity", namespace };
  throw new ConfigError(
    "SERVICEBUS_CONNECTION",
    "set SERVICEBUS_CONNECTION or SERVICEBUS_NAMESPACE",
  );
}

/** Bounds every publish so a delivery is answered well inside ACR's 5 s even when the bus is down. */
export function loadPublishTimeoutMs(env: Env): number {
  return read(env, "PUBLISH_TIMEOUT_MS", wholeNumber(2000, MAX_CALL_TIMEOUT_MS));
}

/** Bounds each Table Storage call; record and publish together stay inside ACR's 5 s. */
export function loadTablesTimeoutMs(env: Env): number {
  return read(env, "TABLES_TIMEOUT_MS", wholeNumber(1500, MAX_CALL_TIMEOUT_MS));
}

export interface EventGridSettings {
  /** An Event Grid event is trusted only when its `topic`/`source` is one of these. */
  trustedResourceIds: string[];
  /** Names the registry when neither the event's `request.host` nor its resource id does. */
  loginServer?: string;
}

const REGISTRY_RESOURCE_ID_SHAPE =
  "/subscriptions/<subscription-id>/resourceGroups/<group>/providers/Microsoft.ContainerRegistry/registries/<name>";

const registryResourceId = z.string().refine(isRegistryResourceId, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a registry resource id (${REGISTRY_RESOURCE_ID_SHAPE})`,
});

/**
 * Without `ACR_RESOURCE_IDS` no Event Grid event is trusted (each is rejected and counted): the
 * webhook keeps working on a deployment that has not subscribed Event Grid yet.
 */
export function loadEventGridSettings(env: Env): EventGridSettings {
  const ids = readList(env, "ACR_RESOURCE_IDS");
  const parsed = z.array(registryResourceId).safeParse(ids);
  if (!parsed.success) {
    throw new ConfigError(
      "ACR_RESOURCE_IDS",
      parsed.error.issues.map((issue) => issue.message).join("; "),
    );
  }
  return {
    trustedResourceIds: parsed.data,
    loginServer: readLoginServer(env),
  };
}

/**
 * `POST /api/eventgrid` accepts `Authorization: Bearer <secret>` or `?key=<secret>`. Without
 * `EVENTGRID_SECRETS` it refuses every request (401): closed, and the rest of the app still runs.
 */
export function loadEventGridEndpointSettings(env: Env) {
  return {
    ...loadEventGridSettings(env),
    secrets: readUnresolvedAware(env, "EVENTGRID_SECRETS"),
    maskedSecrets: readAcceptedSecrets(env),
    // Event Grid batches hold up to 1 MB.
    maxBodyBytes: read(env, "EVENTGRID_MAX_BODY_BYTES", wholeNumber(1024 * 1024, 1024 * 1024)),
  };
}

export interface CrossCheckSettings {
  windowMs: number;
  recoveryEnabled: boolean;
  /** Undefined when `QUARANTINE_HOLD_ENABLED` is false (registries without quarantine). */
  quarantineHoldMs?: number;
  discrepancyTopic: string;
  batchSize: number;
  redrive: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
}

const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"], { error: "must be true, false, 1 or 0" })
    .transform((value) => value === "true" || value === "1")
    .default(fallback);

/**
 * How long one reconcile run takes windows and records: under host.json's functionTimeout (2
 * minutes), with room for the close or re-drive under way, so a run after a long pause ends by
 * itself whatever RECONCILE_BATCH_SIZE is, and the next one goes on.
 */
export const RECONCILE_RUN_MS = 90_000;

export function loadCrossCheckSettings(env: Env): CrossCheckSettings {
  const seconds = (setting: string, fallback: number, max: number) =>
    read(env, setting, wholeNumber(fallback, max)) * 1000;
  return {
    // Event Grid retries for 24 h: no twin comes later than that.
    windowMs: seconds("CROSSCHECK_WINDOW_SECONDS", 300, SECONDS_PER_DAY),
    recoveryEnabled: read(env, "RECOVERY_ENABLED", flag(true)),
    quarantineHoldMs: read(env, "QUARANTINE_HOLD_ENABLED", flag(true))
      ? seconds("QUARANTINE_HOLD_SECONDS", SECONDS_PER_DAY, SECONDS_PER_WEEK)
      : undefined,
    discrepancyTopic: read(env, "TOPIC_DISCREPANCIES", topicName.default("acr-discrepancies")),
    batchSize: read(env, "RECONCILE_BATCH_SIZE", wholeNumber(500, 5000)),
    redrive: redriveSettings(env, seconds),
  };
}

function redriveSettings(
  env: Env,
  seconds: (setting: string, fallback: number, max: number) => number,
): CrossCheckSettings["redrive"] {
  const baseDelayMs = seconds("REDRIVE_BASE_DELAY_SECONDS", 30, SECONDS_PER_DAY);
  const maxDelayMs = seconds("REDRIVE_MAX_DELAY_SECONDS", 3600, SECONDS_PER_DAY);
  // The cap would win silently: the backoff would never grow.
  if (baseDelayMs > maxDelayMs) {
    throw new ConfigError(
      "REDRIVE_BASE_DELAY_SECONDS",
      `must not be more than REDRIVE_MAX_DELAY_SECONDS (${maxDelayMs / 1000})`,
    );
  }
  return {
    maxAttempts: read(env, "REDRIVE_MAX_ATTEMPTS", wholeNumber(8, 100)),
    baseDelayMs,
    maxDelayMs,
  };
}

/** The Service Bus queue that keeps webhook deliveries while Table Storage is down. */
export function loadJournalQueue(env: Env): string {
  return read(env, "JOURNAL_QUEUE", queueName.default("acr-journal"));
}

/**
 * The Service Bus queue Event Grid delivers to, read by the `acrEventGridQueue` trigger (the
 * third Event Grid intake). Unset or empty: that function is not registered at all.
 */
export function loadEventGridQueue(env: Env): string | undefined {
  return read(env, "EVENTGRID_QUEUE", queueName.optional());
}

/** Where the bridge reads its registries' webhooks (ARM), and what it expects of them. */
export interface RegistryAccessSettings {
  /** Registries whose webhooks are backfilled and checked: `ACR_RESOURCE_IDS`. */
  resourceIds: string[];
  /** The ARM endpoint; a loopback `http://` one is the local stand-in (`LOCAL_ARM_TOKEN`). */
  armEndpoint: string;
  /** The bridge's public base URL; webhooks must call `<it>/api/acr/webhook`. */
  bridgeBaseUrl?: string;
  expectedActions: readonly string[];
  expectedScope: string;
  /** The header the webhooks must carry the secret in (`WEBHOOK_AUTH_HEADER`). */
  authHeader: string;
  backfill: { maxPages: number; maxMs: number };
  pingTimeoutMs: number;
  /** The longest one ARM call may take, its retries included (`ARM_TIMEOUT_SECONDS`). */
  armCallTimeoutMs: number;
  /** NCRONTAB schedule of the backfill; undefined: off (`off`, or no registry to read). */
  backfillSchedule?: string;
  /**
   * NCRONTAB schedule of the webhook health check; undefined: off (`off`). It runs with no
   * registry too: the findings of registries removed from `ACR_RESOURCE_IDS` still get resolved.
   */
  pingSchedule?: string;
}

export function loadRegistryAccessSettings(env: Env): RegistryAccessSettings {
  const resourceIds = loadEventGridSettings(env).trustedResourceIds;
  const actions = readActions(env, "WEBHOOK_EXPECTED_ACTIONS");
  const schedule = (setting: string, fallback: string) => {
    const value = read(env, setting, z.string().default(fallback));
    return value.toLowerCase() !== "off" ? value : undefined;
  };
  return {
    resourceIds,
    armEndpoint: read(
      env,
      "ARM_ENDPOINT",
      z
        .url()
        .refine(
          (url) => /^(https:\/\/|http:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/|$))/i.test(url),
          "must be https (plain http only on 127.0.0.1 or localhost, for the local stand-in)",
        )
        .default("https://management.azure.com")
        .transform((url) => url.replace(/\/+$/, "")),
    ),
    bridgeBaseUrl: read(env, "BRIDGE_PUBLIC_URL", z.url().optional()),
    expectedActions: actions.length > 0 ? actions : PUBLISHABLE_ACTIONS,
    expectedScope: readScope(env, "WEBHOOK_EXPECTED_SCOPE"),
    authHeader: read(env, "WEBHOOK_AUTH_HEADER", z.string().default("Authorization")),
    backfill: {
      maxPages: read(env, "BACKFILL_MAX_PAGES", wholeNumber(20, 1000)),
      // Under host.json's functionTimeout (2 minutes), so a run ends by itself.
      maxMs: read(env, "BACKFILL_MAX_SECONDS", wholeNumber(60, 100)) * 1000,
    },
    pingTimeoutMs:
      read(env, "WEBHOOK_PING_TIMEOUT_SECONDS", wholeNumber(120, SECONDS_PER_DAY)) * 1000,
    armCallTimeoutMs: read(env, "ARM_TIMEOUT_SECONDS", wholeNumber(10, 20)) * 1000,
    backfillSchedule:
      resourceIds.length > 0 ? schedule("BACKFILL_SCHEDULE", "0 */5 * * * *") : undefined,
    pingSchedule: schedule("WEBHOOK_PING_SCHEDULE", "0 */15 * * * *"),
  };
}

/** ACR's webhook actions, comma-separated (`ping` is no action a webhook is created with). */
function readActions(env: Env, setting: string): PublishableAction[] {
  const actions = readList(env, setting).map((action) => action.toLowerCase());
  const unknown = actions.filter((action) => !isPublishableAction(action));
  if (unknown.length > 0) {
    throw new ConfigError(
      setting,
      `unknown action ${unknown.map((action) => JSON.stringify(action)).join(", ")}; ACR's webhook actions are ${PUBLISHABLE_ACTIONS.join(", ")}`,
    );
  }
  return actions.filter(isPublishableAction);
}

/** One scope in ACR's syntax, as written (trimmed); empty is everything. */
function readScope(env: Env, setting: string): string {
  const text = (env[setting] ?? "").trim();
  const scope = parseScope(text);
  if (!scope.ok) throw new ConfigError(setting, scope.failure);
  return text;
}

/** The replay runner's settings, the longest window a replay may ask for, and the runner's timer. */
export interface ReplayConfig extends ReplaySettings {
  /** The longest `from`..`to` one replay may cover. */
  maxWindowMs: number;
  /** NCRONTAB: every 10 s, and each run works for at most `runMs` (8 s), so runs never overlap. */
  runnerSchedule: string;
}

export function loadReplayConfig(env: Env): ReplayConfig {
  return {
    ratePerSecond: read(env, "REPLAY_RATE_PER_SECOND", wholeNumber(50, 1000)),
    // 31 days, the query API's longest window.
    maxWindowMs: read(env, "REPLAY_MAX_WINDOW_HOURS", wholeNumber(168, 744)) * 3_600_000,
    runnerSchedule: "*/10 * * * * *",
    runMs: 8000,
    pageSize: 200,
    maxFailedSteps: 10,
  };
}

/**
 * How long one side (webhook or Event Grid) of a registry/region may stay silent while the other
 * keeps delivering, before an operational finding is published.
 */
export function loadSilenceThresholdMs(env: Env): number {
  return read(env, "SOURCE_SILENCE_SECONDS", wholeNumber(1800, SECONDS_PER_WEEK)) * 1000;
}
