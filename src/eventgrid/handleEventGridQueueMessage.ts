import type { InvocationContext } from "@azure/functions";
import { type ParsedEventGridEvent, parseEventGridBody } from "../adapters/eventGridParsing";
import type { EventGridSettings } from "../config";
import { describeFieldIssues } from "../core/acrWebhookPayload";
import type { RecordedRequest } from "../core/deliveryRecord";
import { decodeUtf8, parseJsonText } from "../core/parseJsonText";
import type { DependencyFailure, DependencyResult } from "../core/ports";
import type { Result } from "../core/result";
import type { EventGridSummary } from "./ingestEventGridEvents";

/**
 * What becomes of one queue message: settled as done, dead-lettered with a reason, or abandoned
 * for Service Bus to deliver again because a dependency did not answer.
 */
export type QueueMessageOutcome =
  | { kind: "complete" }
  | { kind: "deadLetter"; reason: PoisonReason; description: string }
  | { kind: "abandon"; failure: DependencyFailure };

/** `DeadLetterReason` of a message a redelivery could not mend. */
export type PoisonReason =
  | "NotJson"
  | "InvalidEvent"
  | "UntrustedSource"
  | "UnsupportedEventType"
  | "ConflictingEventId"
  | "SubscriptionValidation";

/** The one entry into recording: the same as the HTTP endpoint's and the Event Grid trigger's. */
export type IngestEvents = (
  events: readonly ParsedEventGridEvent[],
  request: RecordedRequest,
  context: InvocationContext,
) => Promise<DependencyResult<EventGridSummary>>;

export interface QueueMessage {
  /** As the Service Bus extension decoded it: parsed JSON, text, or bytes. */
  body: unknown;
  messageId?: unknown;
}

// Service Bus keeps DeadLetterErrorDescription short; the log has the full story.
const MAX_DESCRIPTION_LENGTH = 1024;

/**
 * One message of the queue Event Grid delivers to: one Event Grid schema event or CloudEvent (an
 * array is taken too), parsed, trusted, recorded and cross-checked exactly as the other two
 * intakes do. What a retry cannot mend (not JSON, not an event, a foreign or missing source, no
 * ACR event at all) comes back as `deadLetter` with the reason, after the rejections have been
 * counted; a storage outage comes back as `abandon`, so the message is redelivered.
 */
export async function handleEventGridQueueMessage(
  message: QueueMessage,
  queueName: string,
  context: InvocationContext,
  settings: EventGridSettings,
  ingest: IngestEvents,
): Promise<QueueMessageOutcome> {
  const json = decodeBody(message.body);
  if (!json.ok) {
    return poison(
      "NotJson",
      json.failure === "invalid-utf8"
        ? "the message body is not UTF-8"
        : "the message body is not JSON",
    );
  }

  const parsed = await parseEventGridBody(json.value, {
    trustedResourceIds: settings.trustedResourceIds,
  });
  if (parsed.kind === "invalid") return poison("InvalidEvent", describeFieldIssues(parsed.issues));
  if (parsed.kind === "validation") {
    // Event Grid validates webhook endpoints only; on a queue it is someone else's message.
    return poison("SubscriptionValidation", "a subscription validation event on a queue");
  }

  const ingested = await ingest(
    parsed.events,
    {
      method: "SERVICEBUS",
      uri: `sb://${queueName}/${encodeURIComponent(String(message.messageId ?? ""))}`,
      headers: {},
    },
    context,
  );
  if (!ingested.ok) return { kind: "abandon", failure: ingested.failure };
  const summary = ingested.value;
  if (parsed.issues.length > 0) return poison("InvalidEvent", describeFieldIssues(parsed.issues));
  if (summary.rejected > 0) {
    const sources = parsed.events.flatMap((event) =>
      event.kind === "untrusted" ? [`${event.source ?? "(no source)"} (${event.reason})`] : [],
    );
    return poison(
      "UntrustedSource",
      `not genuine events of a trusted registry (ACR_RESOURCE_IDS): ${sources.join(", ")}`,
    );
  }
  if (summary.conflicting > 0) {
    return poison(
      "ConflictingEventId",
      `${summary.conflicting} event(s) whose id was recorded with other content: not recorded`,
    );
  }
  if (summary.accepted + summary.duplicates === 0) {
    const types = parsed.events.map((event) => event.type);
    return poison("UnsupportedEventType", `no ACR event: ${types.join(", ")}`);
  }
  return { kind: "complete" };
}

function poison(reason: PoisonReason, description: string): QueueMessageOutcome {
  return {
    kind: "deadLetter",
    reason,
    description: description.slice(0, MAX_DESCRIPTION_LENGTH),
  };
}

/**
 * Event Grid writes the event as JSON bytes (UTF-8); the extension hands over text unless told
 * JSON. Bytes that are not UTF-8 are refused, as the HTTP intakes refuse them.
 */
function decodeBody(body: unknown): Result<unknown, "not-json" | "invalid-utf8"> {
  if (!(body instanceof Uint8Array)) return parseJsonText(body);
  const text = decodeUtf8(body);
  return text.ok ? parseJsonText(text.value) : text;
}
