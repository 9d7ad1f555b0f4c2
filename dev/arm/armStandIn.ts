import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for the Container Registry webhook operations of ARM that
 * `@azure/arm-containerregistry` calls (list, get, getCallbackConfig, listEvents, ping), in the
 * shapes of the REST spec (`Microsoft.ContainerRegistry`, `webhooks`), behind a bearer token.
 * Like ACR, it delivers: `deliver` and `ping` POST the event to the webhook's service URI with its
 * custom headers, wait at most `deliveryTimeoutMs`, and log the request and the response (status,
 * or none on a timeout) in the webhook's event log, newest first, paged with `nextLink`.
 */
export interface StandInWebhook {
  name: string;
  location: string;
  status: "enabled" | "disabled";
  scope: string;
  actions: string[];
  serviceUri: string;
  customHeaders: Record<string, string>;
}

export interface LoggedEvent {
  id: string;
  eventRequestMessage: {
    content: Record<string, unknown>;
    headers: Record<string, string>;
    method: string;
    requestUri: string;
    version: string;
  };
  eventResponseMessage?: {
    headers: Record<string, string>;
    statusCode: string;
    reasonPhrase?: string;
    version: string;
  };
}

/**
 * A scripted ARM failure: the next `times` calls of `operation` (about `registryId` only, when
 * given) get this status, or (`hang`) are accepted and never answered, until the caller gives up
 * or the stand-in stops.
 */
export interface ArmFault {
  operation: ArmOperation;
  registryId?: string;
  status: number | "hang";
  retryAfterSeconds?: number;
  times: number;
}

export type ArmOperation = "list" | "get" | "getCallbackConfig" | "listEvents" | "ping";

/** A call the stand-in received: of which operation, about which registry, with the token or not. */
export interface ArmCall {
  operation: ArmOperation;
  registryId: string;
  authorized: boolean;
}

interface RegistryState {
  resourceId: string;
  webhooks: Map<string, StandInWebhook & { log: LoggedEvent[] }>;
}

export interface ArmStandInOptions {
  port?: number;
  /** The bearer token it accepts; anything else gets 401. */
  token: string;
  /** Log entries per listEvents page. */
  pageSize?: number;
  /** ACR waits about 5 s for the receiver. */
  deliveryTimeoutMs?: number;
}

export const API_PATH =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerRegistry\/registries\/([^/]+)\/webhooks(?:\/([^/]+)(?:\/(getCallbackConfig|listEvents|ping))?)?$/i;

export class ArmStandIn {
  readonly #registries = new Map<string, RegistryState>();
  readonly #faults: ArmFault[] = [];
  readonly #calls: ArmCall[] = [];
  #server?: Server;
  #url = "";

  constructor(private readonly options: ArmStandInOptions) {}

  get url(): string {
    return this.#url;
  }

  /** Every call so far, in order. */
  calls(): readonly ArmCall[] {
    return this.#calls;
  }

