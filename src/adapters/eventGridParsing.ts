import type { EventGridDeserializer } from "@azure/eventgrid";
import { z } from "zod";
import {
  type FieldIssue,
  fieldPath,
  invalid,
  MAX_PAYLOAD_DEPTH,
  type Parsed,
  pathDeeperThan,
  text,
  toFieldIssues,
} from "../core/acrWebhookPayload";
import { type EventGridData, eventGridDataSchemaFor } from "../core/eventGridData";
import type { AcrEventGridEvent, EventGridSchema } from "../core/eventGridEvent";
import { hostTrustOf, trustOf, type UntrustedReason } from "../core/eventGridTrust";
import { parseJsonText } from "../core/parseJsonText";
import { MAX_PAYLOAD_CHARS } from "./deliveryEntity";

export type ParsedEventGridEvent =
  | ({ kind: "registry" } & AcrEventGridEvent)
  | { kind: "ignored"; envelopeId: string; type: string; reason: "unsupported-type" }
  | {
      kind: "untrusted";
      envelopeId: string;
      type: string;
      source?: string;
      /** The `request.host` refused as naming another registry (`foreign-host`). */
      host?: string;
      reason: UntrustedReason;
    };

export type SubscriptionValidation = {
  kind: "validation";
  validationCode: string;
  validationUrl?: string;
};

/** `invalid` is the sender's fault and gets a 400. */
export type EventGridBody =
  | SubscriptionValidation
  | {
      kind: "events";
      events: ParsedEventGridEvent[] /** Events of the batch refused. */;
      issues: FieldIssue[];
    }
  | { kind: "invalid"; issues: FieldIssue[] };

export interface EventGridParseOptions {
  trustedResourceIds: readonly string[];
}

const SUBSCRIPTION_VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent";

/**
 * The most events Event Grid puts in one delivery (`maxEventsPerBatch`). A body of more is not
 * Event Grid's: a megabyte of `{}` is 350,000 events, whose issues took seconds, most of a
 * gigabyte and an answer of 40 MB to report.
 */
export const MAX_EVENTS_PER_BODY = 5000;

let sharedDeserializer: EventGridDeserializer | undefined;

/** Loaded on the first Event Grid event: a host that only takes webhooks never loads it. */
function deserializer(): EventGridDeserializer {
  sharedDeserializer ??= new (
    require("@azure/eventgrid") as typeof import("@azure/eventgrid")
  ).EventGridDeserializer();
  return sharedDeserializer;
}

/** The envelope fields the bridge reports, refused with control characters before a log shows them. */
const envelopeSchemas = {
  eventgrid: z
    .looseObject({ id: text(256), eventType: text(256), topic: text(1024) })
    .transform((event) => ({ id: event.id, type: event.eventType, source: event.topic })),
  cloudevents: z
    .looseObject({ id: text(256), type: text(256), source: text(1024) })
    .transform((event) => ({ id: event.id, type: event.type, source: event.source })),
} as const;

const validationDataSchema = z.looseObject({
  validationCode: text(256).min(1),
  validationUrl: text(4096).optional(),
});

type Entry = ParsedEventGridEvent | SubscriptionValidation;

/**
 * Reads an HTTP body (one event or an array) or the one event the Functions Event Grid trigger
 * hands over, in the Event Grid schema or CloudEvents 1.0 (told apart by `specversion`).
 * Never throws: whatever the deserializer rejects comes back as `invalid`.
 */
export async function parseEventGridBody(
  body: unknown,
  options: EventGridParseOptions,
): Promise<EventGridBody> {
  if (!Array.isArray(body) && !isRecord(body)) {
    return invalidBody(fieldPath(), "must be an event object or an array of events");
  }
  const items: unknown[] = Array.isArray(body) ? body : [body];
  if (items.length === 0) return invalidBody(fieldPath(), "must hold at least one event");
  if (items.length > MAX_EVENTS_PER_BODY) {
    return invalidBody(fieldPath(), `must hold at most ${MAX_EVENTS_PER_BODY} events`);
  }

  const results = await Promise.all(
    items.map((item, index) => readEvent(item, Array.isArray(body) ? `[${index}]` : "", options)),
  );
  const issues = results.flatMap((result) => (result.ok ? [] : result.failure));
  const entries = results.flatMap((result) => (result.ok ? [result.value] : []));
  // Event Grid does not retry a 400, so a bad event must not take the good ones of its batch
  // down with it: they are taken, and the bad ones reported (a retry could not mend them).
  if (entries.length === 0) return { kind: "invalid", issues };

  const events: ParsedEventGridEvent[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry.kind !== "validation") events.push(entry);
    else if (items.length === 1) return entry;
    // Answering the handshake would acknowledge, and so lose, the events batched with it.
    else
      return invalidBody(
        fieldPath(`[${index}]`),
        "a subscription validation event must arrive alone",
      );
  }
  return { kind: "events", events, issues };
}

