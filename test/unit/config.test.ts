import { describe, expect, it } from "vitest";
import {
  DEFAULT_TOPICS,
  loadEventGridQueue,
  loadPublishTimeoutMs,
  loadRoutingTable,
  loadServiceBusConnection,
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
      maxBodyBytes: 65536,
      loginServer: undefined,
      authLevel: "anonymous",
    });
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
  });
});
