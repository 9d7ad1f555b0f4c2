import { describe, expect, it } from "vitest";
import { loadEventGridSettings } from "../../src/config";
import {
  ACR_EVENT_TYPES,
  connectedRegistryOf,
  hostTrustOf,
  isAcrEventType,
  isRegistryResourceId,
  isTrustedSource,
  loginServerFromResourceId,
  trustOf,
} from "../../src/core/eventGridTrust";
import { configError } from "../support/configError";

const REGISTRY_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr";
const OTHER_REGISTRY_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/fabrikamacr";
/** The placeholder topic of Microsoft's documented examples. */
const DOC_TOPIC =
  "/subscriptions/<subscription-id>/resourceGroups/<resource-group-name>/providers/Microsoft.ContainerRegistry/registries/<name>";

describe("ACR_EVENT_TYPES", () => {
  it("holds exactly the four full type names ACR publishes", () => {
    expect(ACR_EVENT_TYPES).toEqual([
      "Microsoft.ContainerRegistry.ImagePushed",
      "Microsoft.ContainerRegistry.ImageDeleted",
      "Microsoft.ContainerRegistry.ChartPushed",
      "Microsoft.ContainerRegistry.ChartDeleted",
    ]);
  });

  it.each(ACR_EVENT_TYPES)("%s is an ACR event type", (type) => {
    expect(isAcrEventType(type)).toBe(true);
  });

  it.each([
    ["short name of the doc examples", "ImagePushed"],
    ["short name of the doc examples", "ImageDeleted"],
    ["other casing", "microsoft.containerregistry.imagepushed"],
    ["quarantine (no such Event Grid event)", "Microsoft.ContainerRegistry.ImageQuarantined"],
    ["another service", "Microsoft.Storage.BlobCreated"],
    ["the validation handshake", "Microsoft.EventGrid.SubscriptionValidationEvent"],
    ["empty", ""],
  ])("%s (%j) is not", (_name, type) => {
    expect(isAcrEventType(type)).toBe(false);
  });
});

describe("isTrustedSource", () => {
  it.each<[string, string, readonly string[]]>([
    ["the same id", REGISTRY_ID, [REGISTRY_ID]],
    ["one of several ids", REGISTRY_ID, [OTHER_REGISTRY_ID, REGISTRY_ID]],
    ["another casing (ARM ids are case-insensitive)", REGISTRY_ID.toUpperCase(), [REGISTRY_ID]],
    ["a configured id in another casing", REGISTRY_ID, [REGISTRY_ID.toLowerCase()]],
    ["a trailing slash on the source", `${REGISTRY_ID}/`, [REGISTRY_ID]],
    ["a trailing slash on the configured id", REGISTRY_ID, [`${REGISTRY_ID}/`]],
    ["surrounding whitespace", ` ${REGISTRY_ID} `, [REGISTRY_ID]],
    ["the doc placeholder when it is configured", DOC_TOPIC, [DOC_TOPIC]],
  ])("trusts %s", (_name, source, trusted) => {
    expect(isTrustedSource(source, trusted)).toBe(true);
  });

  it.each<[string, string, readonly string[]]>([
    ["another registry", OTHER_REGISTRY_ID, [REGISTRY_ID]],
    ["a name that extends the trusted one", `${REGISTRY_ID}2`, [REGISTRY_ID]],
    ["a child resource of the registry", `${REGISTRY_ID}/replications/westeurope`, [REGISTRY_ID]],
    [
      "a custom topic",
      "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-acr/providers/Microsoft.EventGrid/topics/contosoacr",
      [REGISTRY_ID],
    ],
    ["an empty source", "", [REGISTRY_ID]],
    ["a blank source", "  ", [REGISTRY_ID]],
    ["a lone slash", "/", ["/"]],
    ["an empty trust list", REGISTRY_ID, []],
  ])("refuses %s", (_name, source, trusted) => {
    expect(isTrustedSource(source, trusted)).toBe(false);
  });
});

