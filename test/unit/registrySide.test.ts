import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_REQUEST_CHARS } from "../../src/adapters/deliveryEntity";
import { importFromLog } from "../../src/backfill/loggedDeliveryImport";
import { loadRegistryAccessSettings, loadRoutingTable } from "../../src/config";
import { newRecord } from "../../src/core/deliveryRecord";
import type { LoggedDelivery, WebhookConfiguration } from "../../src/core/registryWebhooks";
import { messageIdFor } from "../../src/core/topicMessage";
import {
  configurationProblems,
  healthChange,
  missingPingProblem,
  pingVerdict,
  registryWebhookProblems,
  type WebhookHealth,
  webhookHealthMessage,
} from "../../src/core/webhookHealth";
import { configError } from "../support/configError";

const REGISTRY_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry";
const SECRET = "unit-secret-7f3a";

/** The REST spec's list-events example, as ARM returns it. */
const specExample = JSON.parse(
  readFileSync(
    join(__dirname, "../fixtures/acr-webhook/webhook-listEvents.specs-example.json"),
    "utf8",
  ),
) as {
  value: {
    id: string;
    eventRequestMessage: Record<string, unknown>;
    eventResponseMessage: { statusCode: string };
  }[];
};

function logged(overrides: Partial<LoggedDelivery> = {}): LoggedDelivery {
  const [entry] = specExample.value;
  const request = entry.eventRequestMessage as {
    content: unknown;
    headers: Record<string, string>;
    requestUri: string;
  };
  return {
    logId: entry.id,
    content: request.content,
    requestUri: request.requestUri,
    requestHeaders: request.headers,
    responseStatus: Number(entry.eventResponseMessage.statusCode),
    ...overrides,
  };
}

const context = {
  registryId: REGISTRY_ID,
  routing: loadRoutingTable({}),
  loginServer: "myregistry.azurecr.io",
  authHeader: "authorization",
  secrets: [SECRET],
  maxBodyBytes: 64 * 1024,
  maxRequestChars: MAX_REQUEST_CHARS,
  now: Date.parse("2026-05-01T00:00:00Z"),
};

