import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { catalogFiles } from "../../dev/catalog";
import { serveCatalog } from "../../src/catalog/serveCatalog";
import { DEFAULT_TOPICS } from "../../src/config";
import { validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { topicMessageFor } from "../../src/core/topicMessage";

const ROOT = join(__dirname, "../..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

interface CatalogMessageObject {
  name: string;
  headers: { $ref: string };
  payload: { $ref: string };
  examples: { name: string; headers: unknown; payload: { type: string } }[];
}

interface Catalog {
  channels: Record<string, { address: string; messages: Record<string, unknown> }>;
  components: {
    schemas: Record<string, object>;
    messages: Record<string, CatalogMessageObject>;
  };
}

const catalog = parse(read("docs/asyncapi.yaml")) as Catalog;
const ajv = addFormats(new Ajv({ allErrors: true, strict: true }));
const schemaAt = (ref: { $ref: string }) => {
  const name = ref.$ref.replace("#/components/schemas/", "");
  const schema = catalog.components.schemas[name];
  if (!schema) throw new Error(`no schema ${ref.$ref}`);
  return ajv.compile(schema);
};

describe("the event catalog (docs/asyncapi.yaml)", () => {
  it("is what `npm run catalog` generates from the code: run it after changing a schema", () => {
    const files = catalogFiles();
    for (const [path, content] of files) expect(read(path), path).toBe(content);
    const schemaFiles = readdirSync(join(ROOT, "docs/schemas")).map(
      (name) => `docs/schemas/${name}`,
    );
    expect(schemaFiles.sort()).toEqual(
      [...files.keys()].filter((path) => path.startsWith("docs/schemas/")).sort(),
    );
  });

  it("is a valid AsyncAPI 3 document for @asyncapi/parser", async () => {
    const { document, diagnostics } = await new Parser().parse(read("docs/asyncapi.yaml"));
    const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
    expect(errors.map((error) => `${error.path.join(".")}: ${error.message}`)).toEqual([]);
    expect(document?.version()).toBe("3.0.0");
    expect(
      document
        ?.channels()
        .all()
        .map((channel) => channel.address()),
    ).toEqual([...Object.values(DEFAULT_TOPICS), "acr-discrepancies"]);
  });

  it("documents each topic's messages with a stable CloudEvents type", () => {
    const types = Object.keys(catalog.components.messages);
    expect(types).toEqual([
      "com.azure.acr.push",
      "com.azure.acr.delete",
      "com.azure.acr.chart_push",
      "com.azure.acr.chart_delete",
      "com.azure.acr.quarantine",
      "com.azure.acr.discrepancy.webhook-only",
      "com.azure.acr.discrepancy.eventgrid-only",
      "com.azure.acr.discrepancy.mismatched",
      "com.azure.acr.discrepancy.quarantine-held",
    ]);
  });

  const examples = Object.values(catalog.components.messages).flatMap((message) =>
    message.examples.map(
      (example) => [`${message.name} / ${example.name}`, message, example] as const,
    ),
  );

  it("has examples for every action and a finding", () => {
    expect(new Set(examples.map(([, message]) => message.name)).size).toBe(6);
  });

  it.each(examples)(
    "example %s matches its headers and payload schemas",
    (_name, message, example) => {
      const headers = schemaAt(message.headers);
      expect(headers(example.headers), ajv.errorsText(headers.errors)).toBe(true);
      const payload = schemaAt(message.payload);
      expect(payload(example.payload), ajv.errorsText(payload.errors)).toBe(true);
      expect(example.payload.type).toBe(message.name);
    },
  );

  describe("the messages the bridge builds for ACR's documented payloads", () => {
    const fixtures = [
      "webhook-push.doc.json",
      "webhook-delete.doc.json",
      "webhook-chart_push.doc.json",
      "webhook-chart_delete.doc.json",
      "webhook-quarantine.acr-preview.json",
    ];
    it.each(fixtures)("%s matches the catalog", (name) => {
      const validation = validateAcrWebhookPayload(
        JSON.parse(read(`test/fixtures/acr-webhook/${name}`)),
      );
      if (!validation.ok) throw new Error(JSON.stringify(validation.failure));
      const event = registryEventFromWebhook(validation.value, {
        registry: "myregistry.azurecr.io",
        region: "eastus",
        receivedAt: 0,
        fallbackEventId: "x",
      });
      const message = topicMessageFor(event, ["v1"]);
      const described = catalog.components.messages[message.body.type];
      const headers = schemaAt(described.headers);
      expect(headers(message.applicationProperties), ajv.errorsText(headers.errors)).toBe(true);
      const payload = schemaAt(described.payload);
      expect(payload(message.body), ajv.errorsText(payload.errors)).toBe(true);
    });

    it("an undocumented application property, or an unknown kind, fails the headers schema", () => {
      const headers = schemaAt({ $ref: "#/components/schemas/event-properties" });
      const documented = {
        action: "push",
        registry: "r",
        origin: "webhook",
        artifactKind: "image",
        tagged: "true",
      };
      expect(headers(documented)).toBe(true);
      expect(headers({ ...documented, color: "red" })).toBe(false);
      expect(headers({ ...documented, artifactKind: "chart" })).toBe(false);
    });
  });
});

describe("GET /api/catalog", () => {
  let served: unknown;
  beforeAll(() => {
    const response = serveCatalog({
      actions: DEFAULT_TOPICS,
      discrepancies: "acr-discrepancies",
    })();
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({ "content-type": "application/json" });
    served = JSON.parse(String(response.body));
  });

  it("serves the catalog document as JSON", () => {
    expect(served).toEqual(catalog);
  });

  it("names the topics this deployment publishes to", () => {
    const response = serveCatalog({
      actions: { ...DEFAULT_TOPICS, push: "images-pushed" },
      discrepancies: "acr-discrepancies",
    })();
    const document = JSON.parse(String(response.body)) as Catalog;
    expect(document.channels["images-pushed"].address).toBe("images-pushed");
    expect(document.channels["acr-push"]).toBeUndefined();
  });
});
