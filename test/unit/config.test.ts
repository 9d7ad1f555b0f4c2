import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createServiceBusClient, createTableClient } from "../../src/adapters/clients";
import {
  DEFAULT_TOPICS,
  loadCrossCheckSettings,
  loadEventGridEndpointSettings,
  loadEventGridQueue,
  loadEventGridSettings,
  loadJournalQueue,
  loadPublishTimeoutMs,
  loadRegistryAccessSettings,
  loadReplayConfig,
  loadRoutingTable,
  loadServiceBusConnection,
  loadSilenceThresholdMs,
  loadTablesConnection,
  loadTablesTimeoutMs,
  loadWebhookSettings,
} from "../../src/config";
import { configError } from "../support/configError";

type Env = Record<string, string | undefined>;

const SECRET_A = "alpha-Secret-0001";
const SECRET_B = "bravo-Secret-0002";

describe("loadWebhookSettings: secrets", () => {
  it.each<[string, Env]>([
    ["unset", {}],
    ["empty", { WEBHOOK_SECRETS: "" }],
    ["blank", { WEBHOOK_SECRETS: "   " }],
    ["only commas and spaces", { WEBHOOK_SECRETS: " , ,, " }],
  ])("refuses to start with WEBHOOK_SECRETS %s", (_name, env) => {
    const error = configError(() => loadWebhookSettings(env));
    expect(error.setting).toBe("WEBHOOK_SECRETS");
    expect(error.message).toContain("WEBHOOK_SECRETS");
    expect(error.name).toBe("ConfigError");
  });

  it.each<[string, string[]]>([
    [SECRET_A, [SECRET_A]],
    [`${SECRET_A},${SECRET_B}`, [SECRET_A, SECRET_B]],
    [` ${SECRET_A} , ${SECRET_B} `, [SECRET_A, SECRET_B]],
    [`${SECRET_A},,${SECRET_B},`, [SECRET_A, SECRET_B]],
    ["with inner space", ["with inner space"]],
  ])("splits %j into %j", (value, secrets) => {
    expect(loadWebhookSettings({ WEBHOOK_SECRETS: value }).auth.secrets).toEqual(secrets);
  });

  it.each<[string, Env]>([
    ["WEBHOOK_MAX_BODY_BYTES", { WEBHOOK_MAX_BODY_BYTES: "lots" }],
    ["WEBHOOK_AUTH_HEADER", { WEBHOOK_AUTH_HEADER: "bad header" }],
    ["WEBHOOK_AUTH_LEVEL", { WEBHOOK_AUTH_LEVEL: "admin" }],
    ["ACR_LOGIN_SERVER", { ACR_LOGIN_SERVER: "x".repeat(300) }],
  ])("an error in %s never echoes a secret", (setting, env) => {
    const error = configError(() =>
      loadWebhookSettings({ WEBHOOK_SECRETS: `${SECRET_A},${SECRET_B}`, ...env }),
    );
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(setting);
    expect(error.message).not.toContain(SECRET_A);
    expect(error.message).not.toContain(SECRET_B);
    expect(error.message).not.toContain("Secret-000");
  });
});