async function readEvent(
  item: unknown,
  at: string,
  options: EventGridParseOptions,
): Promise<Parsed<Entry>> {
  if (!isRecord(item)) return invalid(fieldPath(at), "must be an event object");
  const schema: EventGridSchema = item.specversion === undefined ? "eventgrid" : "cloudevents";

  // `data` has been seen arriving as a JSON string, which the deserializer would turn into a
  // character-indexed object. The deserializer also coerces arrays and numbers into objects, so
  // `data` is validated from this value, never from the deserializer's output.
  // Only the data of an event the bridge reads must be JSON: another type's is never looked at.
  const data = parseJsonText(item.data);
  const dataNotJson = invalid(fieldPath(at, "data"), "is a string that is not JSON");
  const prepared = withDeserializerDefaults(
    { ...item, data: data.ok ? data.value : item.data },
    schema,
  );

  try {
    if (schema === "eventgrid") await deserializer().deserializeEventGridEvents(prepared);
    else await deserializer().deserializeCloudEvents(prepared);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return invalid(fieldPath(at), `rejected by the Event Grid deserializer: ${reason}`);
  }

  const envelope = envelopeSchemas[schema].safeParse(prepared);
  if (!envelope.success) return { ok: false, failure: toFieldIssues(envelope.error, at) };
  const { id: envelopeId, type, source } = envelope.data;

  if (type === SUBSCRIPTION_VALIDATION_EVENT) {
    if (!data.ok) return dataNotJson;
    const validation = validationDataSchema.safeParse(data.value);
    if (!validation.success)
      return { ok: false, failure: toFieldIssues(validation.error, at, "data") };
    const { validationCode, validationUrl } = validation.data;
    return { ok: true, value: { kind: "validation", validationCode, validationUrl } };
  }
  const trust = trustOf(type, source, options.trustedResourceIds);
  if (trust.kind === "ignored") {
    return { ok: true, value: { kind: "ignored", envelopeId, type, reason: trust.reason } };
  }
  if (trust.kind === "untrusted") {
    // A source that is there is named, so the rejection log shows who sent the event.
    const named = trust.reason === "foreign-source" ? { source } : {};
    return {
      ok: true,
      value: { kind: "untrusted", envelopeId, type, ...named, reason: trust.reason },
    };
  }
  if (!data.ok) return dataNotJson;
  const parsed = eventGridDataSchemaFor(trust.type).safeParse(data.value);
  if (!parsed.success) return { ok: false, failure: toFieldIssues(parsed.error, at, "data") };
  // Stored and serialised recursively: refused here (400, not retried) rather than overflow there.
  const tooDeep = pathDeeperThan(data.value, MAX_PAYLOAD_DEPTH);
  if (tooDeep !== undefined) {
    return invalid(
      fieldPath(at, "data", tooDeep === "(body)" ? "" : tooDeep),
      `must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`,
    );
  }
  // Event Grid takes events of up to 1 MB, more than a record can hold: refused, not retried.
  if (JSON.stringify(data.value).length > MAX_PAYLOAD_CHARS) {
    return invalid(
      fieldPath(at, "data"),
      `must be at most ${MAX_PAYLOAD_CHARS} characters as JSON (a record holds no more)`,
    );
  }
  // The data itself, not the parser's copy, as for a webhook: the schema transforms nothing, and
  // the copy drops an own `__proto__` key (to spare the prototype), which is data like any other.
  const value = data.value as EventGridData;
  const hostTrust = hostTrustOf(source, value.request?.host);
  if (hostTrust.kind === "untrusted") {
    return {
      ok: true,
      value: {
        kind: "untrusted",
        envelopeId,
        type,
        source,
        host: value.request?.host,
        reason: hostTrust.reason,
      },
    };
  }
  return {
    ok: true,
    value: { kind: "registry", envelopeId, type: trust.type, source, schema, data: value },
  };
}

/**
 * The deserializer refuses an event without `metadataVersion` (several documented examples lack
 * it) or without `topic`/`source`. An empty source lets such an event be read and reported,
 * and it is then never trusted.
 */
function withDeserializerDefaults(
  event: Record<string, unknown>,
  schema: EventGridSchema,
): Record<string, unknown> {
  if (schema === "cloudevents") {
    return { ...event, source: event.source === undefined ? "" : event.source };
  }
  return {
    ...event,
    topic: event.topic === undefined ? "" : event.topic,
    metadataVersion: event.metadataVersion === undefined ? "1" : event.metadataVersion,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalidBody(path: string, message: string): EventGridBody {
  return { kind: "invalid", issues: [{ path, message }] };
}
