import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventGridDataSchema, eventGridDataSchemaFor } from "../../src/core/eventGridData";
import { type AcrEventGridEvent, registryEventFromEventGrid } from "../../src/core/eventGridEvent";
import type { AcrEventType } from "../../src/core/eventGridTrust";
import { UNKNOWN_REGISTRY } from "../../src/core/registryIdentity";

type Json = Record<string, unknown>;

/** The `data` of the one event in a documented Event Grid fixture. */
function fixtureData(name: string): Json {
  const path = join(__dirname, "../fixtures/eventgrid", name);
  const [event] = JSON.parse(readFileSync(path, "utf8")) as Json[];
  return event.data as Json;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

const documented: [string, Json][] = [
  ["ImagePushed (Event Grid schema)", fixtureData("eg-imagepushed.doc2019.json")],
  ["ImageDeleted", fixtureData("eg-imagedeleted.doc2019.json")],
  ["ChartPushed", fixtureData("eg-chartpushed.doc2019.json")],
  ["ChartDeleted", fixtureData("eg-chartdeleted.doc2019.json")],
  ["ImagePushed (CloudEvents)", fixtureData("ce-imagepushed.doc.json")],
];

const push = fixtureData("eg-imagepushed.doc2019.json");

function pushWith(change: (data: Json) => void): Json {
  const data = copy(push);
  change(data);
  return data;
}

const target = (data: Json) => data.target as Json;
const request = (data: Json) => data.request as Json;

function accepted(data: unknown): Json {
  const parsed = eventGridDataSchema.safeParse(data);
  if (!parsed.success) throw new Error(`expected valid data, got ${parsed.error.message}`);
  return parsed.data;
}

function issuesOf(data: unknown) {
  const parsed = eventGridDataSchema.safeParse(data);
  if (parsed.success) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.data)}`);
  return parsed.error.issues.map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
  }));
}

describe("eventGridDataSchema: documented data", () => {
  it.each(documented)("%s validates and keeps every field", (_name, data) => {
    expect(accepted(copy(data))).toStrictEqual(data);
  });

  it.each(documented)("%s keeps unknown fields at every level", (_name, data) => {
    const extended = copy(data);
    extended.futureField = { nested: [1, "two", null] };
    extended.target = { ...(extended.target as Json), artifactType: "application/x.example" };
    extended.request = { ...((extended.request as Json | undefined) ?? {}), traceparent: "00-ab" };
    extended.connectedRegistry = { name: "edge01", tier: "ReadOnly" };
    expect(accepted(copy(extended))).toStrictEqual(extended);
  });

  it("keeps the chart fields name and version", () => {
    expect(accepted(fixtureData("eg-chartpushed.doc2019.json")).target).toMatchObject({
      name: "mychart",
      version: "1.0.0",
    });
  });
});

describe("eventGridDataSchema: variants", () => {
  it.each<[string, Json]>([
    ["location (replica region)", pushWith((d) => (d.location = "westeurope"))],
    ["connectedRegistry", pushWith((d) => (d.connectedRegistry = { name: "edge01" }))],
    ["an empty connectedRegistry", pushWith((d) => (d.connectedRegistry = {}))],
    ["no request", pushWith((d) => delete d.request)],
    ["no request.useragent", pushWith((d) => delete request(d).useragent)],
    [
      "no size and no length",
      pushWith((d) => {
        delete target(d).size;
        delete target(d).length;
      }),
    ],
    ["no tag (digest-only push)", pushWith((d) => delete target(d).tag)],
    ["an empty tag", pushWith((d) => (target(d).tag = ""))],
    ["no target", pushWith((d) => delete d.target)],
    ["target.url", pushWith((d) => (target(d).url = "https://contosoacr.azurecr.io/v2/x"))],
    ["request.addr", pushWith((d) => (request(d).addr = "10.0.0.4:443"))],
    [
      "an OCI index",
      pushWith((d) => (target(d).mediaType = "application/vnd.oci.image.index.v1+json")),
    ],
    ["9 fractional digits", pushWith((d) => (d.timestamp = "2023-11-17T16:52:01.343145347Z"))],
    ["7 fractional digits", pushWith((d) => (d.timestamp = "2023-03-05T23:45:31.2614267Z"))],
    ["a +00:00 offset", pushWith((d) => (d.timestamp = "2019-03-12T22:16:31.0087496+00:00"))],
    ["a non-UTC offset", pushWith((d) => (d.timestamp = "2023-11-17T18:52:01.3431453+02:00"))],
    ["an action ACR may add", pushWith((d) => (d.action = "artifact_push"))],
    ["unicode repository", pushWith((d) => (target(d).repository = "équipe/日本/app🚀"))],
  ])("%s is accepted unchanged", (_name, data) => {
    expect(accepted(copy(data))).toStrictEqual(data);
  });

  it("keeps a +00:00 timestamp string exactly", () => {
    const data = fixtureData("eg-chartdeleted.doc2019.json");
    expect(accepted(data).timestamp).toBe("2019-03-12T22:42:08.3783775+00:00");
  });

  it("accepts the minimal record: id, timestamp and action", () => {
    const minimal = { id: "x", timestamp: "2024-01-01T00:00:00Z", action: "push" };
    expect(accepted(minimal)).toStrictEqual(minimal);
  });
});

describe("eventGridDataSchema: refusals name the field", () => {
  it.each<[string, unknown, string, string]>([
    ["not an object", "push", "", "expected object"],
    ["an array", [push], "", "expected object"],
    ["no id", pushWith((d) => delete d.id), "id", "expected string"],
    ["empty id", pushWith((d) => (d.id = "")), "id", "Too small"],
    ["no timestamp", pushWith((d) => delete d.timestamp), "timestamp", "expected string"],
    [
      "a date-only timestamp",
      pushWith((d) => (d.timestamp = "2024-01-01")),
      "timestamp",
      "datetime",
    ],
    [
      "the 019- typo",
      pushWith((d) => (d.timestamp = "019-03-12T22:42:08Z")),
      "timestamp",
      "datetime",
    ],
    ["no action", pushWith((d) => delete d.action), "action", "expected string"],
    ["an empty action", pushWith((d) => (d.action = "")), "action", "Too small"],
    ["a numeric location", pushWith((d) => (d.location = 1)), "location", "expected string"],
    [
      "a string connectedRegistry",
      pushWith((d) => (d.connectedRegistry = "edge01")),
      "connectedRegistry",
      "expected object",
    ],
    [
      "a numeric connectedRegistry.name",
      pushWith((d) => (d.connectedRegistry = { name: 1 })),
      "connectedRegistry.name",
      "expected string",
    ],
    ["a string size", pushWith((d) => (target(d).size = "3023")), "target.size", "expected number"],
    ["a negative size", pushWith((d) => (target(d).size = -1)), "target.size", "Too small"],
    [
      "a control character in repository",
      pushWith((d) => (target(d).repository = "app\u0000")),
      "target.repository",
      "control characters",
    ],
    [
      "a control character in request.host",
      pushWith((d) => (request(d).host = "demo.azurecr.io\n")),
      "request.host",
      "control characters",
    ],
    ["a string target", pushWith((d) => (d.target = "app:v1")), "target", "expected object"],
  ])("%s", (_name, data, path, message) => {
    const issues = issuesOf(data);
    expect(issues).toContainEqual({ path, message: expect.stringContaining(message) });
  });
});

const REGISTRY_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr";

function acrEvent(data: Json, source = REGISTRY_ID): AcrEventGridEvent {
  return {
    envelopeId: "envelope-1",
    type: "Microsoft.ContainerRegistry.ImagePushed",
    source,
    schema: "eventgrid",
    data: accepted(data) as AcrEventGridEvent["data"],
  };
}

describe("eventGridDataSchemaFor: the action an event type carries", () => {
  const typed: [AcrEventType, string, string][] = [
    ["Microsoft.ContainerRegistry.ImagePushed", "push", "eg-imagepushed.doc2019.json"],
    ["Microsoft.ContainerRegistry.ImageDeleted", "delete", "eg-imagedeleted.doc2019.json"],
    ["Microsoft.ContainerRegistry.ChartPushed", "chart_push", "eg-chartpushed.doc2019.json"],
    ["Microsoft.ContainerRegistry.ChartDeleted", "chart_delete", "eg-chartdeleted.doc2019.json"],
  ];
  const documentedActions = ["push", "delete", "chart_push", "chart_delete", "quarantine", "ping"];

  it.each(typed)("%s takes its documented data (action %s)", (type, _action, fixture) => {
    expect(eventGridDataSchemaFor(type).safeParse(fixtureData(fixture)).success).toBe(true);
  });

  it.each(
    typed.flatMap(([type, own]) =>
      documentedActions.filter((action) => action !== own).map((action) => [type, action]),
    ) as [AcrEventType, string][],
  )("%s refuses the action %s, naming data.action", (type, action) => {
    const parsed = eventGridDataSchemaFor(type).safeParse({ ...copy(push), action });
    expect(parsed.error?.issues.map((issue) => issue.path.join("."))).toEqual(["action"]);
  });

  it("keeps an action ACR may add", () => {
    const data = pushWith((d) => (d.action = "artifact_push"));
    const schema = eventGridDataSchemaFor("Microsoft.ContainerRegistry.ImagePushed");
    expect(schema.parse(data)).toStrictEqual(data);
  });
});

describe("registryEventFromEventGrid", () => {
  it("maps the record of a push", () => {
    const data = pushWith((d) => (d.location = "westeurope"));
    expect(registryEventFromEventGrid(acrEvent(data), {})).toStrictEqual({
      eventId: "31c51664-e5bd-416a-a5df-e5206bc47ed0",
      action: "push",
      timestamp: "2018-04-25T21:39:47.276585742Z",
      occurredAt: Date.parse("2018-04-25T21:39:47.276Z"),
      registry: "demo.azurecr.io",
      repository: "aci-helloworld",
      tag: "v1",
      digest: "sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5",
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      region: "westeurope",
      connectedRegistry: undefined,
      origin: "eventgrid",
      payload: data,
    });
  });

  it.each<[string, Json, string, string | undefined]>([
    ["a registry's own push: none", push, REGISTRY_ID, undefined],
    [
      "data.connectedRegistry.name",
      pushWith((d) => (d.connectedRegistry = { name: "edge01" })),
      REGISTRY_ID,
      "edge01",
    ],
    [
      "data.connectedregistry.name (lowercase, as some events spell it)",
      pushWith((d) => (d.connectedregistry = { name: "edge02" })),
      REGISTRY_ID,
      "edge02",
    ],
    [
      "the source's connectedRegistries child",
      push,
      `${REGISTRY_ID}/connectedRegistries/edge03`,
      "edge03",
    ],
    [
      "data before the source",
      pushWith((d) => (d.connectedRegistry = { name: "edge01" })),
      `${REGISTRY_ID}/connectedRegistries/edge03`,
      "edge01",
    ],
    [
      "a connectedRegistry without a name: none",
      pushWith((d) => (d.connectedRegistry = {})),
      REGISTRY_ID,
      undefined,
    ],
  ])("connected registry: %s", (_name, data, source, connectedRegistry) => {
    const event = registryEventFromEventGrid(acrEvent(data, source), {});
    expect(event.connectedRegistry).toBe(connectedRegistry);
  });

  it.each<[string, Json, string, string | undefined, string]>([
    ["request.host first", push, REGISTRY_ID, "configured.azurecr.io", "demo.azurecr.io"],
    [
      "request.host lowercased and trimmed",
      pushWith((d) => (request(d).host = " Demo.AzureCR.io ")),
      REGISTRY_ID,
      undefined,
      "demo.azurecr.io",
    ],
    [
      "the resource id without request",
      pushWith((d) => delete d.request),
      REGISTRY_ID,
      "configured.azurecr.io",
      "contosoacr.azurecr.io",
    ],
    [
      "the resource id when request.host is blank",
      pushWith((d) => (request(d).host = "")),
      REGISTRY_ID,
      undefined,
      "contosoacr.azurecr.io",
    ],
    [
      "the configured login server when it is the resource id's registry's, with its label's hash",
      pushWith((d) => delete d.request),
      REGISTRY_ID,
      "ContosoACR-b5fph4ghbjdxd2ek.azurecr.io",
      "contosoacr-b5fph4ghbjdxd2ek.azurecr.io",
    ],
    [
      "the configured login server when it is the resource id's registry's, in a sovereign cloud",
      pushWith((d) => delete d.request),
      REGISTRY_ID,
      "contosoacr.azurecr.us",
      "contosoacr.azurecr.us",
    ],
    [
      "the resource id's registry when the configured login server is another registry's",
      pushWith((d) => delete d.request),
      REGISTRY_ID,
      "contosoacrtwo-b5fph4ghbjdxd2ek.azurecr.io",
      "contosoacr.azurecr.io",
    ],
    [
      "the configured default when the resource id is a placeholder",
      pushWith((d) => delete d.request),
      "/subscriptions/<subscription-id>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>",
      "Configured.azurecr.io",
      "configured.azurecr.io",
    ],
    [
      "unknown when nothing names it",
      pushWith((d) => delete d.request),
      "/subscriptions/<subscription-id>",
      undefined,
      UNKNOWN_REGISTRY,
    ],
  ])("registry: %s", (_name, data, source, configured, registry) => {
    const event = registryEventFromEventGrid(acrEvent(data, source), {
      configuredLoginServer: configured,
    });
    expect(event.registry).toBe(registry);
  });

  it("has no region when the data has no location", () => {
    expect(registryEventFromEventGrid(acrEvent(push), {}).region).toBeUndefined();
  });

  it("keeps the +00:00 timestamp string and derives occurredAt", () => {
    const data = fixtureData("eg-chartpushed.doc2019.json");
    const event = registryEventFromEventGrid(acrEvent(data), {});
    expect(event.timestamp).toBe("2019-03-12T22:16:31.0087496+00:00");
    expect(event.occurredAt).toBe(Date.UTC(2019, 2, 12, 22, 16, 31, 8));
  });
});
