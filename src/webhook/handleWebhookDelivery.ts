import { randomUUID } from "node:crypto";
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { MAX_REQUEST_CHARS } from "../adapters/deliveryEntity";
import type { CrossCheckSettings, WebhookSettings } from "../config";
import { describeFieldIssues, validateAcrWebhookPayload } from "../core/acrWebhookPayload";
import { describeConflict, type IngestPorts, ingestDelivery } from "../core/ingestDelivery";
import { receivedRequest } from "../core/keptRequest";
import { printable } from "../core/printable";
import { registryEventFromWebhook } from "../core/registryEvent";
import { resolveRegistry } from "../core/registryIdentity";
import { type RoutingTable, routeForEvent } from "../core/routing";
import { authenticateWebhook } from "../core/webhookAuth";
import {
  dependencyUnavailableResponse,
  type ErrorBody,
  errorResponse,
  invalidQueryResponse,
} from "../http/errorResponse";
import { readJsonBody } from "../http/readBody";
import { countIngest, countRefusal, dependencyFailureOf, inSpan } from "../telemetry/instruments";
import { parseWebhookQuery } from "./webhookQuery";

export interface WebhookDependencies extends Omit<IngestPorts, "windowMs"> {
  settings: WebhookSettings;
  routing: RoutingTable;
  crossCheckSettings: CrossCheckSettings;
}

/** authenticate -> size limit -> parse -> validate -> record -> publish -> mark -> respond. */
export async function handleWebhookDelivery(
  request: HttpRequest,
  context: InvocationContext,
  deps: WebhookDependencies,
): Promise<HttpResponseInit> {
  const receivedAt = Date.now();
  const { settings } = deps;
  const auth = authenticateWebhook(settings.auth, request.headers.get(settings.auth.header));
  if (!auth.ok) {
    const challenge = settings.auth.header === "authorization" ? "Bearer" : settings.auth.header;
    const response = errorResponse(
      401,
      "unauthorized",
      "missing or wrong webhook secret",
      undefined,
      { "WWW-Authenticate": challenge },
    );
    return refused(context, response, auth.failure);
  }

  const body = await readJsonBody(request, settings.maxBodyBytes);
  if (!body.ok) return refused(context, body.failure);

  const validation = validateAcrWebhookPayload(body.value);
  if (!validation.ok) {
    const response = errorResponse(400, "invalid_payload", "the body is not an ACR webhook event", {
      issues: validation.failure,
    });
    return refused(context, response, describeFieldIssues(validation.failure));
  }
  const query = parseWebhookQuery(request.query);
  if (!query.ok) {
    return refused(
      context,
      invalidQueryResponse(query.failure),
      describeFieldIssues(query.failure),
    );
  }

  const payload = validation.value;
  const event = registryEventFromWebhook(payload, {
    registry: resolveRegistry(payload, query.value.registry, settings.loginServer),
    region: query.value.region,
    receivedAt,
    fallbackEventId: randomUUID(),
  });
  const route = routeForEvent(event, deps.routing);
  if (route.kind === "not-routed" && route.reason === "unknown-action") {
    context.warn(
      `unknown action '${event.action}' for event ${event.eventId}: recorded, not routed`,
    );
  }

  const ingested = await inSpan(
    "acr.webhook.delivery",
    { "acr.event_id": event.eventId, "acr.action": event.action, "acr.registry": event.registry },
    () =>
      ingestDelivery(
        {
          event,
          route,
          receivedAt,
          request: receivedRequest(request, {
            authHeader: settings.auth.header,
            secrets: settings.maskedSecrets,
            maxChars: MAX_REQUEST_CHARS,
          }),
        },
        { ...deps, windowMs: deps.crossCheckSettings.windowMs },
      ),
    dependencyFailureOf,
  );
  if (!ingested.ok) {
    return dependencyUnavailableResponse(ingested.failure, (reason) =>
      context.error(`event ${event.eventId} not recorded: ${reason}`),
    );
  }
  const result = ingested.value;
  if (result.conflictingFields) {
    const why = `event id ${result.eventId} was ${describeConflict(result.conflictingFields)}`;
    return refused(
      context,
      errorResponse(409, "event_id_conflict", why, { fields: result.conflictingFields }),
    );
  }
  countIngest(result, "webhook");
  const bookkeepingFailed = (warn: (line: string) => void, warnings: string[]) => {
    for (const warning of warnings) {
      warn(`event ${result.eventId} bookkeeping failed: ${warning}`);
    }
  };
  bookkeepingFailed((line) => context.warn(line), result.warnings);
  // Settles after the answer, when the invocation's context may no longer log.
  void result.settling?.then((warnings) => bookkeepingFailed(console.warn, warnings));
  if (result.publishError) {
    context.warn(`event ${result.eventId} recorded, publish pending: ${result.publishError}`);
  }
  context.log(
    `event ${result.eventId} ${result.action} registry=${event.registry} state=${result.publishState}` +
      `${result.duplicate ? ` duplicate deliveries=${result.deliveryCount}` : ""}`,
  );
  return {
    status: 200,
    jsonBody: {
      id: result.eventId,
      action: result.action,
      registry: event.registry,
      duplicate: result.duplicate,
      deliveryCount: result.deliveryCount,
      publishState: result.publishState,
      topic: result.topic,
      notRoutedReason: result.notRoutedReason,
      coveredBy: result.coveredBy,
      journaled: result.journaled,
    },
  };
}

/**
 * A delivery answered 4xx is lost (ACR does not send it again): one warning and one count each,
 * so that no refusal goes unseen. `why` adds what the answer's message leaves out.
 */
function refused(
  context: InvocationContext,
  response: HttpResponseInit,
  why?: string,
): HttpResponseInit {
  const { error } = response.jsonBody as ErrorBody;
  const status = response.status ?? 400;
  const detail = why === undefined ? "" : ` (${printable(why)})`;
  context.warn(`webhook refused: ${status} ${error.code}: ${printable(error.message)}${detail}`);
  countRefusal(status, error.code);
  return response;
}