describe("importFromLog: what the webhook would have recorded, from ACR's log", () => {
  it("turns the spec example into an acr-log delivery with the webhook's keys and message id", () => {
    const result = importFromLog(
      logged({
        requestUri: "https://bridge.example/api/acr/webhook?region=westeurope&code=fn-key",
        responseStatus: 503,
      }),
      context,
    );
    if (result.kind !== "delivery") throw new Error(result.kind);
    const { event, request, route } = result.delivery;
    expect(event).toMatchObject({
      origin: "acr-log",
      eventId: "00000000-0000-0000-0000-000000000000",
      action: "push",
      registry: "192.168.100.227:5000",
      repository: "hello-world",
      tag: "latest",
      region: "westeurope",
      timestamp: "2017-03-01T23:14:37.0707808Z",
    });
    expect(route).toEqual({ kind: "topic", topic: "acr-push" });
    expect(messageIdFor(event)).toBe(messageIdFor({ ...event, origin: "webhook" }));
    expect(request.loggedResponse).toEqual({ status: 503 });
    expect(request.uri).not.toContain("fn-key");
    expect(request.headers.Authorization).toBe("******");
  });

  it.each([
    { name: "the status ACR logged", responseStatus: 401, status: 401 },
    {
      name: "no status when ACR got no answer (a timeout)",
      responseStatus: undefined,
      status: undefined,
    },
  ])(
    "records on the import's arrival $name, not the 200 of a delivery the bridge took",
    ({ responseStatus, status }) => {
      const result = importFromLog(logged({ responseStatus }), context);
      if (result.kind !== "delivery") throw new Error(result.kind);
      expect(newRecord(result.delivery).arrivals).toEqual([
        { receivedAt: "2026-05-01T00:00:00.000Z", region: undefined, status },
      ]);
    },
  );

  it("masks a header that carries a secret even when ACR logged it in the clear", () => {
    const result = importFromLog(
      logged({ requestHeaders: { "X-Token": `Bearer ${SECRET}` } }),
      context,
    );
    if (result.kind !== "delivery") throw new Error(result.kind);
    expect(JSON.stringify(result.delivery)).not.toContain(SECRET);
  });

  it.each([
    {
      name: "credentials in the bridge's URI",
      requestUri:
        "https://ops:uri-pass-91c@bridge.example/api/acr/webhook?region=westeurope&registry=myregistry.azurecr.io",
      kept: "https://bridge.example/api/acr/webhook?region=westeurope&registry=myregistry.azurecr.io",
    },
    {
      name: "another consumer's URI, its token in the path",
      requestUri: "https://hooks.chat.example/services/T0/B0/path-token-5d2?region=westeurope",
      kept: "https://hooks.chat.example/…?region=westeurope",
    },
    {
      name: "a signature in another parameter",
      requestUri: "https://flows.example/api/acr/webhook?region=westeurope&sig=sig-token-3e8",
      kept: "https://flows.example/api/acr/webhook?region=westeurope&sig=******",
    },
  ])("keeps no secret of the logged URI in the record: $name", ({ requestUri, kept }) => {
    const result = importFromLog(logged({ requestUri }), context);
    if (result.kind !== "delivery") throw new Error(result.kind);
    expect(result.delivery.request.uri).toBe(kept);
    expect(result.delivery.event.region).toBe("westeurope");
  });

  it("keeps the names of another consumer's custom headers, not their values", () => {
    const result = importFromLog(
      logged({
        requestHeaders: {
          "Content-Type": "application/json",
          "User-Agent": "AzureContainerRegistry/1.0",
          "X-Api-Key": "header-token-8b1",
        },
      }),
      context,
    );
    if (result.kind !== "delivery") throw new Error(result.kind);
    expect(result.delivery.request.headers).toEqual({
      "Content-Type": "application/json",
      "User-Agent": "AzureContainerRegistry/1.0",
      "X-Api-Key": "******",
    });
  });

  it("takes the registry from the logged URI's registry parameter when the event names none", () => {
    const chart = {
      id: "c1",
      timestamp: "2026-05-01T09:00:00Z",
      action: "chart_push",
      target: { repository: "charts", tag: "1.0.0", digest: "sha256:ab" },
    };
    const withParameter = importFromLog(
      logged({
        content: chart,
        requestUri: "https://b.example/api/acr/webhook?registry=charts.contoso.example",
      }),
      context,
    );
    const without = importFromLog(logged({ content: chart, requestUri: undefined }), context);
    expect(withParameter.kind === "delivery" && withParameter.delivery.event.registry).toBe(
      "charts.contoso.example",
    );
    expect(without.kind === "delivery" && without.delivery.event.registry).toBe(
      "myregistry.azurecr.io",
    );
  });

  it("reports an event of another ACR registry than the one whose log it is in as unusable", () => {
    const push = logged().content as { request: Record<string, unknown> };
    const chart = {
      id: "c1",
      timestamp: "2026-05-01T09:00:00Z",
      action: "chart_push",
      target: { repository: "charts", tag: "1.0.0", digest: "sha256:ab" },
    };
    const otherHost = { ...push, request: { ...push.request, host: "otherregistry.azurecr.io" } };
    const ownDataEndpoint = {
      ...push,
      request: { ...push.request, host: "myregistry.westeurope.data.azurecr.io" },
    };
    const onlyWebhook = "https://b.example/api/acr/webhook?region=westeurope";
    const cases = [
      { content: otherHost, requestUri: onlyWebhook },
      { content: chart, requestUri: `${onlyWebhook}&registry=otherregistry.azurecr.io` },
      // ACR_LOGIN_SERVER names one registry; this log is another's.
      { content: chart, requestUri: onlyWebhook, loginServer: "otherregistry.azurecr.io" },
    ];
    for (const { loginServer, ...entry } of cases) {
      expect(
        importFromLog(logged(entry), {
          ...context,
          loginServer: loginServer ?? context.loginServer,
        }),
      ).toEqual({
        kind: "unusable",
        why: "the event is of registry otherregistry.azurecr.io, not of the registry whose log it is in (myregistry)",
      });
    }
    const own = importFromLog(
      logged({ content: ownDataEndpoint, requestUri: onlyWebhook }),
      context,
    );
    expect(own.kind === "delivery" && own.delivery.event.registry).toBe(
      "myregistry.westeurope.data.azurecr.io",
    );
  });

  it.each<[string, unknown, RegExp]>([
    ["no body", undefined, /no request body/],
    ["not an event", { hello: "world" }, /not an ACR event/],
    ["no id", { timestamp: "2026-05-01T09:00:00Z", action: "push" }, /\bid\b/],
    ["no timestamp", { id: "x", action: "push" }, /timestamp/],
    [
      "a body nested too deep to serialise",
      JSON.parse(
        `{"id":"x","timestamp":"2026-05-01T09:00:00Z","action":"push","deep":${"[".repeat(200_000)}${"]".repeat(200_000)}}`,
      ),
      /nest deeper than 32 levels/,
    ],
  ])("reports %s as unusable, with why", (_name, content, why) => {
    const result = importFromLog(logged({ content }), context);
    expect(result.kind).toBe("unusable");
    expect(result.kind === "unusable" && result.why).toMatch(why);
  });

  it("reports a body larger than the webhook takes (WEBHOOK_MAX_BODY_BYTES) as unusable, as the webhook refuses it", () => {
    const content = logged().content as Record<string, unknown>;
    // Multi-byte characters: the limit is on the body's bytes, as the webhook counts them.
    const padding = (characters: number) => ({ ...content, note: "é".repeat(characters) });
    const fits = importFromLog(logged({ content: padding(30_000) }), context);
    const tooLarge = importFromLog(logged({ content: padding(33_000) }), context);
    expect(fits.kind).toBe("delivery");
    expect(tooLarge).toEqual({
      kind: "unusable",
      why: expect.stringMatching(/larger than WEBHOOK_MAX_BODY_BYTES \(65536 bytes\)/),
    });
  });

  it("reports a logged URI with an invalid region as unusable", () => {
    const result = importFromLog(
      logged({ requestUri: "https://b.example/hook?region=west%20europe" }),
      context,
    );
    expect(result).toMatchObject({ kind: "unusable", why: expect.stringMatching(/region/) });
  });

  it.each<[string, Partial<LoggedDelivery>, string]>([
    [
      "headers that are text",
      { requestHeaders: "Content-Type: application/json" },
      "the logged request headers are not names with text values",
    ],
    [
      "a header value that is not text",
      { requestHeaders: { "Content-Length": 708 } },
      "the logged request headers are not names with text values",
    ],
    [
      "headers that are a list",
      { requestHeaders: ["Content-Type"] },
      "the logged request headers are not names with text values",
    ],
    [
      "a URI that is not text",
      { requestUri: { href: "https://b.example/" } },
      "the logged request URI is not a URL",
    ],
    ["a URI that is no URL", { requestUri: "not a url" }, "the logged request URI is not a URL"],
  ])("reports a log entry with %s as unusable", (_name, entry, why) => {
    expect(importFromLog(logged(entry), context)).toEqual({ kind: "unusable", why });
  });

  const cut = (text: string) => `${text.slice(0, 1024)}…[cut from ${text.length} characters]`;

  it("keeps a logged text (the URI, a header name or value) up to 1,024 characters, the rest marked as cut", () => {
    const agent = "a".repeat(5000);
    const name = `X-${"n".repeat(3000)}`;
    const registry = "r".repeat(2000);
    const result = importFromLog(
      logged({
        requestUri: `https://bridge.example/api/acr/webhook?region=westeurope&registry=myregistry.azurecr.io&registry=${registry}`,
        requestHeaders: { "User-Agent": agent, [name]: "value", Host: "bridge.example" },
      }),
      context,
    );
    if (result.kind !== "delivery") throw new Error(result.kind);
    const { request } = result.delivery;
    expect(request.headers).toEqual({
      "User-Agent": cut(agent),
      [cut(name)]: "******",
      Host: "bridge.example",
    });
    // Only the first `registry` is read, the others kept as logged: cut with the rest.
    expect(request.uri).toBe(
      cut(
        `https://bridge.example/api/acr/webhook?region=westeurope&registry=myregistry.azurecr.io&registry=${registry}`,
      ),
    );
    expect(request.headersLeftOut).toBeUndefined();
  });

  it("masks before it cuts: no part of a secret is kept, however long the text that holds it", () => {
    const long = "x".repeat(5000);
    const result = importFromLog(
      logged({
        requestUri: `https://bridge.example/api/acr/webhook?region=westeurope&registry=myregistry.azurecr.io&registry=${long}${SECRET}`,
        requestHeaders: { "User-Agent": `${long}${SECRET}`, "X-Key": `${SECRET}${long}` },
      }),
      context,
    );
    if (result.kind !== "delivery") throw new Error(result.kind);
    expect(result.delivery.request.headers).toEqual({ "User-Agent": "******", "X-Key": "******" });
    // A parameter that carries a secret is masked under its name, every time it is given.
    expect(result.delivery.request.uri).toBe(
      "https://bridge.example/api/acr/webhook?region=westeurope&registry=******",
    );
    expect(JSON.stringify(result.delivery)).not.toContain(SECRET.slice(0, 6));
  });

  it("never cuts a character in two", () => {
    // The 1,024th character is the first half of the 512th emoji.
    const agent = `a${"😀".repeat(600)}`;
    const result = importFromLog(logged({ requestHeaders: { "User-Agent": agent } }), context);
    if (result.kind !== "delivery") throw new Error(result.kind);
    const kept = result.delivery.request.headers["User-Agent"];
    expect(kept).toBe(`a${"😀".repeat(511)}…[cut from 1201 characters]`);
    expect(kept.isWellFormed()).toBe(true);
  });

  it("keeps the headers in their logged order while the request fits what a record holds, and counts the others", () => {
    const headers = Object.fromEntries(
      Array.from({ length: 3000 }, (_, n) => [`X-Header-${n}`, `value-${n}`]),
    );
    const result = importFromLog(logged({ requestHeaders: headers }), context);
    if (result.kind !== "delivery") throw new Error(result.kind);
    const { request } = result.delivery;
    const kept = Object.keys(request.headers);
    expect(kept).toEqual(Object.keys(headers).slice(0, kept.length));
    expect(request.headersLeftOut).toBe(3000 - kept.length);
    expect(JSON.stringify(request).length).toBeLessThanOrEqual(MAX_REQUEST_CHARS);
    // Nearly full: the next header would not have fitted.
    expect(JSON.stringify(request).length).toBeGreaterThan(MAX_REQUEST_CHARS - 40);
  });

  it("leaves pings to the health check", () => {
    expect(
      importFromLog(
        logged({ content: { id: "p", timestamp: "2026-05-01T09:00:00Z", action: "ping" } }),
        context,
      ),
    ).toEqual({ kind: "ping" });
  });
});

