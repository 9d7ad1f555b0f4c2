import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { MAX_REQUEST_CHARS } from "../adapters/deliveryEntity";
import { parseEventGridBody } from "../adapters/eventGridParsing";
import type { EventGridSettings } from "../config";
import { receivedRequest } from "../core/keptRequest";
import { checkSecret, presentedSecret } from "../core/webhookAuth";
import { dependencyUnavailableResponse, errorResponse } from "../http/errorResponse";
import { readJsonBody } from "../http/readBody";
import { type EventGridDependencies, ingestEventGridEvents } from "./ingestEventGridEvents";

export interface EventGridEndpointSettings extends EventGridSettings {
  secrets: readonly string[];
  /** Every secret the bridge accepts on any route, masked in what a record keeps. */
  maskedSecrets: readonly string[];
  maxBodyBytes: number;
}

/**
 * `POST /api/eventgrid` for webhook-type Event Grid subscriptions: the subscription-validation
 * handshake, Event Grid schema arrays and CloudEvents (single or batch), and the CloudEvents
 * OPTIONS abuse-protection handshake. 400 for what Event Grid should not retry, 503 for what it
 * should (storage down).
 */
export async function handleEventGridRequest(
  request: HttpRequest,
  context: InvocationContext,
  settings: EventGridEndpointSettings,
  deps: EventGridDependencies,
): Promise<HttpResponseInit> {
  if (request.method === "OPTIONS") return abuseProtectionHandshake(request);

  const candidate =
    presentedSecret(
      { secrets: settings.secrets, header: "authorization" },
      request.headers.get("authorization"),
    ) ??
    request.query.get("key") ??
    undefined;
  const auth = checkSecret(settings.secrets, candidate);
  if (!auth.ok) {
    context.warn(`event grid request refused: ${auth.failure}`);
    return errorResponse(401, "unauthorized", "missing or wrong Event Grid endpoint secret");
  }

  const body = await readJsonBody(request, settings.maxBodyBytes);
  if (!body.ok) return body.failure;

  const parsed = await parseEventGridBody(body.value, {
    trustedResourceIds: settings.trustedResourceIds,
  });
  if (parsed.kind === "invalid") {
    return errorResponse(
      400,
      "invalid_events",
      "the body is not Event Grid or CloudEvents events",
      {
        issues: parsed.issues,
      },
    );
  }
  if (parsed.kind === "validation") {
    context.log("event grid subscription validation answered");
    return { status: 200, jsonBody: { validationResponse: parsed.validationCode } };
  }

  const ingested = await ingestEventGridEvents(
    parsed.events,
    receivedRequest(request, {
      authHeader: "authorization",
      secrets: settings.maskedSecrets,
      maxChars: MAX_REQUEST_CHARS,
    }),
    context,
    deps,
  );
  if (!ingested.ok) {
    return dependencyUnavailableResponse(ingested.failure, (reason) =>
      context.error(`event grid delivery not recorded: ${reason}`),
    );
  }
  if (parsed.issues.length > 0) {
    context.warn(`event grid batch: ${parsed.issues.length} invalid event(s) dropped`);
  }
  const refused = parsed.issues.length > 0 ? { invalid: parsed.issues } : {};
  return { status: 200, jsonBody: { ...ingested.value, ...refused } };
}

/** CloudEvents webhook validation: https://github.com/cloudevents/spec/blob/v1.0/http-webhook.md */
function abuseProtectionHandshake(request: HttpRequest): HttpResponseInit {
  const origin = request.headers.get("webhook-request-origin");
  if (!origin) {
    return errorResponse(400, "invalid_handshake", "OPTIONS needs a WebHook-Request-Origin header");
  }
  return {
    status: 200,
    headers: {
      "WebHook-Allowed-Origin": origin,
      "WebHook-Allowed-Rate": "*",
      Allow: "POST, OPTIONS",
    },
  };
}