describe("loadWebhookSettings: other settings", () => {
  const withSecret = (env: Env) => loadWebhookSettings({ WEBHOOK_SECRETS: SECRET_A, ...env });

  it("defaults", () => {
    expect(withSecret({})).toEqual({
      auth: { secrets: [SECRET_A], header: "authorization" },
      maskedSecrets: [SECRET_A],
      maxBodyBytes: 65536,
      loginServer: undefined,
      authLevel: "anonymous",
    });
  });

  it("masks the Event Grid endpoint's secrets too, in what a record keeps", () => {
    expect(withSecret({ EVENTGRID_SECRETS: "eg-1, eg-2" }).maskedSecrets).toEqual([
      SECRET_A,
      "eg-1",
      "eg-2",
    ]);
  });

  it.each<[string, number]>([
    ["1", 1],
    ["262144", 262144],
    [" 2048 ", 2048],
    ["", 65536],
  ])("WEBHOOK_MAX_BODY_BYTES %j -> %d", (value, bytes) => {
    expect(withSecret({ WEBHOOK_MAX_BODY_BYTES: value }).maxBodyBytes).toBe(bytes);
  });

  it.each(["0", "-1", "1.5", "lots", "Infinity", "64k", "262145", "1048576"])(
    "refuses WEBHOOK_MAX_BODY_BYTES %j, naming the setting",
    (value) => {
      const error = configError(() => withSecret({ WEBHOOK_MAX_BODY_BYTES: value }));
      expect(error.setting).toBe("WEBHOOK_MAX_BODY_BYTES");
      expect(error.message).toContain("WEBHOOK_MAX_BODY_BYTES");
    },
  );

  it("refuses an unresolved Key Vault reference as a secret, without echoing it", () => {
    const literal = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/webhook/)";
    const error = configError(() => loadWebhookSettings({ WEBHOOK_SECRETS: literal }));
    expect(error.setting).toBe("WEBHOOK_SECRETS");
    expect(error.message).toContain("unresolved Key Vault reference");
    expect(error.message).not.toContain("kv.vault.azure.net");
  });

  it.each<[string, string]>([
    ["Authorization", "authorization"],
    ["X-ACR-Webhook-Secret", "x-acr-webhook-secret"],
    [" x-secret ", "x-secret"],
    ["X_Custom.Key~1", "x_custom.key~1"],
  ])("WEBHOOK_AUTH_HEADER %j is stored lower-case as %j", (value, header) => {
    expect(withSecret({ WEBHOOK_AUTH_HEADER: value }).auth.header).toBe(header);
  });

  it.each(["bad header", "x:secret", "x-secret()", "é-secret", "x/secret"])(
    "refuses WEBHOOK_AUTH_HEADER %j, naming the setting",
    (value) => {
      const error = configError(() => withSecret({ WEBHOOK_AUTH_HEADER: value }));
      expect(error.setting).toBe("WEBHOOK_AUTH_HEADER");
      expect(error.message).toContain("WEBHOOK_AUTH_HEADER");
    },
  );

  it.each(["anonymous", "function"] as const)("WEBHOOK_AUTH_LEVEL %s", (level) => {
    expect(withSecret({ WEBHOOK_AUTH_LEVEL: level }).authLevel).toBe(level);
  });

  it("keeps ACR_LOGIN_SERVER, trimmed", () => {
    expect(withSecret({ ACR_LOGIN_SERVER: " myregistry.azurecr.io " }).loginServer).toBe(
      "myregistry.azurecr.io",
    );
  });
});

describe("loadTablesConnection", () => {
  it.each<[string, Env, unknown]>([
    [
      "a connection string",
      { TABLES_CONNECTION: "UseDevelopmentStorage=true" },
      { kind: "connection-string", connectionString: "UseDevelopmentStorage=true" },
    ],
    [
      "an endpoint (managed identity)",
      { TABLES_ENDPOINT: "https://acct.table.core.windows.net" },
      { kind: "managed-identity", endpoint: "https://acct.table.core.windows.net" },
    ],
    [
      "both: the connection string wins",
      { TABLES_CONNECTION: "UseDevelopmentStorage=true", TABLES_ENDPOINT: "https://a.b" },
      { kind: "connection-string", connectionString: "UseDevelopmentStorage=true" },
    ],
    [
      "a blank connection string and an endpoint",
      { TABLES_CONNECTION: "  ", TABLES_ENDPOINT: "https://acct.table.core.windows.net" },
      { kind: "managed-identity", endpoint: "https://acct.table.core.windows.net" },
    ],
  ])("%s", (_name, env, expected) => {
    expect(loadTablesConnection(env)).toEqual(expected);
  });

  it.each<[string, Env, string]>([
    ["nothing set", {}, "TABLES_CONNECTION"],
    ["both blank", { TABLES_CONNECTION: "", TABLES_ENDPOINT: " " }, "TABLES_CONNECTION"],
    ["an endpoint that is not a URL", { TABLES_ENDPOINT: "acct table" }, "TABLES_ENDPOINT"],
  ])("refuses %s, naming %s", (_name, env, setting) => {
    const error = configError(() => loadTablesConnection(env));
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(setting);
  });
});

