import type { IncomingMessage, ServerResponse } from "node:http";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import type { HostLog } from "./hostLog";
import { writeEmpty, writeError, writeJson } from "./httpResponses";
import type { Invoke } from "./invoke";

/** The Event Grid extension's endpoint; the function is chosen by `?functionName=`. */
export const EVENT_GRID_WEBHOOK_PATH = "/runtime/webhooks/eventgrid";

// The origins the extension echoes back in the CloudEvents handshake; anything else gets the first.
const EVENT_GRID_ORIGINS = [
  "eventgrid.azure.net",
  "eventgrid.azure.us",
  "eventgrid.azure.eaglex.ic.gov",
  "eventgrid.azure.microsoft.scloud",
  "eventgrid.azure.cn",
];

/**
 * Answers a delivery for an eventGrid-trigger function as the host's Event Grid extension does:
 * OPTIONS is the CloudEvents abuse-protection handshake; `aeg-event-type: SubscriptionValidation`
 * is answered with the validation code without calling the function; `Notification` calls the
 * function once per event (Event Grid or CloudEvents schema, a batch or a single object), all at
 * once, and answers 202, or 500 if any call failed so that Event Grid retries the delivery.
 */
export async function handleEventGridDelivery(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  fn: RegisteredFunction,
  invoke: Invoke,
  log: HostLog,
): Promise<void> {
  if (req.method === "OPTIONS") {
    const origin = String(req.headers["webhook-request-origin"] ?? "");
    writeEmpty(res, 200, {
      "webhook-allowed-origin": EVENT_GRID_ORIGINS.includes(origin)
        ? origin
        : EVENT_GRID_ORIGINS[0],
    });
    return;
  }
  if (req.method !== "POST") {
    writeError(res, 405, "method_not_allowed", "Event Grid deliveries are POST (or OPTIONS).", {
      allow: "POST, OPTIONS",
    });
    return;
  }

  const eventType = String(req.headers["aeg-event-type"] ?? "").toLowerCase();
  if (eventType === "unsubscribe") {
    writeEmpty(res, 202);
    return;
  }
  if (eventType !== "subscriptionvalidation" && eventType !== "notification") {
    writeError(
      res,
      400,
      "bad_request",
      'The "aeg-event-type" header must be SubscriptionValidation, Notification or Unsubscribe.',
    );
    return;
  }

  const payload = parseJson(body);
  if (typeof payload !== "object" || payload === null) {
    writeError(
      res,
      400,
      "invalid_body",
      "The body must be a JSON array of events or one event object.",
    );
    return;
  }

  if (eventType === "subscriptionvalidation") {
    const code = validationCode(payload);
    if (code === undefined) {
      writeError(
        res,
        400,
        "invalid_body",
        "No data.validationCode in the subscription validation event.",
      );
      return;
    }
    log(
      "information",
      "Host.EventGrid",
      `perform handshake with eventGrid for function: ${fn.name}`,
    );
    writeJson(res, 200, { validationResponse: code });
    return;
  }

  const events = serializeEach(Array.isArray(payload) ? payload : [payload]);
  if (events === undefined) {
    writeError(res, 400, "invalid_body", "An event nests too deeply to be handed to the function.");
    return;
  }
  const reason = `EventGrid trigger fired at ${new Date().toISOString()}`;
  const outcomes = await Promise.allSettled(
    events.map((json) => invoke(fn, { data: { json }, reason })),
  );
  if (outcomes.some((outcome) => outcome.status === "rejected")) {
    writeError(
      res,
      500,
      "internal_error",
      `Exception while executing function: Functions.${fn.name}`,
    );
    return;
  }
  writeEmpty(res, 202);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Each event as the JSON the function is handed, checked before any is called; undefined when
 * one nests too deeply to serialize (the parse took it, the stack does not).
 */
function serializeEach(events: readonly unknown[]): string[] | undefined {
  try {
    return events.map((event) => JSON.stringify(event));
  } catch {
    return undefined;
  }
}

function validationCode(payload: object): string | undefined {
  const event: unknown = Array.isArray(payload) ? payload[0] : payload;
  let data = (event as { data?: unknown } | undefined)?.data;
  // A CloudEvents-schema validation event carries its data JSON-encoded in a string.
  if (typeof data === "string") data = parseJson(Buffer.from(data));
  const code = (data as { validationCode?: unknown } | null | undefined)?.validationCode;
  return typeof code === "string" ? code : undefined;
}