describe("connected registries", () => {
  it.each<[string, string, boolean]>([
    [
      "a connected registry of a trusted registry",
      `${REGISTRY_ID}/connectedRegistries/edge1`,
      true,
    ],
    ["spelled in another case", `${REGISTRY_ID}/CONNECTEDREGISTRIES/edge1/`, true],
    ["of an untrusted registry", `${OTHER_REGISTRY_ID}/connectedRegistries/edge1`, false],
    ["a deeper child", `${REGISTRY_ID}/connectedRegistries/edge1/extra`, false],
    ["another kind of child", `${REGISTRY_ID}/webhooks/edge1`, false],
    ["an empty name", `${REGISTRY_ID}/connectedRegistries/`, false],
  ])("%s: trusted is %s", (_, source, trusted) => {
    expect(isTrustedSource(source, [REGISTRY_ID])).toBe(trusted);
  });

  it("names the connected registry and the parent's login server", () => {
    const source = `${REGISTRY_ID}/connectedRegistries/edge1`;
    expect(connectedRegistryOf(source)).toBe("edge1");
    expect(loginServerFromResourceId(source)).toBe("contosoacr.azurecr.io");
    expect(connectedRegistryOf(REGISTRY_ID)).toBeUndefined();
  });
});

describe("loginServerFromResourceId", () => {
  it.each([
    [REGISTRY_ID, "contosoacr.azurecr.io"],
    [`${REGISTRY_ID}/`, "contosoacr.azurecr.io"],
    [REGISTRY_ID.replace("contosoacr", "ContosoACR"), "contosoacr.azurecr.io"],
    [REGISTRY_ID.toLowerCase(), "contosoacr.azurecr.io"],
    [` ${REGISTRY_ID} `, "contosoacr.azurecr.io"],
  ])("%s -> %s", (resourceId, loginServer) => {
    expect(loginServerFromResourceId(resourceId)).toBe(loginServer);
  });

  it.each([
    ["the doc placeholder", DOC_TOPIC],
    ["a name under 5 characters", REGISTRY_ID.replace("contosoacr", "demo")],
    ["a name with a hyphen", REGISTRY_ID.replace("contosoacr", "contoso-acr")],
    ["a child resource", `${REGISTRY_ID}/replications/westeurope`],
    ["another provider", REGISTRY_ID.replace("Microsoft.ContainerRegistry", "Microsoft.EventGrid")],
    ["a subscription only", "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"],
    ["a login server", "contosoacr.azurecr.io"],
    ["empty", ""],
  ])("%s gives none", (_name, resourceId) => {
    expect(loginServerFromResourceId(resourceId)).toBeUndefined();
    expect(isRegistryResourceId(resourceId)).toBe(false);
  });
});

describe("loadEventGridSettings", () => {
  it.each<[string, string, string[]]>([
    ["one id", REGISTRY_ID, [REGISTRY_ID]],
    ["two ids", `${REGISTRY_ID},${OTHER_REGISTRY_ID}`, [REGISTRY_ID, OTHER_REGISTRY_ID]],
    [
      "spaces and empty items",
      ` ${REGISTRY_ID} ,, ${OTHER_REGISTRY_ID}, `,
      [REGISTRY_ID, OTHER_REGISTRY_ID],
    ],
    ["a trailing slash", `${REGISTRY_ID}/`, [`${REGISTRY_ID}/`]],
    ["lower case", REGISTRY_ID.toLowerCase(), [REGISTRY_ID.toLowerCase()]],
  ])("reads ACR_RESOURCE_IDS with %s", (_name, value, ids) => {
    expect(loadEventGridSettings({ ACR_RESOURCE_IDS: value }).trustedResourceIds).toEqual(ids);
  });

  it("reads the fallback login server", () => {
    const settings = loadEventGridSettings({
      ACR_RESOURCE_IDS: REGISTRY_ID,
      ACR_LOGIN_SERVER: "contosoacr.azurecr.io",
    });
    expect(settings.loginServer).toBe("contosoacr.azurecr.io");
    expect(loadEventGridSettings({ ACR_RESOURCE_IDS: REGISTRY_ID }).loginServer).toBeUndefined();
  });

  it.each<[string, string | undefined, string]>([
    ["a login server", "contosoacr.azurecr.io", '"contosoacr.azurecr.io" is not a registry'],
    ["the doc placeholder", DOC_TOPIC, "is not a registry resource id"],
    [
      "a non-GUID subscription",
      REGISTRY_ID.replace("0b1f6471-1bf0-4dda-aec3-cb9272f09590", "my-sub"),
      "is not a registry resource id",
    ],
    ["a child resource", `${REGISTRY_ID}/replications/westeurope`, "is not a registry"],
    ["one bad id among good ones", `${REGISTRY_ID},nope`, '"nope" is not a registry'],
  ])("refuses ACR_RESOURCE_IDS %s", (_name, value, message) => {
    const error = configError(() => loadEventGridSettings({ ACR_RESOURCE_IDS: value }));
    expect(error.setting).toBe("ACR_RESOURCE_IDS");
    expect(error.message).toContain("setting ACR_RESOURCE_IDS:");
    expect(error.message).toContain(message);
  });

  it.each([
    ["unset", undefined],
    ["empty", ""],
    ["only commas", " , ,"],
  ])("trusts no Event Grid source when ACR_RESOURCE_IDS is %s", (_name, value) => {
    expect(loadEventGridSettings({ ACR_RESOURCE_IDS: value }).trustedResourceIds).toEqual([]);
  });

  it("names ACR_LOGIN_SERVER when it is too long", () => {
    const error = configError(() =>
      loadEventGridSettings({ ACR_RESOURCE_IDS: REGISTRY_ID, ACR_LOGIN_SERVER: "x".repeat(300) }),
    );
    expect(error.setting).toBe("ACR_LOGIN_SERVER");
  });
});