const healthy: WebhookConfiguration = {
  ref: { registryId: REGISTRY_ID, name: "bridgewesteurope" },
  location: "westeurope",
  status: "enabled",
  scope: "",
  actions: ["push", "delete", "chart_push", "chart_delete", "quarantine"],
  serviceUri:
    "https://func-api.azurewebsites.net/api/acr/webhook?region=westeurope&registry=myregistry.azurecr.io",
  customHeaderNames: ["Authorization"],
};
const expectations = {
  bridgeWebhookUrl: "https://func-api.azurewebsites.net/api/acr/webhook",
  actions: healthy.actions,
  scope: "",
  authHeader: "Authorization",
};

describe("configurationProblems", () => {
  it("finds nothing wrong with a webhook as infra creates it", () => {
    expect(configurationProblems(healthy, expectations)).toEqual([]);
    expect(configurationProblems({ ...healthy, location: "West Europe" }, expectations)).toEqual(
      [],
    );
  });

  it("names each drift", () => {
    const drifted = {
      ...healthy,
      status: "disabled",
      actions: ["push"],
      scope: "team/*",
      serviceUri: "https://other.example/hook?region=eastus&code=secret-key",
      customHeaderNames: ["x-other"],
    };
    expect(configurationProblems(drifted, expectations)).toEqual([
      "status is disabled",
      "actions missing: delete, chart_push, chart_delete, quarantine",
      "scope is 'team/*', expected everything",
      "service URI points at https://other.example/…, not at this bridge (https://func-api.azurewebsites.net/api/acr/webhook)",
      "service URI region 'eastus' is not the webhook's location 'westeurope'",
      "custom headers carry no Authorization header",
    ]);
  });

  it("shows the path of a wrong service URI only on the bridge's own host: another's may hold a token", () => {
    const token = "T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX";
    const chat = { ...healthy, serviceUri: `https://hooks.chat.example/services/${token}` };
    const problems = configurationProblems(chat, expectations);
    expect(problems).toContain(
      "service URI points at https://hooks.chat.example/…, not at this bridge (https://func-api.azurewebsites.net/api/acr/webhook)",
    );
    expect(problems.join("\n")).not.toContain("B0000");
    const typo = {
      ...healthy,
      serviceUri: "https://func-api.azurewebsites.net/api/acr/webhok?region=westeurope",
    };
    expect(configurationProblems(typo, expectations)).toEqual([
      "service URI points at https://func-api.azurewebsites.net/api/acr/webhok, not at this bridge (https://func-api.azurewebsites.net/api/acr/webhook)",
    ]);
  });

  it("names a region or registry given more than once: the intake records the first", () => {
    const problems = configurationProblems(
      {
        ...healthy,
        serviceUri:
          "https://func-api.azurewebsites.net/api/acr/webhook?region=westeurope&registry=a.azurecr.io&region=eastus&registry=b.azurecr.io",
      },
      expectations,
    );
    expect(problems).toEqual([
      "service URI gives region 2 times ('westeurope', 'eastus'): deliveries are recorded under the first",
      "service URI gives registry 2 times ('a.azurecr.io', 'b.azurecr.io'): deliveries are recorded under the first",
    ]);
  });

  it("skips the URI target check without a bridge URL, still checks the region", () => {
    const problems = configurationProblems(
      { ...healthy, serviceUri: "https://other.example/hook" },
      { ...expectations, bridgeWebhookUrl: undefined },
    );
    expect(problems).toEqual(["service URI has no region parameter (expected region=westeurope)"]);
  });
});

