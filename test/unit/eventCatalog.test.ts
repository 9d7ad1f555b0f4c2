import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { catalogFiles } from "../../dev/catalog";
import { catalogTopicsOf } from "../../src/catalog/eventCatalog";
import { serveCatalog } from "../../src/catalog/serveCatalog";
import { DEFAULT_TOPICS, loadRoutingTable } from "../../src/config";
import { validateAcrWebhookPayload } from "../../src/core/acrWebhookPayload";
import { registryEventFromWebhook } from "../../src/core/registryEvent";
import { replayedMessage } from "../../src/core/replay";
import { type SilenceFinding, silenceMessage } from "../../src/core/sourceSilence";
import { type TopicMessage, topicMessageFor } from "../../src/core/topicMessage";
import {
  missingPingProblem,
  type WebhookHealth,
  webhookHealthMessage,
  webhookMissingMessage,
} from "../../src/core/webhookHealth";
import { type CatalogDocument, catalogChecker } from "../support/catalogConformance";

const ROOT = join(__dirname, "../..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

const catalog = parse(read("docs/asyncapi.yaml")) as CatalogDocument;
const { schemaAt, failures, mismatches } = catalogChecker(catalog);

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
      "com.azure.acr.discrepancy.webhook-unhealthy",
      "com.azure.acr.discrepancy.webhook-unhealthy.resolved",
      "com.azure.acr.discrepancy.webhook-missing",
      "com.azure.acr.discrepancy.webhook-missing.resolved",
      "com.azure.acr.operational.webhook-silent",
      "com.azure.acr.operational.webhook-silent.resolved",
      "com.azure.acr.operational.eventgrid-silent",
      "com.azure.acr.operational.eventgrid-silent.resolved",
    ]);
  });

  const examples = Object.values(catalog.components.messages).flatMap((message) =>
    message.examples.map(
      (example) => [`${message.name} / ${example.name}`, message, example] as const,
    ),
  );

  it("has examples for every action, a cross-check finding, every operational message and a replay", () => {
    const withExamples = new Set(examples.map(([, message]) => message.name));
    const crossCheckOnly =
      /^com\.azure\.acr\.discrepancy\.(webhook-only|mismatched|quarantine-held)$/;
    expect(
      Object.keys(catalog.components.messages).filter((type) => !withExamples.has(type)),
    ).toEqual(Object.keys(catalog.components.messages).filter((type) => crossCheckOnly.test(type)));
    expect(examples.map(([name]) => name)).toContain("com.azure.acr.push / replayed-push");
  });

  it.each(examples)(
    "example %s matches its headers and payload schemas",
    (_name, message, example) => {
      expect([
        ...failures(schemaAt(message.headers), example.headers, "headers"),
        ...failures(schemaAt(message.payload), example.payload, "payload"),
      ]).toEqual([]);
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
      expect(mismatches(message)).toEqual([]);
      // A replay job sends it again under its own message id, with the replay's properties.
      const replayed = replayedMessage(message, "5f0c3e2a-8b1d-4c6e-9a7f-2d4b6c8e0a13");
      expect(replayed.messageId).not.toBe(replayed.body.id);
      expect(mismatches(replayed)).toEqual([]);
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
      const replay = { replayed: "true", replayJobId: "job", originalMessageId: "id" };
      expect(headers({ ...documented, ...replay })).toBe(true);
      expect(headers({ ...documented, ...replay, replayed: "false" })).toBe(false);
    });
  });

  describe("the operational findings the bridge builds", () => {
    const since = Date.parse("2026-05-01T10:00:00Z");
    const health = (registryId: string, problems: string[]): WebhookHealth => ({
      ref: { registryId, name: "bridgeeastus" },
      healthy: problems.length === 0,
      problems,
      since,
      checkedAt: since,
    });
    const registryId =
      "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/MyRegistry";
    const silent: SilenceFinding = {
      kind: "webhook-silent",
      registry: "myregistry.azurecr.io",
      region: "eastus",
      silentSince: Date.parse("2026-05-01T09:00:00Z"),
      openedAt: Date.parse("2026-05-01T09:40:00Z"),
    };
    const resolvedAt = Date.parse("2026-05-01T09:50:00Z");
    const built: [string, TopicMessage][] = [
      [
        "webhook-unhealthy",
        webhookHealthMessage(health(registryId, ["status is disabled", missingPingProblem(5_000)])),
      ],
      ["webhook-unhealthy resolved", webhookHealthMessage(health(registryId, []))],
      [
        "webhook-unhealthy of a registry id with no login server",
        webhookHealthMessage(health("not-an-id", ["status is disabled"])),
      ],
      [
        "webhook-missing",
        webhookMissingMessage(
          registryId,
          health(registryId, [
            "no webhook calling this bridge is enabled with every expected action",
            "bridgeeastus: status is disabled",
          ]),
        ),
      ],
      ["webhook-missing resolved", webhookMissingMessage(registryId, health(registryId, []))],
      [
        "webhook-missing of a registry id with no login server",
        webhookMissingMessage("not-an-id", health("not-an-id", ["the registry has no webhooks"])),
      ],
      ["webhook-silent", silenceMessage(silent)],
      ["webhook-silent resolved", silenceMessage({ ...silent, resolvedAt })],
      ["eventgrid-silent", silenceMessage({ ...silent, kind: "eventgrid-silent" })],
      [
        "eventgrid-silent resolved, no region",
        silenceMessage({ ...silent, kind: "eventgrid-silent", region: undefined, resolvedAt }),
      ],
    ];

    it.each(built)("%s matches the catalog", (_name, message) => {
      expect(mismatches(message)).toEqual([]);
    });

    it("an undocumented property fails their headers schemas", () => {
      for (const [, message] of built) {
        const applicationProperties = { ...message.applicationProperties, color: "red" };
        expect(mismatches({ ...message, applicationProperties })).toEqual([
          "headers: data must NOT have additional properties",
        ]);
      }
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

  it("names the topics this deployment publishes to, as its settings route them", () => {
    const routing = loadRoutingTable({ TOPIC_PUSH: "images-pushed" });
    const response = serveCatalog(catalogTopicsOf(routing, "findings"))();
    const document = JSON.parse(String(response.body)) as CatalogDocument;
    expect(document.channels["images-pushed"].address).toBe("images-pushed");
    expect(document.channels.findings.address).toBe("findings");
    expect(document.channels["acr-push"]).toBeUndefined();
    expect(document.channels["acr-delete"].address).toBe("acr-delete");
  });
});
