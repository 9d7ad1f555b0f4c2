import type {
  ContainerRegistryManagementClient,
  ContainerRegistryManagementClientOptionalParams,
} from "@azure/arm-containerregistry";
import type {
  ArmFailure,
  ArmFailureKind,
  ArmResult,
  LoggedDelivery,
  LogPage,
  RegistryWebhooks,
  WebhookConfiguration,
  WebhookRef,
} from "../core/registryWebhooks";

type Credential = ConstructorParameters<typeof ContainerRegistryManagementClient>[0];
type Policy = NonNullable<
  ContainerRegistryManagementClientOptionalParams["additionalPolicies"]
>[number]["policy"];

export interface ArmRegistryWebhooksOptions {
  endpoint: string;
  credential: Credential;
  /** The SDK's own retries (429 with `Retry-After`, 5xx, network) before a call is a failure. */
  maxRetries?: number;
  /**
   * The longest `Retry-After` the SDK waits out before retrying; a longer one fails the call at
   * once as throttled (with its `Retry-After`), so no run or request sits out ARM's throttling.
   */
  maxRetryAfterSeconds?: number;
  /**
   * The longest a call (one page of the delivery log) may take, its retries and their waits
   * included; a call ARM has not answered by then fails as `timed-out`.
   */
  callTimeoutMs: number;
}

const MAX_RETRY_AFTER_SECONDS = 10;

const RESOURCE_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerRegistry\/registries\/([^/]+)\/?$/i;

/** The bearer token of the local ARM stand-in (dev/arm); it grants nothing anywhere else. */
export const LOCAL_ARM_TOKEN = "local-arm-token";

/** A credential for the local stand-in only: a fixed bearer token, never sent off loopback. */
export function staticTokenCredential(token: string): Credential {
  return {
    getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 60 * 60 * 1000 }),
  };
}

