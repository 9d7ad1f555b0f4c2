import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import { CLOUD_EVENT_TYPE_PREFIX } from "../../src/core/cloudEvent";
import { type RegistryEvent, registryEventFromWebhook } from "../../src/core/registryEvent";
import { messageIdFor, subjectFor, topicMessageFor } from "../../src/core/topicMessage";

function webhookEvent(name: string, region?: string): RegistryEvent {
  const url = join(__dirname, "../fixtures/acr-webhook", name);
  const validation = validateAcrWebhookPayload(JSON.parse(readFileSync(url, "utf8")));
  if (!validation.ok) throw new Error(JSON.stringify(validation.failure));
  return registryEventFromWebhook(validation.value, {
    registry: "myregistry.azurecr.io",
    region,
    receivedAt: Date.parse("2024-01-01T00:00:00Z"),
    fallbackEventId: "fallback-id",
  });
}

const DIGEST = "sha256:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080706050403020100";

/** The base event's fields a subscriber can filter on: its message's application properties. */
const PROPERTIES = {
  action: "push",
  registry: "myregistry.azurecr.io",
  repository: "samples/hello-world",
  tag: "v1",
  digest: DIGEST,
  mediaType: "application/vnd.oci.image.index.v1+json",
  region: "westeurope",
  origin: "webhook",
} as const;

function event(overrides: Partial<RegistryEvent> = {}): RegistryEvent {
  const base: RegistryEvent = {
    eventId: "cb8c3971-9adc-488b-0000-43cbb4974ff5",
    timestamp: "2023-11-17T16:52:01.343145347Z",
    occurredAt: Date.parse("2023-11-17T16:52:01.343Z"),
    ...PROPERTIES,
    payload: { id: "cb8c3971-9adc-488b-0000-43cbb4974ff5", action: "push", unknownField: [1] },
  };
  return { ...base, ...overrides };
}

describe("topicMessageFor: CloudEvents 1.0 envelope", () => {
  const fixtures = [
    ["webhook-push.doc.json", "push"],
    ["webhook-delete.doc.json", "delete"],
    ["webhook-chart_push.doc.json", "chart_push"],
    ["webhook-chart_delete.doc.json", "chart_delete"],
    ["webhook-quarantine.acr-preview.json", "quarantine"],
  ];

  it.each(fixtures)("%s", (name, action) => {
    const registryEvent = webhookEvent(name, "eastus");
    const message = topicMessageFor(registryEvent);
    const body = message.body;
    expect(body.specversion).toBe("1.0");
    expect(body.id).toBe(message.messageId);
    expect(body.source).toBe("https://myregistry.azurecr.io");
    expect(body.type).toBe(`${CLOUD_EVENT_TYPE_PREFIX}${action}`);
    expect(body.type).toBe(`com.azure.acr.${action}`);
    expect(body.subject).toBe(message.subject);
    expect(body.time).toBe(registryEvent.payload.timestamp);
    expect(body.datacontenttype).toBe("application/json");
    expect(body.data).toBe(registryEvent.payload);
    expect(message.contentType).toBe("application/cloudevents+json");
  });

  it("keeps the original timestamp string, all nine fractional digits", () => {
    const message = topicMessageFor(webhookEvent("webhook-push.doc.json"));
    expect(message.body.time).toBe("2023-11-17T16:52:01.343145347Z");
  });

  it("keeps a +00:00 offset as sent", () => {
    const timestamp = "2023-11-17T16:52:01.3431453+00:00";
    expect(topicMessageFor(event({ timestamp })).body.time).toBe(timestamp);
  });

  it("carries the original payload, unknown fields included, untouched", () => {
    const payload = { id: "x", action: "push", future: { a: 1 }, target: { extra: "kept" } };
    const message = topicMessageFor(event({ payload }));
    expect(message.body.data).toBe(payload);
    expect(message.body.data).toStrictEqual({
      id: "x",
      action: "push",
      future: { a: 1 },
      target: { extra: "kept" },
    });
  });

  it.each([
    ["tag", event(), "samples/hello-world:v1"],
    ["digest only", event({ tag: undefined }), `samples/hello-world@${DIGEST}`],
    ["empty tag", event({ tag: "" }), `samples/hello-world@${DIGEST}`],
    ["repository only", event({ tag: undefined, digest: undefined }), "samples/hello-world"],
  ])("subject with %s", (_name, registryEvent, subject) => {
    expect(subjectFor(registryEvent)).toBe(subject);
    expect(topicMessageFor(registryEvent).subject).toBe(subject);
    expect(topicMessageFor(registryEvent).body.subject).toBe(subject);
  });

  it.each([
    ["a tag", event({ repository: undefined })],
    ["a digest only", event({ repository: undefined, tag: undefined })],
  ])("no subject for an event that names no repository, even with %s", (_name, registryEvent) => {
    const message = topicMessageFor(registryEvent);
    expect(message.subject).toBeUndefined();
    expect(message.body).not.toHaveProperty("subject");
  });
});

