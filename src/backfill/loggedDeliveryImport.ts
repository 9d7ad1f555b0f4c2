import { z } from "zod";
import { describeFieldIssues, validateAcrWebhookPayload } from "../core/acrWebhookPayload";
import type { NewDelivery } from "../core/deliveryRecord";
import { hostTrustOf, registryNameOfResourceId } from "../core/eventGridTrust";
import { recordedLoggedRequest } from "../core/loggedRequest";
import { registryEventFromWebhook } from "../core/registryEvent";
import { resolveRegistry } from "../core/registryIdentity";
import type { LoggedDelivery } from "../core/registryWebhooks";
import { type RoutingTable, routeForEvent } from "../core/routing";
import { parseWebhookQuery } from "../webhook/webhookQuery";

export interface LogImportContext {
  /** The resource id of the registry whose log the entry is in. */
  registryId: string;
  routing: RoutingTable;
  /** `ACR_LOGIN_SERVER`: what the webhook would have used for an event that names no registry. */
  loginServer?: string;
  authHeader: string;
  secrets: readonly string[];
  /** `WEBHOOK_MAX_BODY_BYTES`: the webhook refuses a larger body, and a record holds no more. */
  maxBodyBytes: number;
  /** The most a record holds of the logged request, in characters of JSON. */
  maxRequestChars: number;
  /** When the import happens (the delivery's `receivedAt`). */
  now: number;
}

export type LogImport =
  | { kind: "delivery"; delivery: NewDelivery }
  /** Pings are the health check's business: never imported. */
  | { kind: "ping" }
  | { kind: "unusable"; why: string };

/**
 * What the webhook would have made of the logged request: the same validation, the same registry
 * and region (from the logged URI's `registry` and `region`), so the same record keys and message
 * id; the origin is `acr-log` and the response ACR logged is kept with the request, without the
 * credentials it may carry (`loggedRequest.ts`).
 */
export function importFromLog(entry: LoggedDelivery, context: LogImportContext): LogImport {
  if (typeof entry.content !== "object" || entry.content === null) {
    return { kind: "unusable", why: "the log entry has no request body" };
  }
  const validation = validateAcrWebhookPayload(entry.content);
  if (!validation.ok) {
    return {
      kind: "unusable",
      why: `not an ACR event (${describeFieldIssues(validation.failure)})`,
    };
  }
  // After the validation, which refuses a nesting too deep to serialise.
  if (Buffer.byteLength(JSON.stringify(entry.content)) > context.maxBodyBytes) {
    return {
      kind: "unusable",
      why: `the request body is larger than WEBHOOK_MAX_BODY_BYTES (${context.maxBodyBytes} bytes)`,
    };
  }
  const payload = validation.value;
  if (payload.action === "ping") return { kind: "ping" };
  if (!payload.id) return { kind: "unusable", why: "the event has no id" };
  if (!payload.timestamp) return { kind: "unusable", why: "the event has no timestamp" };

  let uri: URL | undefined;
  if (entry.requestUri !== undefined && entry.requestUri !== "") {
    if (typeof entry.requestUri !== "string" || !URL.canParse(entry.requestUri)) {
      return { kind: "unusable", why: "the logged request URI is not a URL" };
    }
    uri = new URL(entry.requestUri);
  }
  const headers = entry.requestHeaders ?? {};
  if (!loggedHeaders.safeParse(headers).success) {
    return { kind: "unusable", why: "the logged request headers are not names with text values" };
  }
  const query = parseWebhookQuery(uri?.searchParams ?? new URLSearchParams());
  if (!query.ok) {
    return {
      kind: "unusable",
      why: `the logged request URI is invalid (${describeFieldIssues(query.failure)})`,
    };
  }
  const event = {
    ...registryEventFromWebhook(payload, {
      registry: resolveRegistry(payload, query.value.registry, context.loginServer),
      region: query.value.region,
      receivedAt: context.now,
      fallbackEventId: payload.id,
    }),
    origin: "acr-log" as const,
  };
  // As for Event Grid: an event naming another ACR registry than its source is not genuine.
  if (hostTrustOf(context.registryId, event.registry).kind === "untrusted") {
    const source = registryNameOfResourceId(context.registryId);
    return {
      kind: "unusable",
      why: `the event is of registry ${event.registry}, not of the registry whose log it is in (${source})`,
    };
  }
  return {
    kind: "delivery",
    delivery: {
      event,
      route: routeForEvent(event, context.routing),
      receivedAt: context.now,
      request: recordedLoggedRequest(
        // Checked above: the object itself, not the parser's copy, which drops a `__proto__` name.
        { uri, headers: headers as Record<string, string>, responseStatus: entry.responseStatus },
        {
          authHeader: context.authHeader,
          secrets: context.secrets,
          maxChars: context.maxRequestChars,
        },
      ),
    },
  };
}

const loggedHeaders = z.record(z.string(), z.string());