export function isLoopbackHttp(endpoint: string): boolean {
  const url = new URL(endpoint);
  return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/** The webhook operations of `@azure/arm-containerregistry`, every failure a typed value. */
export class ArmRegistryWebhooks implements RegistryWebhooks {
  constructor(private readonly options: ArmRegistryWebhooksOptions) {}

  async list(registryId: string): Promise<ArmResult<WebhookRef[]>> {
    return this.call("webhooks.list", async () => {
      const { client, group, registry } = this.clientFor(registryId);
      const refs: WebhookRef[] = [];
      for await (const webhook of client.webhooks.list(group, registry)) {
        if (webhook.name) refs.push({ registryId, name: webhook.name });
      }
      return refs;
    });
  }

  async configuration(ref: WebhookRef): Promise<ArmResult<WebhookConfiguration>> {
    const { client, group, registry } = this.clientFor(ref.registryId);
    const webhook = await this.call("webhooks.get", () =>
      client.webhooks.get(group, registry, ref.name),
    );
    if (!webhook.ok) return webhook;
    const callback = await this.call("webhooks.getCallbackConfig", () =>
      client.webhooks.getCallbackConfig(group, registry, ref.name),
    );
    if (!callback.ok) return callback;
    return {
      ok: true,
      value: {
        ref,
        location: webhook.value.location,
        status: webhook.value.status ?? "enabled",
        scope: webhook.value.scope ?? "",
        actions: webhook.value.actions ?? [],
        serviceUri: callback.value.serviceUri,
        // The values carry the webhook's secret: only the names leave this adapter.
        customHeaderNames: Object.keys(callback.value.customHeaders ?? {}),
      },
    };
  }

  async ping(ref: WebhookRef): Promise<ArmResult<string>> {
    const { client, group, registry } = this.clientFor(ref.registryId);
    return this.call("webhooks.ping", async () => {
      const info = await client.webhooks.ping(group, registry, ref.name);
      if (!info.id) throw new Error("ping answered no event id");
      return info.id;
    });
  }

  async *logPages(ref: WebhookRef, nextLink?: string): AsyncIterable<ArmResult<LogPage>> {
    // The SDK's models drop fields they do not know, turn the timestamp into a Date (losing its
    // 7th to 9th fractional digits) and take any value as the type they expect (a text of headers
    // becomes its characters): the raw entries of each page are kept as they arrive, in the
    // page's order (an entry's id may be missing, or another's).
    const rawPage: RawPage = {};
    const { client, group, registry } = this.clientFor(ref.registryId, keepRawEntries(rawPage));
    const pages = client.webhooks
      .listEvents(group, registry, ref.name)
      .byPage({ continuationToken: nextLink });
    for (;;) {
      const page = await this.call("webhooks.listEvents", () => pages.next());
      if (!page.ok) {
        yield page;
        return;
      }
      if (page.value.done) return;
      const raw = rawPage.entries?.length === page.value.value.length ? rawPage.entries : [];
      const entries = page.value.value.map((entry, index) =>
        loggedDelivery(index in raw ? raw[index] : entry),
      );
      rawPage.entries = undefined;
      const next = (page.value.value as { continuationToken?: string }).continuationToken;
      yield { ok: true, value: { entries, nextLink: next } };
    }
  }

  private clientFor(registryId: string, rawBodies?: Policy) {
    const match = RESOURCE_ID.exec(registryId.trim());
    if (!match) throw new Error(`not a registry resource id: ${registryId}`);
    const [, subscription, group, registry] = match;
    const loopback = isLoopbackHttp(this.options.endpoint);
    // Loaded on the first ARM call: a host that never reads the delivery log never loads it.
    const { ContainerRegistryManagementClient: Client } =
      require("@azure/arm-containerregistry") as typeof import("@azure/arm-containerregistry");
    const client = new Client(this.options.credential, subscription, {
      endpoint: this.options.endpoint,
      allowInsecureConnection: loopback,
      retryOptions: { maxRetries: this.options.maxRetries ?? 3 },
      additionalPolicies: [
        { policy: timeLimit(this.options.callTimeoutMs), position: "perCall" },
        ...(rawBodies ? [{ policy: rawBodies, position: "perCall" as const }] : []),
        { policy: rememberLastAnswer, position: "perRetry" },
        {
          policy: refuseLongRetryAfter(
            this.options.maxRetryAfterSeconds ?? MAX_RETRY_AFTER_SECONDS,
          ),
          position: "perRetry",
        },
      ],
    });
    if (loopback) {
      // The SDK's bearer policy refuses plain http; the local stand-in gets its token this way.
      client.pipeline.removePolicy({ name: "bearerTokenAuthenticationPolicy" });
      client.pipeline.addPolicy(loopbackBearer(this.options.credential), { phase: "Sign" });
    }
    return { client, group, registry };
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<ArmResult<T>> {
    try {
      return { ok: true, value: await run() };
    } catch (error) {
      return { ok: false, failure: armFailure(operation, error) };
    }
  }
}

function loopbackBearer(credential: Credential): Policy {
  return {
    name: "loopbackBearer",
    async sendRequest(request, next) {
      if (!isLoopbackHttp(request.url))
        throw new Error("a plain-http ARM call must stay on loopback");
      const token = await credential.getToken([]);
      if (token) request.headers.set("authorization", `Bearer ${token.token}`);
      return next(request);
    },
  };
}

/** A call ARM did not answer within its time (a hung connection, a server that never replies). */
class ArmTimeout extends Error {
  override readonly name = "ArmTimeout";
  constructor(timeoutMs: number) {
    super(`ARM did not answer within ${timeoutMs / 1000} s`);
  }
}

type Request = Parameters<Policy["sendRequest"]>[0];
type Response = Awaited<ReturnType<Policy["sendRequest"]>>;

/** The last answer to each call in flight, of any of its tries (the request is the same). */
const lastAnswers = new WeakMap<Request, Response>();

const rememberLastAnswer: Policy = {
  name: "rememberLastArmAnswer",
  async sendRequest(request, next) {
    const response = await next(request);
    lastAnswers.set(request, response);
    return response;
  },
};

/**
 * Bounds a call, retries included: outside the SDK's retry loop, its signal ends the request in
 * flight or the wait before a retry. Out of time waiting to retry an answer (a 503), the call fails
 * as that answer did, which says more than the time; else as timed out. The adapter gives the SDK
 * no signal of its own.
 */
function timeLimit(timeoutMs: number): Policy {
  return {
    name: "armCallTimeLimit",
    async sendRequest(request, next) {
      const timeout = AbortSignal.timeout(timeoutMs);
      request.abortSignal = timeout;
      try {
        return await next(request);
      } catch (error) {
        if (!timeout.aborted) throw error;
        const answered = lastAnswers.get(request);
        if (!answered) throw new ArmTimeout(timeoutMs);
        throw new ArmAnswer(
          answered,
          `ARM answered ${answered.status}, retried for the call's ${timeoutMs / 1000} s`,
        );
      }
    },
  };
}

/**
 * What `armFailure` reads of an error: a failed answer the SDK was not let to retry (a throttled
 * one asking for too long a wait, or one whose call ran out of time).
 */
class ArmAnswer extends Error {
  override readonly name = "ArmAnswer";
  readonly statusCode: number;
  constructor(
    readonly response: Response,
    message: string,
  ) {
    super(message);
    this.statusCode = response.status;
  }
}

/**
 * Runs inside the SDK's retry loop, before its throttling retry sees the answer: an error that is
 * not the SDK's own ends the loop (the SDK would otherwise sleep out any `Retry-After`, each retry).
 */
function refuseLongRetryAfter(maxSeconds: number): Policy {
  return {
    name: "refuseLongRetryAfter",
    async sendRequest(request, next) {
      const response = await next(request);
      const retryAfter = retryAfterSeconds(response.headers);
      if ((response.status === 429 || response.status === 503) && retryAfter > maxSeconds) {
        throw new ArmAnswer(
          response,
          `ARM asked to retry after ${retryAfter} s, longer than the ${maxSeconds} s waited`,
        );
      }
      return response;
    },
  };
}

/** ARM's `Retry-After` is in seconds; an absent or unreadable one is `NaN`. */
function retryAfterSeconds(headers: { get(name: string): string | undefined }): number {
  const value = headers.get("retry-after");
  return value === undefined || value.trim() === "" ? Number.NaN : Number(value);
}

/** The entries of the log page last received, as ARM sent them, in its order. */
interface RawPage {
  entries?: unknown[];
}

function keepRawEntries(into: RawPage): Policy {
  return {
    name: "keepRawLogEntries",
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status === 200 && response.bodyAsText) {
        try {
          const body = JSON.parse(response.bodyAsText) as { value?: unknown };
          into.entries = Array.isArray(body.value) ? body.value : undefined;
        } catch {
          // Not JSON: the SDK reports it.
        }
      }
      return response;
    },
  };
}