describe("topicMessageFor: application properties", () => {
  it("carries every defined property", () => {
    expect(topicMessageFor(event()).applicationProperties).toStrictEqual({
      ...PROPERTIES,
      artifactKind: "index",
      tagged: "true",
    });
  });

  it.each(["repository", "tag", "digest", "mediaType", "region"] as const)(
    "omits %s when the event has none",
    (field) => {
      const properties = topicMessageFor(event({ [field]: undefined })).applicationProperties;
      expect(Object.hasOwn(properties, field)).toBe(false);
      expect(Object.values(properties)).not.toContain(undefined);
    },
  );

  it("a bare ping carries only action, registry, origin and its classification", () => {
    const registryEvent = event({
      action: "ping",
      repository: undefined,
      tag: undefined,
      digest: undefined,
      mediaType: undefined,
      region: undefined,
      origin: "eventgrid",
    });
    expect(topicMessageFor(registryEvent).applicationProperties).toStrictEqual({
      action: "ping",
      registry: "myregistry.azurecr.io",
      origin: "eventgrid",
      artifactKind: "unknown",
      tagged: "false",
    });
  });

  it("a delete from the documented payload has no tag property", () => {
    const properties = topicMessageFor(
      webhookEvent("webhook-delete.doc.json"),
    ).applicationProperties;
    expect(properties).toMatchObject({ action: "delete", repository: "hello-world" });
    expect(Object.hasOwn(properties, "tag")).toBe(false);
    expect(Object.hasOwn(properties, "region")).toBe(false);
  });

  it("an empty tag, as ACR sends on digest-only pushes, is no tag property", () => {
    const properties = topicMessageFor(event({ tag: "" })).applicationProperties;
    expect(Object.hasOwn(properties, "tag")).toBe(false);
    expect(properties).toMatchObject({ tagged: "false" });
  });

  it("every value is a string", () => {
    for (const value of Object.values(topicMessageFor(event()).applicationProperties)) {
      expect(typeof value).toBe("string");
    }
  });
});

describe("messageIdFor: one id per logical event", () => {
  const reference = messageIdFor(event());

  it.each([
    ["another event id (a second regional webhook)", { eventId: "other-id" }],
    ["another region", { region: "eastus" }],
    ["no region", { region: undefined }],
    ["Event Grid origin", { origin: "eventgrid" as const }],
    ["another timestamp", { timestamp: "2023-11-17T16:52:02.0000000Z", occurredAt: 1 }],
    ["another media type", { mediaType: "application/vnd.docker.distribution.manifest.v2+json" }],
    ["another payload", { payload: { different: true } }],
  ])("same id with %s", (_name, overrides) => {
    expect(messageIdFor(event(overrides))).toBe(reference);
  });

  it.each([
    ["digest", { digest: `${DIGEST.slice(0, -1)}1` }],
    ["tag", { tag: "v2" }],
    ["no tag", { tag: undefined }],
    ["action", { action: "delete" }],
    ["registry", { registry: "other.azurecr.io" }],
    ["repository", { repository: "samples/hello-world2" }],
  ])("different id for a different %s", (_name, overrides) => {
    expect(messageIdFor(event(overrides))).not.toBe(reference);
  });

  it("falls back to the event id when there is no digest", () => {
    const first = event({ digest: undefined, eventId: "id-1" });
    expect(messageIdFor(first)).toBe(messageIdFor({ ...first, region: "eastus" }));
    expect(messageIdFor(first)).not.toBe(messageIdFor({ ...first, eventId: "id-2" }));
  });

  it("stays what earlier releases sent: duplicate detection and the stored logical keys rely on it", () => {
    expect(messageIdFor(event())).toBe("05eb88321bd85e72a33a5569deafc5c7");
    expect(messageIdFor(event(), 1)).toBe("05eb88321bd85e72a33a5569deafc5c7");
    expect(messageIdFor(event(), 2)).toBe("97dd158481f8a90a919cb3c2443f5752");
    expect(messageIdFor(event({ digest: undefined }))).toBe("7f0764bdf4078fca000206ee7684a264");
  });

  it("is a fixed-width hex string usable as a Service Bus messageId", () => {
    for (const registryEvent of [event(), event({ digest: undefined })]) {
      expect(messageIdFor(registryEvent)).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it("two regional deliveries of the same documented push get one messageId", () => {
    const west = webhookEvent("webhook-push.doc.json", "westeurope");
    const east = webhookEvent("webhook-push.doc.json", "eastus");
    const eastWithOwnId = { ...east, eventId: "another-regional-id" };
    expect(topicMessageFor(eastWithOwnId).messageId).toBe(topicMessageFor(west).messageId);
  });
});