describe("loadServiceBusConnection", () => {
  const connectionString =
    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k";

  it.each<[string, Env, unknown]>([
    [
      "a connection string",
      { SERVICEBUS_CONNECTION: connectionString },
      { kind: "connection-string", connectionString },
    ],
    [
      "a namespace (managed identity)",
      { SERVICEBUS_NAMESPACE: "ns.servicebus.windows.net" },
      { kind: "managed-identity", namespace: "ns.servicebus.windows.net" },
    ],
    [
      "both: the connection string wins",
      {
        SERVICEBUS_CONNECTION: connectionString,
        SERVICEBUS_NAMESPACE: "ns.servicebus.windows.net",
      },
      { kind: "connection-string", connectionString },
    ],
    [
      "a blank connection string and a namespace",
      { SERVICEBUS_CONNECTION: " ", SERVICEBUS_NAMESPACE: "ns.servicebus.windows.net" },
      { kind: "managed-identity", namespace: "ns.servicebus.windows.net" },
    ],
  ])("%s", (_name, env, expected) => {
    expect(loadServiceBusConnection(env)).toEqual(expected);
  });

  it.each<[string, Env]>([
    ["nothing set", {}],
    ["both blank", { SERVICEBUS_CONNECTION: "", SERVICEBUS_NAMESPACE: "  " }],
  ])("refuses %s, naming SERVICEBUS_CONNECTION", (_name, env) => {
    const error = configError(() => loadServiceBusConnection(env));
    expect(error.setting).toBe("SERVICEBUS_CONNECTION");
    expect(error.message).toContain("SERVICEBUS_NAMESPACE");
  });

  it.each([
    "sb://ns.servicebus.windows.net/",
    "https://ns.servicebus.windows.net",
    "ns.servicebus.windows.net:5671",
    "ns",
    "ns .servicebus.windows.net",
  ])("refuses the namespace %j, saying it must be a host name", (namespace) => {
    const error = configError(() => loadServiceBusConnection({ SERVICEBUS_NAMESPACE: namespace }));
    expect(error.setting).toBe("SERVICEBUS_NAMESPACE");
    expect(error.message).toContain("<name>.servicebus.windows.net");
  });
});

describe("timeouts", () => {
  it.each([
    [loadPublishTimeoutMs, "PUBLISH_TIMEOUT_MS", 2000],
    [loadTablesTimeoutMs, "TABLES_TIMEOUT_MS", 1500],
  ] as const)("%o reads %s (default %d)", (load, setting, fallback) => {
    expect(load({})).toBe(fallback);
    expect(load({ [setting]: "750" })).toBe(750);
    const error = configError(() => load({ [setting]: "0" }));
    expect(error.setting).toBe(setting);
  });
});

describe("topic name validation", () => {
  it.each(["acr-push", "a", "9lives", "team.events_v2-x", "x".repeat(260)])(
    "accepts TOPIC_PUSH %j",
    (name) => {
      expect(loadRoutingTable({ TOPIC_PUSH: name }).push.topic).toBe(name);
    },
  );

  it.each([
    ["a space", "acr push"],
    ["a leading hyphen", "-acr"],
    ["a leading period", ".acr"],
    ["'#'", "acr#1"],
    ["'?'", "acr?"],
    ["'@'", "acr@x"],
    ["'*'", "acr*"],
    ["a non-ASCII letter", "äcr"],
    ["261 characters", "x".repeat(261)],
  ])("refuses a topic name with %s, naming the setting", (_name, name) => {
    const error = configError(() => loadRoutingTable({ TOPIC_QUARANTINE: name }));
    expect(error.setting).toBe("TOPIC_QUARANTINE");
    expect(error.message).toContain("TOPIC_QUARANTINE");
  });

  it("defaults are valid topic names and distinct", () => {
    const topics = Object.values(loadRoutingTable({})).map((route) => route.topic);
    expect(topics).toEqual(Object.values(DEFAULT_TOPICS));
    expect(new Set(topics).size).toBe(topics.length);
  });
});

describe("loadEventGridQueue: the Service Bus queue intake", () => {
  it.each<[string, Env]>([
    ["unset", {}],
    ["empty", { EVENTGRID_QUEUE: "" }],
    ["blank", { EVENTGRID_QUEUE: "  " }],
  ])("is off when EVENTGRID_QUEUE is %s", (_name, env) => {
    expect(loadEventGridQueue(env)).toBeUndefined();
  });

  it("names the queue when set", () => {
    expect(loadEventGridQueue({ EVENTGRID_QUEUE: " acr-eventgrid " })).toBe("acr-eventgrid");
  });

  it("refuses what cannot be a queue name, naming the setting", () => {
    const error = configError(() => loadEventGridQueue({ EVENTGRID_QUEUE: "acr eventgrid?" }));
    expect(error.setting).toBe("EVENTGRID_QUEUE");
    expect(error.message).toBe("setting EVENTGRID_QUEUE: must be a Service Bus queue name");
  });
});

