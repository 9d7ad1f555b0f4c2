import { expect } from "vitest";
import { type BridgeEndpoint, TEST_SECRET } from "./localStack";

/**
 * The headers of a webhook delivery as ACR sends it with the test secret: `Authorization: Bearer`
 * and a JSON content type. An override replaces a header; `null` leaves it out.
 */
export function webhookHeaders(
  overrides: Record<string, string | null> = {},
): Record<string, string> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${TEST_SECRET}`,
    "content-type": "application/json",
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  return headers;
}

export interface WebhookRequest {
  /** Appended to the webhook's URL, e.g. `?region=westeurope`. */
  query?: string;
  headers?: Record<string, string | null>;
  /** POST unless said. */
  method?: string;
}

/** Sends `body` as it is to the stack's webhook with the test secret. */
export function postWebhook(
  stack: BridgeEndpoint,
  body: RequestInit["body"],
  request: WebhookRequest = {},
): Promise<Response> {
  return fetch(`${stack.webhookUrl}${request.query ?? ""}`, {
    method: request.method ?? "POST",
    headers: webhookHeaders(request.headers),
    body,
  });
}

/** Sends `payload` as JSON to the stack's webhook with the test secret. */
export function postWebhookJson(
  stack: BridgeEndpoint,
  payload: unknown,
  request: WebhookRequest = {},
): Promise<Response> {
  return postWebhook(stack, JSON.stringify(payload), request);
}

/** Sends `payload` as JSON to the stack's webhook, expects a 200, and returns the answer. */
export async function deliverWebhook(
  stack: BridgeEndpoint,
  payload: unknown,
  query = "",
): Promise<Record<string, unknown>> {
  const response = await postWebhookJson(stack, payload, { query });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}