describe("registryWebhookProblems: does a webhook of the registry deliver to the bridge", () => {
  const named = (name: string, overrides: Partial<WebhookConfiguration> = {}) => ({
    ...healthy,
    ref: { registryId: REGISTRY_ID, name },
    ...overrides,
  });
  const elsewhere = named("other", {
    serviceUri: "https://hooks.chat.example/services/T0000/B0000/secret?code=k",
  });

  it("one enabled webhook calling the bridge with every action is enough, whatever else it or the others get wrong", () => {
    const drifted = named("bridgewesteurope", { scope: "team/*", customHeaderNames: [] });
    expect(registryWebhookProblems([elsewhere, drifted], expectations)).toEqual([]);
  });

  it("names the registry's webhooks when none calls the bridge, never another host's path or key", () => {
    expect(registryWebhookProblems([], expectations)).toEqual(["the registry has no webhooks"]);
    const broken = named("broken", { serviceUri: "not a url" });
    const problems = registryWebhookProblems([elsewhere, broken], expectations);
    expect(problems).toEqual([
      "no webhook calls this bridge (https://func-api.azurewebsites.net/api/acr/webhook); the registry's webhooks: broken, other",
    ]);
    expect(problems.join("\n")).not.toMatch(/B0000|secret|code=/);
  });

  it("says why each webhook calling the bridge does not deliver: disabled, or an action missing", () => {
    const disabled = named("b-disabled", { status: "disabled" });
    const partial = named("a-partial", { actions: ["push", "delete"] });
    expect(registryWebhookProblems([disabled, elsewhere, partial], expectations)).toEqual([
      "no webhook calling this bridge is enabled with every expected action",
      "a-partial: actions missing: chart_push, chart_delete, quarantine",
      "b-disabled: status is disabled",
    ]);
  });

  it("takes any webhook to call the bridge when its URL is not known, as a single webhook's check does", () => {
    const unknownUrl = { ...expectations, bridgeWebhookUrl: undefined };
    expect(registryWebhookProblems([elsewhere], unknownUrl)).toEqual([]);
    const broken = named("broken", { serviceUri: "not a url" });
    expect(registryWebhookProblems([broken], unknownUrl)).toEqual([
      "no webhook's service URI is a URL; the registry's webhooks: broken",
    ]);
  });
});