describe("loadJournalQueue", () => {
  it("defaults to acr-journal and refuses what cannot be a queue name, calling it a queue", () => {
    expect(loadJournalQueue({})).toBe("acr-journal");
    const error = configError(() => loadJournalQueue({ JOURNAL_QUEUE: "acr journal" }));
    expect(error.setting).toBe("JOURNAL_QUEUE");
    expect(error.message).toBe("setting JOURNAL_QUEUE: must be a Service Bus queue name");
  });

  it("a topic setting's error still says topic", () => {
    const error = configError(() => loadCrossCheckSettings({ TOPIC_DISCREPANCIES: "a b" }));
    expect(error.message).toBe("setting TOPIC_DISCREPANCIES: must be a Service Bus topic name");
  });
});

describe("connection strings: a malformed one stops the app, naming the setting, never its secret", () => {
  const KEY = "c2VjcmV0LWtleS0wMDA5";
  const SIGNATURE = "sv=2024&sig=secret-signature-0009";

  it.each<[string, string, RegExp]>([
    ["not Key=value at all", "garbage", /is not a Table Storage connection string \(expected/],
    ["a part without a key", `=x;AccountKey=${KEY}`, /is not a Table Storage connection string/],
    [
      "a SAS string without its signature",
      "TableEndpoint=https://a.table.core.windows.net",
      /Invalid SharedAccessSignature/,
    ],
    [
      "an account key without protocol or endpoint",
      `AccountName=a;AccountKey=${KEY}`,
      /Invalid TableEndpoint/,
    ],
    [
      "an account key without EndpointSuffix",
      `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${KEY}`,
      /Invalid EndpointSuffix/,
    ],
    [
      "an account key without AccountName",
      `DefaultEndpointsProtocol=https;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
      /Invalid AccountName/,
    ],
    [
      "a protocol other than http(s)",
      `DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
      /Invalid DefaultEndpointsProtocol/,
    ],
    [
      "a TableEndpoint that is no URL",
      `TableEndpoint=a table;SharedAccessSignature=${SIGNATURE}`,
      /is not a Table Storage connection string \(expected/,
    ],
    [
      "a SAS endpoint naming no account",
      `TableEndpoint=https://tables.example/;SharedAccessSignature=${SIGNATURE}`,
      /Invalid AccountName/,
    ],
  ])("TABLES_CONNECTION: %s", (_name, value, problem) => {
    const error = configError(() => loadTablesConnection({ TABLES_CONNECTION: value }));
    expect(error.setting).toBe("TABLES_CONNECTION");
    expect(error.message).toMatch(/^setting TABLES_CONNECTION: /);
    expect(error.message).toMatch(problem);
    for (const secret of [KEY, SIGNATURE, "garbage"]) expect(error.message).not.toContain(secret);
  });

  it.each([
    "UseDevelopmentStorage=true",
    `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
    `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;`,
    `TableEndpoint=https://a.table.core.windows.net/;SharedAccessSignature=${SIGNATURE}`,
  ])("TABLES_CONNECTION accepts %j, and the SDK builds a client of it", (value) => {
    const connection = loadTablesConnection({ TABLES_CONNECTION: value });
    expect(createTableClient(connection, "AcrEvents0").tableName).toBe("AcrEvents0");
  });

  it.each<[string, string, RegExp]>([
    ["not Key=value at all", "garbage", /is not a Service Bus connection string: .*malformed/],
    ["no Endpoint", `SharedAccessKeyName=send;SharedAccessKey=${KEY}`, /should have an Endpoint/],
    [
      "an Endpoint that is no URL",
      `Endpoint=garbage;SharedAccessKeyName=send;SharedAccessKey=${KEY}`,
      /Endpoint that names no host/,
    ],
    [
      "a key without its name",
      `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=${KEY}`,
      /should have SharedAccessKeyName/,
    ],
    ["no credential", "Endpoint=sb://ns.servicebus.windows.net/", /neither SharedAccessKeyName/],
    [
      "one entity's string",
      `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${KEY};EntityPath=acr-push`,
      /EntityPath/,
    ],
  ])("SERVICEBUS_CONNECTION: %s", (_name, value, problem) => {
    const error = configError(() => loadServiceBusConnection({ SERVICEBUS_CONNECTION: value }));
    expect(error.setting).toBe("SERVICEBUS_CONNECTION");
    expect(error.message).toMatch(/^setting SERVICEBUS_CONNECTION: /);
    expect(error.message).toMatch(problem);
    for (const secret of [KEY, "garbage"]) expect(error.message).not.toContain(secret);
  });

  it("a Service Bus string the settings accept builds a client", async () => {
    const connection = loadServiceBusConnection({
      SERVICEBUS_CONNECTION: `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${KEY}`,
    });
    const client = createServiceBusClient(connection, 1000);
    expect(client.fullyQualifiedNamespace).toBe("ns.servicebus.windows.net");
    await client.close();
  });
});

type Loader = (env: Env) => unknown;
/** The loader with other settings it needs already given (the test's own settings win). */
const given =
  (load: Loader, settings: Env): Loader =>
  (env) =>
    load({ ...settings, ...env });
const withWebhookSecret = given(loadWebhookSettings, { WEBHOOK_SECRETS: SECRET_A });

/** Every numeric setting, the loader that reads it, and its documented maximum (README). */
const NUMERIC_SETTINGS: [setting: string, load: Loader, max: number][] = [
  ["WEBHOOK_MAX_BODY_BYTES", withWebhookSecret, 262_144],
  ["TABLES_TIMEOUT_MS", loadTablesTimeoutMs, 60_000],
  ["PUBLISH_TIMEOUT_MS", loadPublishTimeoutMs, 60_000],
  ["EVENTGRID_MAX_BODY_BYTES", loadEventGridEndpointSettings, 1_048_576],
  ["CROSSCHECK_WINDOW_SECONDS", loadCrossCheckSettings, 86_400],
  ["QUARANTINE_HOLD_SECONDS", loadCrossCheckSettings, 604_800],
  ["RECONCILE_BATCH_SIZE", loadCrossCheckSettings, 5000],
  ["REDRIVE_MAX_ATTEMPTS", loadCrossCheckSettings, 100],
  // Each with the other at its own end of the range: the base may not be more than the cap.
  [
    "REDRIVE_BASE_DELAY_SECONDS",
    given(loadCrossCheckSettings, { REDRIVE_MAX_DELAY_SECONDS: "86400" }),
    86_400,
  ],
  [
    "REDRIVE_MAX_DELAY_SECONDS",
    given(loadCrossCheckSettings, { REDRIVE_BASE_DELAY_SECONDS: "1" }),
    86_400,
  ],
  ["BACKFILL_MAX_PAGES", loadRegistryAccessSettings, 1000],
  ["BACKFILL_MAX_SECONDS", loadRegistryAccessSettings, 100],
  ["WEBHOOK_PING_TIMEOUT_SECONDS", loadRegistryAccessSettings, 86_400],
  ["ARM_TIMEOUT_SECONDS", loadRegistryAccessSettings, 20],
  ["REPLAY_RATE_PER_SECOND", loadReplayConfig, 1000],
  ["REPLAY_MAX_WINDOW_HOURS", loadReplayConfig, 744],
  ["SOURCE_SILENCE_SECONDS", loadSilenceThresholdMs, 604_800],
];

describe("re-drive backoff", () => {
  it("refuses a first backoff longer than its cap, naming both", () => {
    const error = configError(() => loadCrossCheckSettings({ REDRIVE_BASE_DELAY_SECONDS: "7200" }));
    expect(error.setting).toBe("REDRIVE_BASE_DELAY_SECONDS");
    expect(error.message).toBe(
      "setting REDRIVE_BASE_DELAY_SECONDS: must not be more than REDRIVE_MAX_DELAY_SECONDS (3600)",
    );
    expect(loadCrossCheckSettings({ REDRIVE_BASE_DELAY_SECONDS: "3600" }).redrive).toMatchObject({
      baseDelayMs: 3_600_000,
      maxDelayMs: 3_600_000,
    });
  });
});

describe("numeric settings: whole numbers from 1 to a documented maximum", () => {
  it.each(NUMERIC_SETTINGS)("%s accepts 1 and its maximum", (setting, load, max) => {
    expect(() => load({ [setting]: "1" })).not.toThrow();
    expect(() => load({ [setting]: String(max) })).not.toThrow();
  });

  const refused = NUMERIC_SETTINGS.flatMap(([setting, load, max]) =>
    [
      String(max + 1),
      "3000000000",
      "9000000000000",
      "1e12",
      "1e3",
      "0x10",
      "0",
      "-1",
      "1.5",
      "lots",
    ].map((value) => [setting, value, load, max] as const),
  );
  it.each(refused)(
    "refuses %s=%s, naming the setting and its range",
    (setting, value, load, max) => {
      const error = configError(() => load({ [setting]: value }));
      expect(error.setting).toBe(setting);
      expect(error.message).toBe(`setting ${setting}: must be a whole number from 1 to ${max}`);
    },
  );

  it("no timeout can overflow a timer (2^31-1 ms) and every time stays a date", () => {
    const atMaximum = Object.fromEntries(
      NUMERIC_SETTINGS.map(([setting, , max]) => [setting, String(max)]),
    );
    expect(loadTablesTimeoutMs(atMaximum)).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(loadPublishTimeoutMs(atMaximum)).toBeLessThanOrEqual(2 ** 31 - 1);
    const crossCheck = loadCrossCheckSettings(atMaximum);
    const latest = Date.now() + crossCheck.windowMs + (crossCheck.quarantineHoldMs ?? 0);
    expect(new Date(latest).toISOString()).toMatch(/^\d{4}-/);
    expect(crossCheck.redrive.maxDelayMs).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});

/** The README's Settings table: each row's first setting, its Default cell and its Meaning. */
function readmeSettingsRows(): Map<string, { fallback: string; meaning: string }> {
  const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
  const section = /\n## Settings\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
  const rows = new Map<string, { fallback: string; meaning: string }>();
  for (const line of section.split("\n").filter((row) => row.startsWith("| `"))) {
    const [setting, fallback, meaning] = line.slice(2, -2).split(" | ");
    const name = /^`([^`]+)`/.exec(setting ?? "")?.[1];
    if (name && fallback !== undefined && meaning !== undefined) {
      rows.set(name, { fallback, meaning });
    }
  }
  return rows;
}

describe("the README's Settings table gives the code's defaults and maxima", () => {
  const rows = readmeSettingsRows();
  const withRegistry = given(loadRegistryAccessSettings, {
    ACR_RESOURCE_IDS:
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/myregistry",
  });
  /** Every setting with a default in the code, and a loader that reads it. */
  const DEFAULTED: [setting: string, load: Loader][] = [
    ...NUMERIC_SETTINGS.map(([setting, load]): [string, Loader] => [setting, load]),
    ["WEBHOOK_AUTH_HEADER", withWebhookSecret],
    ["WEBHOOK_AUTH_LEVEL", withWebhookSecret],
    ["TOPIC_PUSH", loadRoutingTable],
    ["TOPIC_DELETE", loadRoutingTable],
    ["TOPIC_CHART_PUSH", loadRoutingTable],
    ["TOPIC_CHART_DELETE", loadRoutingTable],
    ["TOPIC_QUARANTINE", loadRoutingTable],
    ["TOPIC_DISCREPANCIES", loadCrossCheckSettings],
    ["RECOVERY_ENABLED", loadCrossCheckSettings],
    ["QUARANTINE_HOLD_ENABLED", loadCrossCheckSettings],
    ["JOURNAL_QUEUE", loadJournalQueue],
    ["ARM_ENDPOINT", loadRegistryAccessSettings],
    ["BACKFILL_SCHEDULE", withRegistry],
    ["WEBHOOK_PING_SCHEDULE", withRegistry],
  ];

  it.each(DEFAULTED)("%s: the documented default is what unset gives", (setting, load) => {
    const row = rows.get(setting);
    expect(row, `no README row for ${setting}`).toBeDefined();
    const documented = /^`([^`]+)`$/.exec(row?.fallback ?? "")?.[1];
    expect(documented, `README default of ${setting}`).toBeDefined();
    expect(load({ [setting]: documented })).toEqual(load({}));
  });

  it.each(NUMERIC_SETTINGS)("%s: the documented maximum is the code's", (setting, _load, max) => {
    expect(rows.get(setting)?.meaning).toMatch(new RegExp(`\\b[Aa]t most ${max}\\b`));
  });
});

describe("scope settings: ACR's scope syntax", () => {
  const SCOPE_SETTINGS: [setting: string, load: Loader][] = [
    ["TOPIC_PUSH_SCOPE", loadRoutingTable],
    ["TOPIC_DELETE_SCOPE", loadRoutingTable],
    ["TOPIC_CHART_PUSH_SCOPE", loadRoutingTable],
    ["TOPIC_CHART_DELETE_SCOPE", loadRoutingTable],
    ["TOPIC_QUARANTINE_SCOPE", loadRoutingTable],
    ["WEBHOOK_EXPECTED_SCOPE", loadRegistryAccessSettings],
  ];
  const refused = SCOPE_SETTINGS.flatMap(([setting, load]) =>
    ["*", "a b:c d", "repo:v*", "samples/*", ":v1", "repo:"].map(
      (value) => [setting, value, load] as const,
    ),
  );

  it.each(refused)("refuses %s=%j, naming the setting and the scope", (setting, value, load) => {
    const error = configError(() => load({ [setting]: value }));
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(`setting ${setting}: scope ${JSON.stringify(value)}`);
  });

  it("a list is refused for its one bad entry", () => {
    const error = configError(() => loadRoutingTable({ TOPIC_PUSH_SCOPE: "prod/api:*, *" }));
    expect(error.message).toBe(
      `setting TOPIC_PUSH_SCOPE: scope "*": the repository must not contain '*', ':' or ',' (only the whole tag may be a wildcard: repo:*)`,
    );
  });

  it("keeps valid scopes", () => {
    expect(loadRoutingTable({ TOPIC_PUSH_SCOPE: "prod/api:*, web:v1, tools" }).push.scopes).toEqual(
      [
        { kind: "repository", repository: "prod/api" },
        { kind: "tag", repository: "web", tag: "v1" },
        { kind: "tag", repository: "tools", tag: "latest" },
      ],
    );
    expect(
      loadRegistryAccessSettings({ WEBHOOK_EXPECTED_SCOPE: " prod/api:* " }).expectedScope,
    ).toBe("prod/api:*");
    expect(loadRegistryAccessSettings({}).expectedScope).toBe("");
  });
});

describe("WEBHOOK_EXPECTED_ACTIONS: ACR's webhook actions", () => {
  it.each(["push,pull", "push,delete,bogus", "ping", "push;delete", "chart-push"])(
    "refuses %j, naming the setting and the unknown action",
    (value) => {
      const error = configError(() =>
        loadRegistryAccessSettings({ WEBHOOK_EXPECTED_ACTIONS: value }),
      );
      expect(error.setting).toBe("WEBHOOK_EXPECTED_ACTIONS");
      expect(error.message).toMatch(/^setting WEBHOOK_EXPECTED_ACTIONS: unknown action "/);
      expect(error.message).toContain("push, delete, chart_push, chart_delete, quarantine");
    },
  );

  it.each<[string | undefined, string[]]>([
    [undefined, ["push", "delete", "chart_push", "chart_delete", "quarantine"]],
    ["", ["push", "delete", "chart_push", "chart_delete", "quarantine"]],
    [" push , Delete ,quarantine", ["push", "delete", "quarantine"]],
    ["chart_push,chart_delete", ["chart_push", "chart_delete"]],
  ])("%j expects %j", (value, actions) => {
    expect(loadRegistryAccessSettings({ WEBHOOK_EXPECTED_ACTIONS: value }).expectedActions).toEqual(
      actions,
    );
  });
});

describe("ACR_LOGIN_SERVER: the rule of the webhook's ?registry=", () => {
  const LOADERS: [name: string, load: Loader][] = [
    ["the webhook", withWebhookSecret],
    ["Event Grid", loadEventGridSettings],
  ];

  it.each(
    LOADERS.flatMap(([name, load]) =>
      [
        "https://My Registry/",
        "myregistry.azurecr.io/",
        "my registry",
        "x".repeat(300),
        "host:port",
      ].map((value) => [name, value, load] as const),
    ),
  )("%s refuses %j, naming the setting", (_name, value, load) => {
    const error = configError(() => load({ ACR_LOGIN_SERVER: value }));
    expect(error.setting).toBe("ACR_LOGIN_SERVER");
    expect(error.message).toBe("setting ACR_LOGIN_SERVER: must be a registry login server");
  });

  it.each(["myregistry.azurecr.io", "MyRegistry.azurecr.io", "localhost:5000"])(
    "accepts %j",
    (value) => {
      expect(loadEventGridSettings({ ACR_LOGIN_SERVER: value }).loginServer).toBe(value);
    },
  );
});
