import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type EventGridBody,
  type ParsedEventGridEvent,
  parseEventGridBody,
} from "../../src/adapters/eventGridParsing";
import { type AcrEventGridEvent, registryEventFromEventGrid } from "../../src/core/eventGridEvent";

type Json = Record<string, unknown>;

const REGISTRY_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr";
const FOREIGN_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-other/providers/Microsoft.EventGrid/topics/impostor";
const OTHER_REGISTRY_ID = REGISTRY_ID.replace("contosoacr", "fabrikamacr");
/** The placeholder topic of Microsoft's documented examples. */
const DOC_TOPIC =
  "/subscriptions/<subscription-id>/resourceGroups/<resource-group-name>/providers/Microsoft.ContainerRegistry/registries/<name>";

const trusting = { trustedResourceIds: [REGISTRY_ID] };

/** The one event of a documented fixture, as Microsoft documents it. */
function documented(name: string): Json {
  const path = join(__dirname, "../fixtures/eventgrid", name);
  const [event] = JSON.parse(readFileSync(path, "utf8")) as Json[];
  return event;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

const FULL_TYPE: Record<string, string> = {
  ImagePushed: "Microsoft.ContainerRegistry.ImagePushed",
  ImageDeleted: "Microsoft.ContainerRegistry.ImageDeleted",
};

/**
 * A documented example as a genuine delivery looks: the full type name, `metadataVersion`, and
 * the trusted registry as `topic`/`source` in place of the doc's placeholder, and as
 * `request.host` in place of `demo.azurecr.io` (too short a name for a registry).
 */
function genuine(name: string): Json {
  const event = copy(documented(name));
  const request = (event.data as Json).request as Json | undefined;
  if (request) request.host = "contosoacr.azurecr.io";
  if (event.specversion !== undefined) return { ...event, source: REGISTRY_ID };
  const type = event.eventType as string;
  return {
    ...event,
    eventType: FULL_TYPE[type] ?? type,
    topic: REGISTRY_ID,
    metadataVersion: "1",
  };
}

function changed(event: Json, change: (event: Json) => void): Json {
  const result = copy(event);
  change(result);
  return result;
}

const dataOf = (event: Json) => event.data as Json;

const push = genuine("eg-imagepushed.doc2019.json");
const cloudPush = genuine("ce-imagepushed.doc.json");
const validationEvent = documented("eg-subscription-validation.doc.json");

async function eventsOf(body: unknown, options = trusting): Promise<ParsedEventGridEvent[]> {
  const result = await parseEventGridBody(body, options);
  if (result.kind !== "events") throw new Error(`expected events, got ${JSON.stringify(result)}`);
  return result.events;
}

async function registryEvent(body: unknown, options = trusting): Promise<AcrEventGridEvent> {
  const [event, ...rest] = await eventsOf(body, options);
  expect(rest).toEqual([]);
  if (event.kind !== "registry") throw new Error(`expected a registry event, got ${event.kind}`);
  const { kind: _kind, ...acrEvent } = event;
  return acrEvent;
}

async function issuesOf(body: unknown, options = trusting) {
  const result = await parseEventGridBody(body, options);
  if (result.kind !== "invalid") throw new Error(`expected invalid, got ${JSON.stringify(result)}`);
  return result.issues;
}

const genuineCases: [string, Json, string, "eventgrid" | "cloudevents"][] = [
  ["eg-imagepushed", push, "Microsoft.ContainerRegistry.ImagePushed", "eventgrid"],
  [
    "eg-imagedeleted",
    genuine("eg-imagedeleted.doc2019.json"),
    "Microsoft.ContainerRegistry.ImageDeleted",
    "eventgrid",
  ],
  [
    "eg-chartpushed",
    genuine("eg-chartpushed.doc2019.json"),
    "Microsoft.ContainerRegistry.ChartPushed",
    "eventgrid",
  ],
  [
    "eg-chartdeleted (eventTime typo 019-...)",
    genuine("eg-chartdeleted.doc2019.json"),
    "Microsoft.ContainerRegistry.ChartDeleted",
    "eventgrid",
  ],
  ["ce-imagepushed", cloudPush, "Microsoft.ContainerRegistry.ImagePushed", "cloudevents"],
];

describe("parseEventGridBody: every documented ACR event, as delivered", () => {
  it.each(genuineCases)(
    "%s in a batch is a registry event, data unchanged",
    async (_n, event, type, schema) => {
      const parsed = await registryEvent([copy(event)]);
      expect(parsed).toStrictEqual({
        envelopeId: event.id,
        type,
        source: REGISTRY_ID,
        schema,
        data: dataOf(event),
      });
    },
  );

  it.each(genuineCases)("%s alone (Event Grid trigger) reads the same", async (_n, event) => {
    expect(await registryEvent(copy(event))).toStrictEqual(await registryEvent([copy(event)]));
  });

  it.each(genuineCases)("%s with data as a JSON string reads the same", async (_n, event) => {
    const stringData = { ...copy(event), data: JSON.stringify(event.data) };
    expect(await registryEvent([stringData])).toStrictEqual(await registryEvent([copy(event)]));
  });

  it.each(genuineCases)("%s keeps unknown envelope and data fields", async (_n, event) => {
    const extended = changed(event, (e) => {
      e.futureEnvelopeField = "x";
      dataOf(e).futureDataField = { nested: true };
    });
    const parsed = await registryEvent([extended]);
    expect(parsed.data.futureDataField).toEqual({ nested: true });
  });
});

describe("parseEventGridBody: the documented examples exactly as published", () => {
  const asPublished = { trustedResourceIds: [DOC_TOPIC] };

  it.each([
    ["eg-imagepushed.doc2019.json", { kind: "ignored", type: "ImagePushed" }],
    ["eg-imagedeleted.doc2019.json", { kind: "ignored", type: "ImageDeleted" }],
    [
      "eg-chartpushed.doc2019.json",
      { kind: "registry", type: "Microsoft.ContainerRegistry.ChartPushed" },
    ],
    [
      "eg-chartdeleted.doc2019.json",
      { kind: "registry", type: "Microsoft.ContainerRegistry.ChartDeleted" },
    ],
    [
      "ce-imagepushed.doc.json",
      { kind: "registry", type: "Microsoft.ContainerRegistry.ImagePushed" },
    ],
  ])("%s -> %o", async (name, expected) => {
    const path = join(__dirname, "../fixtures/eventgrid", name);
    const events = await eventsOf(JSON.parse(readFileSync(path, "utf8")), asPublished);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject(expected);
  });

  it("eg-subscription-validation.doc.json -> validation", async () => {
    const path = join(__dirname, "../fixtures/eventgrid/eg-subscription-validation.doc.json");
    const result = await parseEventGridBody(JSON.parse(readFileSync(path, "utf8")), asPublished);
    expect(result.kind).toBe("validation");
  });
});

describe("parseEventGridBody: CloudEvents 1.0", () => {
  it("reads a single CloudEvent", async () => {
    expect((await registryEvent(copy(cloudPush))).schema).toBe("cloudevents");
  });

  it("reads a batch in order", async () => {
    const second = changed(cloudPush, (e) => {
      e.id = "second-envelope";
      e.type = "Microsoft.ContainerRegistry.ImageDeleted";
      dataOf(e).action = "delete";
    });
    const events = await eventsOf([copy(cloudPush), second]);
    expect(events.map((event) => [event.kind, event.envelopeId])).toEqual([
      ["registry", cloudPush.id],
      ["registry", "second-envelope"],
    ]);
  });

  it("reads extension attributes without complaint", async () => {
    const extended = { ...copy(cloudPush), traceparent: "00-abc-def-01" };
    expect((await registryEvent(extended)).envelopeId).toBe(cloudPush.id);
  });
});

describe("parseEventGridBody: variants the docs leave out", () => {
  it("fills a missing metadataVersion", async () => {
    const event = changed(push, (e) => delete e.metadataVersion);
    expect((await registryEvent([event])).type).toBe("Microsoft.ContainerRegistry.ImagePushed");
  });

  it.each<[string, Json, string]>([
    [
      "+00:00 timestamp",
      genuine("eg-chartpushed.doc2019.json"),
      "2019-03-12T22:16:31.0087496+00:00",
    ],
    ["9 fractional digits", push, "2018-04-25T21:39:47.276585742Z"],
    [
      "7 fractional digits",
      changed(push, (e) => (dataOf(e).timestamp = "2023-03-05T23:45:31.2614267Z")),
      "2023-03-05T23:45:31.2614267Z",
    ],
  ])("keeps a %s exactly", async (_name, event, timestamp) => {
    expect((await registryEvent([event])).data.timestamp).toBe(timestamp);
  });

  it.each<[string, Json]>([
    ["no request", changed(push, (e) => delete dataOf(e).request)],
    ["no size", changed(push, (e) => delete (dataOf(e).target as Json).size)],
    ["no target", changed(push, (e) => delete dataOf(e).target)],
    [
      "location and connectedRegistry",
      changed(push, (e) => {
        dataOf(e).location = "westeurope";
        dataOf(e).connectedRegistry = { name: "edge01" };
      }),
    ],
  ])("accepts %s", async (_name, event) => {
    expect((await registryEvent([event])).data).toStrictEqual(dataOf(event));
  });
});

describe("parseEventGridBody: trust", () => {
  it.each<[string, Json, Partial<ParsedEventGridEvent>]>([
    [
      "a foreign topic",
      { ...push, topic: FOREIGN_ID },
      { kind: "untrusted", reason: "foreign-source", source: FOREIGN_ID },
    ],
    [
      "another registry's topic",
      { ...push, topic: OTHER_REGISTRY_ID },
      { kind: "untrusted", reason: "foreign-source", source: OTHER_REGISTRY_ID },
    ],
    [
      "the doc placeholder topic",
      { ...push, topic: DOC_TOPIC },
      { kind: "untrusted", reason: "foreign-source", source: DOC_TOPIC },
    ],
    [
      "a missing topic",
      changed(push, (e) => delete e.topic),
      { kind: "untrusted", reason: "missing-source" },
    ],
    ["an empty topic", { ...push, topic: "" }, { kind: "untrusted", reason: "missing-source" }],
    [
      "a foreign CloudEvents source",
      { ...cloudPush, source: FOREIGN_ID },
      { kind: "untrusted", reason: "foreign-source", source: FOREIGN_ID },
    ],
    [
      "a missing CloudEvents source",
      changed(cloudPush, (e) => delete e.source),
      { kind: "untrusted", reason: "missing-source" },
    ],
    [
      "the trusted topic with a request.host naming another registry",
      changed(push, (e) => ((dataOf(e).request as Json).host = "fabrikamacr.azurecr.io")),
      {
        kind: "untrusted",
        reason: "foreign-host",
        source: REGISTRY_ID,
        host: "fabrikamacr.azurecr.io",
      },
    ],
    [
      "the trusted source with a request.host naming another registry's replica",
      changed(cloudPush, (e) => {
        (dataOf(e).request as Json).host = "fabrikamacr.westeurope.data.azurecr.io";
      }),
      {
        kind: "untrusted",
        reason: "foreign-host",
        source: REGISTRY_ID,
        host: "fabrikamacr.westeurope.data.azurecr.io",
      },
    ],
  ])("%s is untrusted", async (_name, event, expected) => {
    const events = await eventsOf([event]);
    expect(events).toEqual([
      {
        envelopeId: event.id,
        type: event.eventType ?? event.type,
        ...expected,
      },
    ]);
  });

  it("does not validate the data of an untrusted event", async () => {
    const event = { ...push, topic: FOREIGN_ID, data: { anything: true } };
    expect((await eventsOf([event]))[0].kind).toBe("untrusted");
  });

  it.each([
    ["upper case", REGISTRY_ID.toUpperCase()],
    ["a trailing slash", `${REGISTRY_ID}/`],
  ])("trusts the registry's topic in %s", async (_name, topic) => {
    expect((await registryEvent([{ ...push, topic }])).source).toBe(topic);
  });

  it.each([
    ["in upper case", "ContosoACR.azurecr.io"],
    ["of a replica", "contosoacr.westeurope.data.azurecr.io"],
  ])("trusts a request.host naming the topic's registry %s", async (_name, host) => {
    const event = changed(push, (e) => ((dataOf(e).request as Json).host = host));
    expect((await registryEvent([event])).data.request?.host).toBe(host);
  });

  it("trusts nothing when no resource id is configured", async () => {
    const events = await eventsOf([copy(push)], { trustedResourceIds: [] });
    expect(events[0]).toMatchObject({ kind: "untrusted", reason: "foreign-source" });
  });
});

describe("parseEventGridBody: types the bridge does not take", () => {
  it.each<[string, Json]>([
    ["short eventType ImagePushed", { ...push, eventType: "ImagePushed" }],
    ["short eventType ImageDeleted", { ...push, eventType: "ImageDeleted" }],
    ["Microsoft.Storage.BlobCreated", { ...push, eventType: "Microsoft.Storage.BlobCreated" }],
    [
      "a foreign Microsoft.Storage.BlobCreated with other data",
      {
        ...push,
        eventType: "Microsoft.Storage.BlobCreated",
        topic: FOREIGN_ID,
        data: { api: "PutBlob" },
      },
    ],
    ["short CloudEvents type", { ...cloudPush, type: "ImagePushed" }],
    [
      "a Microsoft.Storage.BlobCreated whose data is a string that is not JSON",
      { ...push, eventType: "Microsoft.Storage.BlobCreated", data: "not json" },
    ],
    [
      "a CloudEvent of another type whose data is a string that is not JSON",
      { ...cloudPush, type: "Contoso.Items.Sold", data: "not json" },
    ],
  ])("%s is ignored", async (_name, event) => {
    expect(await eventsOf([event])).toEqual([
      {
        kind: "ignored",
        envelopeId: event.id,
        type: event.eventType ?? event.type,
        reason: "unsupported-type",
      },
    ]);
  });

  it("reports a registry event from a foreign topic as untrusted, whatever its data", async () => {
    const events = await eventsOf([{ ...push, topic: FOREIGN_ID, data: "not json" }]);
    expect(events).toEqual([
      {
        kind: "untrusted",
        envelopeId: push.id,
        type: push.eventType,
        source: FOREIGN_ID,
        reason: "foreign-source",
      },
    ]);
  });

  it("reports each event of a mixed batch in order", async () => {
    const events = await eventsOf([
      { ...push, eventType: "ImagePushed" },
      copy(push),
      { ...push, topic: FOREIGN_ID },
    ]);
    expect(events.map((event) => event.kind)).toEqual(["ignored", "registry", "untrusted"]);
  });
});

describe("parseEventGridBody: subscription validation", () => {
  const code = "512d38b6-c7b8-40c8-89fe-f46f9e9622b6";

  it.each<[string, unknown]>([
    ["the documented batch of one", [copy(validationEvent)]],
    ["a single event (Event Grid trigger)", copy(validationEvent)],
    ["without metadataVersion", [changed(validationEvent, (e) => delete e.metadataVersion)]],
    [
      "with data as a JSON string",
      [{ ...validationEvent, data: JSON.stringify(validationEvent.data) }],
    ],
  ])("%s -> validation", async (_name, body) => {
    const result = await parseEventGridBody(body, trusting);
    expect(result).toEqual({
      kind: "validation",
      validationCode: code,
      validationUrl: (validationEvent.data as Json).validationUrl,
    });
  });

  it("answers a validation event without validationUrl", async () => {
    const event = { ...validationEvent, data: { validationCode: code } };
    const result = await parseEventGridBody(event, { trustedResourceIds: [] });
    expect(result).toEqual<EventGridBody>({ kind: "validation", validationCode: code });
  });

  it.each<[string, unknown, string, string]>([
    [
      "without validationCode",
      [{ ...validationEvent, data: {} }],
      "[0].data.validationCode",
      "expected string",
    ],
    ["batched with another event", [copy(push), copy(validationEvent)], "[1]", "must arrive alone"],
  ])("refuses a validation event %s", async (_name, body, path, message) => {
    expect(await issuesOf(body)).toContainEqual({
      path,
      message: expect.stringContaining(message),
    });
  });
});

describe("parseEventGridBody: malformed bodies are invalid with readable issues", () => {
  it.each<[string, unknown, string, string]>([
    ["null", null, "(body)", "must be an event object or an array"],
    ["a string", JSON.stringify([push]), "(body)", "must be an event object or an array"],
    ["a number", 42, "(body)", "must be an event object or an array"],
    ["an empty array", [], "(body)", "at least one event"],
    [
      "more events than Event Grid puts in a delivery",
      Array.from({ length: 5001 }, (_, index) => ({ ...push, id: `e-${index}` })),
      "(body)",
      "at most 5000 events",
    ],
    ["a null item", [null], "[0]", "must be an event object"],
    ["a nested array", [[push]], "[0]", "must be an event object"],
    ["an empty object", {}, "(body)", "missing required property 'eventType'"],
    ["no eventType", changed(push, (e) => delete e.eventType), "(body)", "'eventType'"],
    ["a numeric eventTime", [{ ...push, eventTime: 1 }], "[0]", "'eventTime"],
    ["no subject", [changed(push, (e) => delete e.subject)], "[0]", "'subject'"],
    ["no dataVersion", [changed(push, (e) => delete e.dataVersion)], "[0]", "'dataVersion'"],
    ["no data", [changed(push, (e) => delete e.data)], "[0]", "'data'"],
    [
      "metadataVersion 2",
      [{ ...push, metadataVersion: "2" }],
      "[0]",
      "not in the Event Grid schema",
    ],
    ["a numeric topic", [{ ...push, topic: 7 }], "[0]", "'topic"],
    ["CloudEvents 0.3", [{ ...cloudPush, specversion: "0.3" }], "[0]", "Cloud Event 1.0"],
    ["a CloudEvent without type", [changed(cloudPush, (e) => delete e.type)], "[0]", "'type'"],
    [
      "a CloudEvent with data and data_base64",
      [{ ...cloudPush, data_base64: "aGk=" }],
      "[0]",
      "both a data and data_base64",
    ],
    [
      "a CloudEvent with only data_base64",
      [{ ...changed(cloudPush, (e) => delete e.data), data_base64: "aGk=" }],
      "[0].data",
      "expected object",
    ],
    ["data that is a non-JSON string", [{ ...push, data: "not json" }], "[0].data", "not JSON"],
    [
      "data larger than a record holds",
      [changed(push, (e) => (dataOf(e).annotations = "a".repeat(256 * 1024)))],
      "[0].data",
      "at most 262144 characters",
    ],
    [
      "data that is a JSON string of a string",
      [{ ...push, data: '"push"' }],
      "[0].data",
      "expected object",
    ],
    ["data that is an array", [{ ...push, data: [dataOf(push)] }], "[0].data", "expected object"],
    ["data that is a number", [{ ...push, data: 5 }], "[0].data", "expected object"],
    ["data that is null", [{ ...push, data: null }], "[0].data", "expected object"],
    [
      "data without id",
      [changed(push, (e) => delete dataOf(e).id)],
      "[0].data.id",
      "expected string",
    ],
    [
      "data with the 019- timestamp typo",
      [changed(push, (e) => (dataOf(e).timestamp = "019-03-12T22:42:08.7034064Z"))],
      "[0].data.timestamp",
      "datetime",
    ],
    [
      "a string target.size",
      [changed(push, (e) => ((dataOf(e).target as Json).size = "3023"))],
      "[0].data.target.size",
      "expected number",
    ],
    [
      "a single event with a string target.size",
      changed(push, (e) => ((dataOf(e).target as Json).size = "3023")),
      "data.target.size",
      "expected number",
    ],
    [
      "a control character in the repository",
      [changed(push, (e) => ((dataOf(e).target as Json).repository = "app\u001b[31m"))],
      "[0].data.target.repository",
      "control characters",
    ],
    [
      "a control character in eventType",
      [{ ...push, eventType: "Microsoft.ContainerRegistry.ImagePushed\n" }],
      "[0].eventType",
      "control characters",
    ],
    [
      "a control character in topic",
      [{ ...push, topic: `${REGISTRY_ID}\r` }],
      "[0].topic",
      "control characters",
    ],
    [
      "a control character in the CloudEvents source",
      [{ ...cloudPush, source: `${REGISTRY_ID}\u0000` }],
      "[0].source",
      "control characters",
    ],
    [
      "an empty action",
      [changed(push, (e) => (dataOf(e).action = ""))],
      "[0].data.action",
      "Too small",
    ],
  ])("%s", async (_name, body, path, message) => {
    expect(await issuesOf(body)).toContainEqual({
      path,
      message: expect.stringContaining(message),
    });
  });

  it("takes the good events of a batch and reports the issues of every bad one", async () => {
    const result = await parseEventGridBody(
      [copy(push), { ...push, data: "not json" }, changed(push, (e) => delete dataOf(e).action)],
      trusting,
    );
    if (result.kind !== "events") throw new Error(`expected events, got ${result.kind}`);
    expect(result.events.map((event) => event.kind)).toEqual(["registry"]);
    expect(result.issues.map((issue) => issue.path)).toEqual(["[1].data", "[2].data.action"]);
  });

  it("is invalid as a whole only when no event of the batch is valid", async () => {
    const issues = await issuesOf([
      { ...push, data: "not json" },
      changed(push, (e) => delete dataOf(e).action),
    ]);
    expect(issues.map((issue) => issue.path)).toEqual(["[0].data", "[1].data.action"]);
  });

  it("never echoes a non-JSON data string", async () => {
    const issues = await issuesOf([{ ...push, data: "secret-ish \u0007 text" }]);
    expect(JSON.stringify(issues)).not.toContain("secret-ish");
  });
});

describe("registryEventFromEventGrid over parsed deliveries", () => {
  const configured = { configuredLoginServer: "fallback.azurecr.io" };

  it.each<[string, Json, Record<string, unknown>]>([
    [
      "push: registry from request.host",
      push,
      {
        action: "push",
        registry: "contosoacr.azurecr.io",
        repository: "aci-helloworld",
        tag: "v1",
        digest: "sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5",
        timestamp: "2018-04-25T21:39:47.276585742Z",
      },
    ],
    [
      "delete: registry from request.host, no tag",
      genuine("eg-imagedeleted.doc2019.json"),
      {
        action: "delete",
        registry: "contosoacr.azurecr.io",
        repository: "aci-helloworld",
        tag: undefined,
        eventId: "f06e3921-301f-42ec-b368-212f7d5354bd",
      },
    ],
    [
      "chart_push: registry from the resource id",
      genuine("eg-chartpushed.doc2019.json"),
      {
        action: "chart_push",
        registry: "contosoacr.azurecr.io",
        repository: "repo",
        tag: "mychart-1.0.0.tgz",
        mediaType: "application/vnd.acr.helm.chart",
        timestamp: "2019-03-12T22:16:31.0087496+00:00",
      },
    ],
    [
      "chart_delete: registry from the resource id",
      genuine("eg-chartdeleted.doc2019.json"),
      {
        action: "chart_delete",
        registry: "contosoacr.azurecr.io",
        timestamp: "2019-03-12T22:42:08.3783775+00:00",
      },
    ],
    [
      "CloudEvents push: registry from request.host",
      cloudPush,
      {
        action: "push",
        registry: "contosoacr.azurecr.io",
        eventId: "31c51664-e5bd-416a-a5df-e5206bc47ed0",
      },
    ],
  ])("%s", async (_name, event, expected) => {
    const located = changed(event, (e) => (dataOf(e).location = "westeurope"));
    const registry = registryEventFromEventGrid(await registryEvent([located]), configured);
    expect(registry).toMatchObject({
      ...expected,
      eventId: dataOf(event).id,
      region: "westeurope",
      origin: "eventgrid",
      occurredAt: Date.parse(dataOf(event).timestamp as string),
      payload: dataOf(located),
    });
  });

  it("falls back to the configured login server for a chart from a placeholder topic", async () => {
    const chart = { ...genuine("eg-chartpushed.doc2019.json"), topic: DOC_TOPIC };
    const parsed = await registryEvent([chart], { trustedResourceIds: [DOC_TOPIC] });
    expect(registryEventFromEventGrid(parsed, configured).registry).toBe("fallback.azurecr.io");
  });
});