describe("pings and health changes", () => {
  const ping = { eventId: "p1", sentAt: 1_000 };
  it("a ping is arrived when recorded, waiting within the timeout, missing after it", () => {
    expect(pingVerdict(ping, true, 999_999, 5_000)).toBe("arrived");
    expect(pingVerdict(ping, false, 5_999, 5_000)).toBe("waiting");
    expect(pingVerdict(ping, false, 6_000, 5_000)).toBe("missing");
  });

  const health = (problems: string[]): WebhookHealth => ({
    ref: healthy.ref,
    healthy: problems.length === 0,
    problems,
    since: 1,
    checkedAt: 1,
  });
  it("publishes on becoming unhealthy or changing reasons, resolves once, else stays quiet", () => {
    expect(healthChange(undefined, [])).toBe("unchanged");
    expect(healthChange(undefined, ["status is disabled"])).toBe("unhealthy");
    expect(healthChange(health(["status is disabled"]), ["status is disabled"])).toBe("unchanged");
    expect(healthChange(health(["status is disabled"]), [missingPingProblem(5_000)])).toBe(
      "unhealthy",
    );
    expect(healthChange(health(["status is disabled"]), [])).toBe("resolved");
    expect(healthChange(health([]), [])).toBe("unchanged");
  });

  it("a finding and its resolution are distinct CloudEvents on the discrepancy topic", () => {
    const finding = webhookHealthMessage(health(["status is disabled"]));
    const resolution = webhookHealthMessage({ ...health([]), since: 2 });
    expect(finding.body.type).toBe("com.azure.acr.discrepancy.webhook-unhealthy");
    expect(resolution.body.type).toBe("com.azure.acr.discrepancy.webhook-unhealthy.resolved");
    expect(finding.applicationProperties).toMatchObject({
      kind: "webhook-unhealthy",
      resolved: "false",
      operational: "true",
      registry: "myregistry.azurecr.io",
    });
    expect(finding.messageId).not.toBe(resolution.messageId);
    expect(webhookHealthMessage(health(["status is disabled"])).messageId).toBe(finding.messageId);
  });
});

