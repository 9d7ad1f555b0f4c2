import { z } from "zod";
import { PUBLISHABLE_ACTIONS, type PublishableAction } from "./core/actions";
import { isRegistryResourceId } from "./core/eventGridTrust";
import type { ReplaySettings } from "./core/replay";
import type { RoutingTable } from "./core/routing";
import { parseScopeList } from "./core/scope";
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

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

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

const topicName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$/, "must be a Service Bus topic name");

export function loadRoutingTable(env: Env): RoutingTable {
  const route = (action: PublishableAction) => {
    const setting = topicSettingFor(action);
    return {
      topic: read(env, setting, topicName.default(DEFAULT_TOPICS[action])),
      scopes: parseScopeList(env[`${setting}_SCOPE`]),
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

export interface WebhookSettings {
  auth: WebhookAuthSettings;
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
    // A record holds the payload in one Table entity (1 MiB, strings counted as UTF-16).
    maxBodyBytes: read(
      env,
      "WEBHOOK_MAX_BODY_BYTES",
      positiveInt(64 * 1024).pipe(z.number().max(256 * 1024, "must be at most 262144")),
    ),
    loginServer: read(env, "ACR_LOGIN_SERVER", z.string().max(255).optional()),
    authLevel: read(
      env,
      "WEBHOOK_AUTH_LEVEL",
      z.enum(["anonymous", "function"]).default("anonymous"),
    ),
  };
}

export type TablesConnection =
  | { kind: "connection-string"; connectionString: string }
  | { kind: "managed-identity"; endpoint: string };

export function loadTablesConnection(env: Env): TablesConnection {
  const connectionString = read(env, "TABLES_CONNECTION", z.string().optional());
  if (connectionString) return { kind: "connection-string", connectionString };
  const endpoint = read(env, "TABLES_ENDPOINT", z.url().optional());
  if (endpoint) return { kind: "managed-identity", endpoint };
  throw new ConfigError("TABLES_CONNECTION", "set TABLES_CONNECTION or TABLES_ENDPOINT");
}

export type ServiceBusConnection =
  | { kind: "connection-string"; connectionString: string }
  | { kind: "managed-identity"; namespace: string };

export function loadServiceBusConnection(env: Env): ServiceBusConnection {
  const connectionString = read(env, "SERVICEBUS_CONNECTION", z.string().optional());
  if (connectionString) return { kind: "connection-string", connectionString };
  const namespace = read(env, "SERVICEBUS_NAMESPACE", z.string().optional());
  if (namespace) return { kind: "managed-identity", namespace };
  throw new ConfigError(
    "SERVICEBUS_CONNECTION",
    "set SERVICEBUS_CONNECTION or SERVICEBUS_NAMESPACE",
  );
}

/** Bounds every publish so a delivery is answered well inside ACR's 5 s even when the bus is down. */
export function loadPublishTimeoutMs(env: Env): number {
  return read(env, "PUBLISH_TIMEOUT_MS", positiveInt(2000));
}

/** Bounds each Table Storage call; record and publish together stay inside ACR's 5 s. */
export function loadTablesTimeoutMs(env: Env): number {
  return read(env, "TABLES_TIMEOUT_MS", positiveInt(1500));
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
    loginServer: read(env, "ACR_LOGIN_SERVER", z.string().max(255).optional()),
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
    // Event Grid batches hold up to 1 MB.
    maxBodyBytes: read(env, "EVENTGRID_MAX_BODY_BYTES", positiveInt(1024 * 1024)),
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
    .enum(["true", "false", "1", "0"], { error: "must be true or false" })
    .transform((value) => value === "true" || value === "1")
    .default(fallback);

export function loadCrossCheckSettings(env: Env): CrossCheckSettings {
  const seconds = (setting: string, fallback: number) =>
    read(env, setting, positiveInt(fallback)) * 1000;
  return {
    windowMs: seconds("CROSSCHECK_WINDOW_SECONDS", 300),
    recoveryEnabled: read(env, "RECOVERY_ENABLED", flag(true)),
    quarantineHoldMs: read(env, "QUARANTINE_HOLD_ENABLED", flag(true))
      ? seconds("QUARANTINE_HOLD_SECONDS", 86_400)
      : undefined,
    discrepancyTopic: read(env, "TOPIC_DISCREPANCIES", topicName.default("acr-discrepancies")),
    batchSize: read(env, "RECONCILE_BATCH_SIZE", positiveInt(500)),
    redrive: {
      maxAttempts: read(env, "REDRIVE_MAX_ATTEMPTS", positiveInt(8)),
      baseDelayMs: seconds("REDRIVE_BASE_DELAY_SECONDS", 30),
      maxDelayMs: seconds("REDRIVE_MAX_DELAY_SECONDS", 3600),
    },
  };
}

/** The Service Bus queue that keeps webhook deliveries while Table Storage is down. */
export function loadJournalQueue(env: Env): string {
  return read(env, "JOURNAL_QUEUE", topicName.default("acr-journal"));
}

/**
 * The Service Bus queue Event Grid delivers to, read by the `acrEventGridQueue` trigger (the
 * third Event Grid intake). Unset or empty: that function is not registered at all.
 */
export function loadEventGridQueue(env: Env): string | undefined {
  return read(env, "EVENTGRID_QUEUE", topicName.optional());
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
  /** NCRONTAB schedules; undefined: that timer is off (`off`, or no registry to read). */
  backfillSchedule?: string;
  pingSchedule?: string;
}

export function loadRegistryAccessSettings(env: Env): RegistryAccessSettings {
  const resourceIds = loadEventGridSettings(env).trustedResourceIds;
  const actions = readList(env, "WEBHOOK_EXPECTED_ACTIONS");
  const schedule = (setting: string, fallback: string) => {
    const value = read(env, setting, z.string().default(fallback));
    return resourceIds.length > 0 && value.toLowerCase() !== "off" ? value : undefined;
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
          "must be https (plain http only on loopback, for the local stand-in)",
        )
        .default("https://management.azure.com")
        .transform((url) => url.replace(/\/+$/, "")),
    ),
    bridgeBaseUrl: read(env, "BRIDGE_PUBLIC_URL", z.url().optional()),
    expectedActions: actions.length > 0 ? actions : PUBLISHABLE_ACTIONS,
    expectedScope: read(env, "WEBHOOK_EXPECTED_SCOPE", z.string().default("")),
    authHeader: read(env, "WEBHOOK_AUTH_HEADER", z.string().default("Authorization")),
    backfill: {
      maxPages: read(env, "BACKFILL_MAX_PAGES", positiveInt(20)),
      maxMs: read(env, "BACKFILL_MAX_SECONDS", positiveInt(60)) * 1000,
    },
    pingTimeoutMs: read(env, "WEBHOOK_PING_TIMEOUT_SECONDS", positiveInt(120)) * 1000,
    backfillSchedule: schedule("BACKFILL_SCHEDULE", "0 */5 * * * *"),
    pingSchedule: schedule("WEBHOOK_PING_SCHEDULE", "0 */15 * * * *"),
  };
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
    ratePerSecond: read(env, "REPLAY_RATE_PER_SECOND", positiveInt(50)),
    maxWindowMs: read(env, "REPLAY_MAX_WINDOW_HOURS", positiveInt(168)) * 3_600_000,
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
  return read(env, "SOURCE_SILENCE_SECONDS", positiveInt(1800)) * 1000;
}