/** A log entry (raw, or the SDK's model of it: the same fields) as the port describes it. */
function loggedDelivery(entry: unknown): LoggedDelivery {
  const { id, eventRequestMessage: request, eventResponseMessage: response } = fieldsOf(entry);
  const { content, requestUri, headers } = fieldsOf(request);
  const status = Number(fieldsOf(response).statusCode);
  return {
    logId: typeof id === "string" ? id : "",
    content,
    requestUri: requestUri ?? undefined,
    requestHeaders: headers ?? undefined,
    responseStatus: Number.isInteger(status) && status > 0 ? status : undefined,
  };
}

/** The fields of a JSON object; none of anything else (a log entry or its message may be null). */
function fieldsOf(value: unknown): { [field: string]: unknown } {
  return typeof value === "object" && value !== null ? (value as { [field: string]: unknown }) : {};
}

interface RestErrorLike {
  statusCode?: number;
  message?: string;
  response?: { headers?: { get(name: string): string | undefined } };
}

function armFailure(operation: string, error: unknown): ArmFailure {
  if (error instanceof ArmTimeout) return { kind: "timed-out", operation, message: error.message };
  const rest = (typeof error === "object" && error !== null ? error : {}) as RestErrorLike;
  const status = typeof rest.statusCode === "number" ? rest.statusCode : undefined;
  const retryAfter = rest.response?.headers ? retryAfterSeconds(rest.response.headers) : Number.NaN;
  return {
    kind: failureKind(status),
    operation,
    status,
    retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
    // The first line only: ARM messages name the resource, never a secret.
    message: (rest.message ?? String(error)).split("\n")[0].slice(0, 300),
  };
}

function failureKind(status: number | undefined): ArmFailureKind {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not-found";
  if (status === 429) return "throttled";
  if (status === undefined || status >= 500) return "unavailable";
  return "failed";
}
