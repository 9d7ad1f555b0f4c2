import { randomUUID } from "node:crypto";
import type { BridgeEndpoint } from "./localStack";

/**
 * ACR events in the envelopes Event Grid delivers them in (Event Grid schema and CloudEvents
 * 1.0), for tests that post to the bridge's Event Grid endpoints.
 */

/** The registry local.settings.sample.json trusts (`ACR_RESOURCE_IDS`). */
export const RESOURCE_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.ContainerRegistry/registries/myregistry";
/** The Event Grid secret of local.settings.sample.json, for stacks that set no `EVENTGRID_SECRETS`. */
export const SAMPLE_EVENTGRID_SECRET = "local-eventgrid-secret";

const EVENT_TYPES: Record<string, string> = {
  push: "Microsoft.ContainerRegistry.ImagePushed",
  delete: "Microsoft.ContainerRegistry.ImageDeleted",
};

interface AcrEventFields {
  action?: unknown;
  target?: { repository?: unknown; tag?: unknown };
}

/** The Event Grid type of an ACR event, by its action. */
function eventType(data: AcrEventFields): string {
  const type = EVENT_TYPES[String(data.action)];
  if (!type) throw new Error(`no Event Grid event for the action ${String(data.action)}`);
  return type;
}

/** The subject Event Grid gives an ACR event: `repository:tag`, or the repository alone. */
function subject(data: AcrEventFields): string {
  const { repository, tag } = data.target ?? {};
  return tag ? `${repository}:${tag}` : String(repository ?? "");
}

/**
 * A push of `repository:v1` from myregistry.azurecr.io (or the registry and tag given), with an id
 * and a digest of its own, timestamped now.
 */
export function acrPush(
  repository: string,
  { registry = "myregistry.azurecr.io", tag = "v1" } = {},
) {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: "push",
    target: {
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      digest: `sha256:${randomUUID().replaceAll("-", "")}`,
      repository,
      tag,
    },
    request: { id: randomUUID(), host: registry, method: "PUT" },
  };
}

export interface EnvelopeOptions {
  /** The registry's resource id (`topic` or `source`); the trusted one unless said. */
  topic?: string;
  /** The registry's region, which Event Grid adds to the ACR event. */
  location?: string;
}

/** An ACR event (a webhook body) as an Event Grid schema event. */
export function eventGridEvent(
  data: Record<string, unknown>,
  { topic = RESOURCE_ID, location = "westeurope" }: EnvelopeOptions = {},
) {
  return {
    id: randomUUID(),
    topic,
    subject: subject(data),
    eventType: eventType(data),
    eventTime: new Date().toISOString(),
    data: { ...data, location },
    dataVersion: "1.0",
    metadataVersion: "1",
  };
}

/** An ACR event (a webhook body) as a CloudEvent, its data JSON-encoded in a string. */
export function cloudEvent(
  data: Record<string, unknown>,
  { topic = RESOURCE_ID, location = "westeurope" }: EnvelopeOptions = {},
) {
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: topic,
    type: eventType(data),
    subject: subject(data),
    time: new Date().toISOString(),
    data: JSON.stringify({ ...data, location }),
  };
}

/** A delivery to the Event Grid trigger `acrEventGrid`, as Event Grid makes it to the host. */
export function postEventGridTrigger(stack: BridgeEndpoint, events: unknown): Promise<Response> {
  return fetch(`${stack.url}/runtime/webhooks/EventGrid?functionName=acrEventGrid`, {
    method: "POST",
    headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
    body: JSON.stringify(events),
  });
}

/**
 * POSTs `events` as JSON to the stack's Event Grid endpoint with `?key=`, as an Event Grid
 * subscription delivers them. `headers` go over the defaults.
 */
export function postEventGrid(
  stack: BridgeEndpoint,
  events: unknown,
  key = SAMPLE_EVENTGRID_SECRET,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${stack.url}/api/eventgrid?key=${key}`, {
    method: "POST",
    headers: { "content-type": "application/json", "aeg-event-type": "Notification", ...headers },
    body: JSON.stringify(events),
  });
}