describe("trustOf", () => {
  const pushed = "Microsoft.ContainerRegistry.ImagePushed";
  it.each([
    ["a registry we trust", pushed, REGISTRY_ID, { kind: "trusted", type: pushed }],
    [
      "a connected registry of one",
      pushed,
      `${REGISTRY_ID}/connectedRegistries/edge-1`,
      { kind: "trusted", type: pushed },
    ],
    [
      "another registry",
      pushed,
      OTHER_REGISTRY_ID,
      { kind: "untrusted", reason: "foreign-source" },
    ],
    [
      "the documentation's placeholder",
      pushed,
      DOC_TOPIC,
      { kind: "untrusted", reason: "foreign-source" },
    ],
    ["no source", pushed, "", { kind: "untrusted", reason: "missing-source" }],
    ["a blank source", pushed, "  ", { kind: "untrusted", reason: "missing-source" }],
    [
      "another type, from a trusted registry",
      "Microsoft.Storage.BlobCreated",
      REGISTRY_ID,
      { kind: "ignored", reason: "unsupported-type" },
    ],
    [
      "the short type of some examples",
      "ImagePushed",
      "",
      { kind: "ignored", reason: "unsupported-type" },
    ],
  ])("%s", (_name, type, source, expected) => {
    expect(trustOf(type, source, [REGISTRY_ID])).toEqual(expected);
  });
});

describe("hostTrustOf", () => {
  const edge = `${REGISTRY_ID}/connectedRegistries/edge-1`;
  const trusted = { kind: "trusted" };
  const foreignHost = { kind: "untrusted", reason: "foreign-host" };
  it.each([
    ["the registry's login server", REGISTRY_ID, "contosoacr.azurecr.io", trusted],
    ["it in another case", REGISTRY_ID, "ContosoACR.AzureCR.io", trusted],
    ["a replica's login server", REGISTRY_ID, "contosoacr.westeurope.data.azurecr.io", trusted],
    ["no request.host (a chart)", REGISTRY_ID, undefined, trusted],
    ["another registry", REGISTRY_ID, "fabrikamacr.azurecr.io", foreignHost],
    ["another registry's replica", REGISTRY_ID, "fabrikamacr.eastus.data.azurecr.io", foreignHost],
    ["a name that only starts alike", REGISTRY_ID, "contosoacr2.azurecr.io", foreignHost],
    [
      "a login server with a domain name label's hash",
      REGISTRY_ID,
      "contosoacr-e7gzf3bqdx.azurecr.io",
      trusted,
    ],
    [
      "another registry's, with a hash",
      REGISTRY_ID,
      "fabrikamacr-e7gzf3bqdx.azurecr.io",
      foreignHost,
    ],
    ["an address, not a login server", REGISTRY_ID, "192.168.100.227:5000", trusted],
    ["it with a port and a trailing dot", REGISTRY_ID, "contosoacr.azurecr.io.:443", trusted],
    ["a regional endpoint's", REGISTRY_ID, "contosoacr.eastus.geo.azurecr.io", trusted],
    ["another registry with a port", REGISTRY_ID, "fabrikamacr.azurecr.io:443", foreignHost],
    ["another registry with a trailing dot", REGISTRY_ID, "fabrikamacr.azurecr.io.", foreignHost],
    [
      "another registry's regional endpoint",
      REGISTRY_ID,
      "fabrikamacr.eastus.geo.azurecr.io",
      foreignHost,
    ],
    ["a connected registry's own address", edge, "192.168.100.227:5000", trusted],
    ["a connected registry's parent", edge, "contosoacr.azurecr.io", trusted],
    ["another registry, from a connected registry", edge, "fabrikamacr.azurecr.io", foreignHost],
  ])("%s", (_name, source, host, expected) => {
    expect(hostTrustOf(source, host)).toEqual(expected);
  });
});