describe("loadRegistryAccessSettings", () => {
  const base = { ACR_RESOURCE_IDS: REGISTRY_ID };
  it("runs both timers on their defaults when a registry is named; 'off' turns one off", () => {
    expect(loadRegistryAccessSettings(base)).toMatchObject({
      armEndpoint: "https://management.azure.com",
      backfillSchedule: "0 */5 * * * *",
      pingSchedule: "0 */15 * * * *",
    });
    expect(
      loadRegistryAccessSettings({ ...base, BACKFILL_SCHEDULE: "off" }).backfillSchedule,
    ).toBeUndefined();
    expect(
      loadRegistryAccessSettings({ ...base, WEBHOOK_PING_SCHEDULE: "OFF" }).pingSchedule,
    ).toBeUndefined();
  });

  it("with no registry, no backfill; the webhook health check still runs, to resolve the findings of registries removed", () => {
    expect(loadRegistryAccessSettings({})).toMatchObject({
      backfillSchedule: undefined,
      pingSchedule: "0 */15 * * * *",
    });
    expect(
      loadRegistryAccessSettings({ WEBHOOK_PING_SCHEDULE: "off" }).pingSchedule,
    ).toBeUndefined();
  });

  it("refuses a plain-http ARM endpoint off loopback", () => {
    const error = configError(() =>
      loadRegistryAccessSettings({ ...base, ARM_ENDPOINT: "http://arm.example" }),
    );
    expect(error.setting).toBe("ARM_ENDPOINT");
    // The message names the hosts plain http is taken on (not [::1], though it is loopback).
    expect(error.message).toBe(
      "setting ARM_ENDPOINT: must be https (plain http only on 127.0.0.1 or localhost, for the local stand-in)",
    );
    expect(
      configError(() => loadRegistryAccessSettings({ ...base, ARM_ENDPOINT: "http://[::1]:7072" }))
        .setting,
    ).toBe("ARM_ENDPOINT");
    expect(
      loadRegistryAccessSettings({ ...base, ARM_ENDPOINT: "http://127.0.0.1:7072/" }).armEndpoint,
    ).toBe("http://127.0.0.1:7072");
    expect(
      loadRegistryAccessSettings({ ...base, ARM_ENDPOINT: "http://localhost:7072" }).armEndpoint,
    ).toBe("http://localhost:7072");
  });
});
