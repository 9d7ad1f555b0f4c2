/**
 * The registry side as the bridge sees it through ARM: a registry's webhooks, their configuration,
 * ACR's log of their deliveries, and the ping. Implemented on `@azure/arm-containerregistry` in
 * adapters/; every call answers a typed result, so no ARM failure reaches a timer as an exception.
 */
import type { Result } from "./result";

export interface WebhookRef {
  /** The registry's resource id, as configured in `ACR_RESOURCE_IDS`. */
  registryId: string;
  name: string;
}

/** ARM resource ids and webhook names are case-insensitive: what a registry is known by. */
export function registryKey(registryId: string): string {
  return registryId.toLowerCase();
}

/** What a webhook is known by: its registry's key and its name, whatever their case. */
export function webhookKey(ref: WebhookRef): { registry: string; name: string } {
  return { registry: registryKey(ref.registryId), name: ref.name.toLowerCase() };
}

/** The webhook's resource id, which names it in logs and errors: `<registry id>/webhooks/<name>`. */
export function webhookPath(ref: WebhookRef): string {
  return `${ref.registryId}/webhooks/${ref.name}`;
}

/** What `get` and `getCallbackConfig` say; custom header *names* only, never their values. */
export interface WebhookConfiguration {
  ref: WebhookRef;
  location: string;
  status: string;
  scope: string;
  actions: string[];
  serviceUri: string;
  customHeaderNames: string[];
}

/**
 * One entry of ACR's delivery log (`webhooks.listEvents`). The request's fields are as the log
 * holds them, whatever their types: the import checks them as it checks the body.
 */
export interface LoggedDelivery {
  /** The log entry's id; empty when the log holds none, or no text. */
  logId: string;
  /** The request body ACR sent, as ACR logged it. */
  content: unknown;
  /** A URI, unless the log is corrupt; absent when ACR logged none. */
  requestUri?: unknown;
  /** Header names and texts (Authorization masked by ACR), unless the log is corrupt. */
  requestHeaders?: unknown;
  /** The status ACR got back; absent when it got none (a timeout, a refused connection). */
  responseStatus?: number;
}

export interface LogPage {
  entries: LoggedDelivery[];
  /** Where the next page is; absent on the last. */
  nextLink?: string;
}

export type ArmFailureKind =
  | "unauthorized"
  | "forbidden"
  | "not-found"
  | "throttled"
  | "unavailable"
  /** No answer within the call's time (`ARM_TIMEOUT_SECONDS`). */
  | "timed-out"
  | "failed";

export interface ArmFailure {
  kind: ArmFailureKind;
  operation: string;
  status?: number;
  /** From `Retry-After` on a 429 or 503: when ARM wants to be asked again. */
  retryAfterSeconds?: number;
  message: string;
}

export type ArmResult<T> = Result<T, ArmFailure>;

export interface RegistryWebhooks {
  list(registryId: string): Promise<ArmResult<WebhookRef[]>>;
  configuration(ref: WebhookRef): Promise<ArmResult<WebhookConfiguration>>;
  /** Starts a ping; answers the id of the ping event ACR sends. */
  ping(ref: WebhookRef): Promise<ArmResult<string>>;
  /**
   * ACR's delivery log, one page at a time, newest first, from the start or from a page's
   * `nextLink`; stops after a failed page.
   */
  logPages(ref: WebhookRef, nextLink?: string): AsyncIterable<ArmResult<LogPage>>;
}

export function describeFailure(failure: ArmFailure): string {
  return `${failureSummary(failure)}: ${failure.message}`;
}

/**
 * The call and how it failed, without ARM's message (which names the caller's identity and
 * scope): what an anonymous reader such as `/api/health` may be shown.
 */
export function failureSummary(failure: ArmFailure): string {
  const status = failure.status === undefined ? "" : ` ${failure.status}`;
  const retry =
    failure.retryAfterSeconds === undefined ? "" : ` (retry after ${failure.retryAfterSeconds}s)`;
  return `${failure.operation}: ${failure.kind}${status}${retry}`;
}

/**
 * Every webhook of every registry, registry by registry. A registry whose webhooks cannot be
 * listed adds one line to `errors` and is skipped.
 */
export async function* webhooksOfRegistries(
  webhooks: RegistryWebhooks,
  registryIds: readonly string[],
  errors: string[],
): AsyncGenerator<WebhookRef> {
  for (const registryId of registryIds) {
    const found = await webhooks.list(registryId);
    if (!found.ok) {
      errors.push(`${registryId}: ${describeFailure(found.failure)}`);
      continue;
    }
    yield* found.value;
  }
}