  async start(): Promise<string> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        sendJson(response, 500, armError("InternalServerError", String(error)));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port ?? 0, "127.0.0.1", resolve);
    });
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.#url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  addRegistry(resourceId: string): void {
    if (!this.#registries.has(resourceId.toLowerCase())) {
      this.#registries.set(resourceId.toLowerCase(), { resourceId, webhooks: new Map() });
    }
  }

  /** Creates or replaces a webhook (its log is kept when it is replaced, as ACR's update does). */
  setWebhook(resourceId: string, webhook: StandInWebhook): void {
    const registry = this.#registry(resourceId);
    const log = registry.webhooks.get(webhook.name.toLowerCase())?.log ?? [];
    registry.webhooks.set(webhook.name.toLowerCase(), { ...webhook, log });
  }

  /** Deletes a registry, its webhooks with it: ARM answers 404 for it from then on. */
  removeRegistry(resourceId: string): void {
    this.#registries.delete(resourceId.toLowerCase());
  }

  /** Deletes a webhook, its log with it, as `az acr webhook delete` does. */
  removeWebhook(resourceId: string, name: string): void {
    this.#registry(resourceId).webhooks.delete(name.toLowerCase());
  }

  webhook(resourceId: string, name: string): StandInWebhook {
    const found = this.#registry(resourceId).webhooks.get(name.toLowerCase());
    if (!found) throw new Error(`no webhook ${name}`);
    return found;
  }

  fail(fault: ArmFault): void {
    this.#faults.push({ ...fault });
  }

  clearFaults(): void {
    this.#faults.splice(0);
  }

  /** A webhook's delivery log, newest first. */
  log(resourceId: string, webhookName: string): readonly LoggedEvent[] {
    return this.#webhookState(resourceId, webhookName).log;
  }

  /** ACR's attempt to deliver one event: one POST, no retry, logged with what came back. */
  async deliver(
    resourceId: string,
    webhookName: string,
    content: Record<string, unknown>,
  ): Promise<LoggedEvent> {
    const webhook = this.#webhookState(resourceId, webhookName);
    const body = JSON.stringify(content);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "Content-Length": String(Buffer.byteLength(body)),
      ...webhook.customHeaders,
    };
    let eventResponseMessage: LoggedEvent["eventResponseMessage"];
    try {
      const response = await fetch(webhook.serviceUri, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(this.options.deliveryTimeoutMs ?? 5000),
      });
      await response.arrayBuffer();
      eventResponseMessage = {
        headers: Object.fromEntries(response.headers),
        statusCode: String(response.status),
        reasonPhrase: response.statusText,
        version: "1.1",
      };
    } catch {
      // A timeout or a refused connection: ACR logs the request without a response.
      eventResponseMessage = undefined;
    }
    return this.#log(webhook, {
      id: randomUUID(),
      eventRequestMessage: {
        content,
        headers: maskAuthorization(headers),
        method: "POST",
        requestUri: webhook.serviceUri,
        version: "1.1",
      },
      eventResponseMessage,
    });
  }

  /** Adds an entry to a webhook's log as it stands, without delivering anything. */
  logEvent(resourceId: string, webhookName: string, entry: LoggedEvent): void {
    this.#log(this.#webhookState(resourceId, webhookName), entry);
  }

  #log(webhook: { log: LoggedEvent[] }, entry: LoggedEvent): LoggedEvent {
    webhook.log.unshift(entry);
    return entry;
  }

  #registry(resourceId: string): RegistryState {
    const registry = this.#registries.get(resourceId.toLowerCase());
    if (!registry) throw new Error(`no registry ${resourceId}`);
    return registry;
  }

  #webhookState(resourceId: string, name: string) {
    const found = this.#registry(resourceId).webhooks.get(name.toLowerCase());
    if (!found) throw new Error(`no webhook ${name}`);
    return found;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for await (const _ of request) {
      // The operations take no body; drain it.
    }
    const url = new URL(request.url ?? "/", this.#url);
    const match = API_PATH.exec(url.pathname);
    if (!match) {
      sendJson(response, 404, armError("InvalidResourceType", `no route ${url.pathname}`));
      return;
    }
    const [, subscription, group, registryName, webhookName, action] = match;
    const operation = operationOf(request.method ?? "GET", webhookName, action);
    const resourceId = `/subscriptions/${subscription}/resourceGroups/${group}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
    const authorized = request.headers.authorization === `Bearer ${this.options.token}`;
    if (operation) this.#calls.push({ operation, registryId: resourceId, authorized });
    if (!authorized) {
      sendJson(response, 401, armError("AuthenticationFailed", "missing or wrong bearer token"), {
        "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common"',
      });
      return;
    }
    if (!operation) {
      sendJson(response, 405, armError("MethodNotAllowed", `${request.method} not supported`));
      return;
    }
    if (!url.searchParams.get("api-version")) {
      sendJson(response, 400, armError("MissingApiVersionParameter", "api-version is required"));
      return;
    }
    const fault = this.#faults.find(
      (candidate) =>
        candidate.operation === operation &&
        (candidate.registryId === undefined ||
          candidate.registryId.toLowerCase() === resourceId.toLowerCase()),
    );
    if (fault) {
      if (--fault.times <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
      if (fault.status === "hang") return;
      const headers: Record<string, string> = fault.retryAfterSeconds
        ? { "Retry-After": String(fault.retryAfterSeconds) }
        : {};
      sendJson(response, fault.status, armError(faultCode(fault.status), "scripted"), headers);
      return;
    }
    const registry = this.#registries.get(resourceId.toLowerCase());
    if (!registry) {
      sendJson(response, 404, armError("ResourceNotFound", `registry ${registryName} not found`));
      return;
    }
    if (operation === "list") {
      const value = [...registry.webhooks.values()].map((webhook) =>
        webhookResource(registry.resourceId, webhook),
      );
      sendJson(response, 200, { value });
      return;
    }
    const webhook = registry.webhooks.get(webhookName.toLowerCase());
    if (!webhook) {
      sendJson(response, 404, armError("ResourceNotFound", `webhook ${webhookName} not found`));
      return;
    }
    switch (operation) {
      case "get":
        sendJson(response, 200, webhookResource(registry.resourceId, webhook));
        return;
      case "getCallbackConfig":
        sendJson(response, 200, {
          serviceUri: webhook.serviceUri,
          customHeaders: webhook.customHeaders,
        });
        return;
      case "listEvents":
        sendJson(response, 200, this.#page(webhook.log, url));
        return;
      case "ping": {
        const id = randomUUID();
        // ACR answers the ping call at once and delivers on its own; a disabled webhook sends nothing.
        if (webhook.status === "enabled") {
          void this.deliver(registry.resourceId, webhook.name, {
            id,
            timestamp: new Date().toISOString(),
            action: "ping",
          });
        }
        sendJson(response, 200, { id });
        return;
      }
    }
  }

  #page(log: readonly LoggedEvent[], url: URL): { value: LoggedEvent[]; nextLink?: string } {
    const pageSize = this.options.pageSize ?? 100;
    const skip = Number(url.searchParams.get("$skipToken") ?? "0") || 0;
    const value = log.slice(skip, skip + pageSize);
    if (skip + pageSize >= log.length) return { value };
    const next = new URL(url.toString());
    next.searchParams.set("$skipToken", String(skip + pageSize));
    return { value, nextLink: next.toString() };
  }
}

function operationOf(
  method: string,
  webhookName: string | undefined,
  action: string | undefined,
): ArmOperation | undefined {
  if (!webhookName) return method === "GET" ? "list" : undefined;
  if (!action) return method === "GET" ? "get" : undefined;
  const lower = action.toLowerCase();
  // The SDK follows a listEvents `nextLink` with GET.
  if (lower === "listevents")
    return method === "POST" || method === "GET" ? "listEvents" : undefined;
  if (method !== "POST") return undefined;
  return lower === "getcallbackconfig" ? "getCallbackConfig" : "ping";
}

function webhookResource(resourceId: string, webhook: StandInWebhook) {
  return {
    id: `${resourceId}/webhooks/${webhook.name}`,
    name: webhook.name,
    type: "Microsoft.ContainerRegistry/registries/webhooks",
    location: webhook.location,
    tags: {},
    properties: {
      status: webhook.status,
      scope: webhook.scope,
      actions: webhook.actions,
      provisioningState: "Succeeded",
    },
  };
}

/** ACR logs custom headers with the Authorization value masked. */
function maskAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      name.toLowerCase() === "authorization" ? "******" : value,
    ]),
  );
}

function faultCode(status: number): string {
  if (status === 403) return "AuthorizationFailed";
  if (status === 429) return "TooManyRequests";
  return "InternalServerError";
}

function armError(code: string, message: string) {
  return { error: { code, message } };
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}
