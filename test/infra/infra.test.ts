/**
 * The Azure deployment (azure.yaml, infra/) against the code, through the real Bicep CLI: every
 * file is compiled and linted (no error, no warning left unsuppressed or without a reason), and
 * the consistency checks read what ARM would deploy as the CLI predicts it (`bicep snapshot`,
 * every module expanded and every value known before deployment computed) and the compiled ARM
 * JSON (parameters, outputs). What the deployment must provide is derived from the code itself:
 * the settings the loaders in src/config.ts read (by running them) and src/ reads otherwise, the
 * topics and queue the routing and journal default to, the tables of tableLayout.ts, the Table
 * Storage and Service Bus calls in src/ (by the SDKs' own declarations), the functions' routes.
 *
 * Without a Bicep CLI the tests are skipped with a hint; with BICEP_REQUIRED=1 (CI) they fail.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { CronExpressionParser } from "cron-parser";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { bicepFor } from "../../dev/subscribe/ruleDefinitions";
import * as tableLayout from "../../src/adapters/tableLayout";
import * as config from "../../src/config";
import { ACR_EVENT_TYPES } from "../../src/core/eventGridTrust";
import { configurationProblems } from "../../src/core/webhookHealth";
import {
  BICEP_CLI_HINT,
  findBicepCli,
  lintWithInfraRules,
  type PredictedResource,
  runBicep,
  SNAPSHOT_SCOPE,
  type Snapshot,
  snapshot,
} from "./bicepCli";

const ROOT = resolve(__dirname, "../..");
const INFRA = join(ROOT, "infra");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

type Env = Record<string, string | undefined>;

const CLI = findBicepCli();
if (!CLI && process.env.BICEP_REQUIRED === "1") {
  throw new Error(
    "BICEP_REQUIRED=1 but no Bicep CLI was found: run `dotnet restore infra/tools/bicep.csproj`.",
  );
}
if (!CLI) console.warn(BICEP_CLI_HINT);

function bicepFiles(dir = INFRA): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".bicep"))
    .map((name) => relative(ROOT, join(dir, name)).replaceAll("\\", "/"))
    .sort();
}

// ================================================================================================
// What the code uses, derived from the code.
// ================================================================================================

function sourceFiles(dir = join(ROOT, "src")): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(dir, name));
}

const SAMPLE: Env = JSON.parse(read("local.settings.sample.json")).Values;

type Loader = (env: Env) => unknown;
/** Every `load*` export of src/config.ts: each takes the environment. */
const LOADERS = Object.entries(config as Record<string, unknown>).filter(
  (entry): entry is [string, Loader] =>
    entry[0].startsWith("load") && typeof entry[1] === "function",
);

/** Runs a loader on `env`, recording every setting it reads; the outcome is its value or error. */
function run(loader: Loader, env: Env, seen?: Set<string>): { value?: unknown; error?: string } {
  const recording = new Proxy(env, {
    get: (target, key) => {
      if (typeof key === "string") seen?.add(key);
      return target[key as string];
    },
  });
  try {
    return { value: loader(recording) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/**
 * Settings a loader reads: from the sample, then with each setting it read removed, and each pair
 * (fallbacks such as TABLES_CONNECTION -> TABLES_ENDPOINT are read only when the first is unset).
 */
function settingsReadBy(loader: Loader): Set<string> {
  const seen = new Set<string>();
  const visited = new Set<string>();
  const queue: string[][] = [[]];
  for (let removed = queue.shift(); removed !== undefined; removed = queue.shift()) {
    const env: Env = { ...SAMPLE };
    for (const setting of removed) env[setting] = undefined;
    const reads = new Set<string>();
    run(loader, env, reads);
    for (const setting of reads) {
      seen.add(setting);
      const next = [...removed, setting].sort();
      if (removed.includes(setting) || next.length > 2 || visited.has(next.join())) continue;
      visited.add(next.join());
      queue.push(next);
    }
  }
  return seen;
}

const SETTINGS_BY_LOADER = new Map(LOADERS.map(([name, loader]) => [name, settingsReadBy(loader)]));

/** Settings read in src/ outside the loaders: `%NAME%` bindings and `env.NAME` / `env["NAME"]`. */
function settingsInSource(): Set<string> {
  const found = new Set<string>();
  for (const file of sourceFiles()) {
    const text = readFileSync(file, "utf8");
    for (const pattern of [
      /["'`]%([A-Za-z_]\w*)%["'`]/g,
      /\benv\.([A-Za-z_]\w*)/g,
      /\benv\[\s*["'`]([A-Za-z_]\w*)["'`]\s*\]/g,
    ]) {
      for (const match of text.matchAll(pattern)) found.add(match[1]);
    }
  }
  return found;
}

const CODE_SETTINGS = new Set([...SETTINGS_BY_LOADER.values()].flatMap((s) => [...s]));
for (const setting of settingsInSource()) CODE_SETTINGS.add(setting);

/** The Functions host's and the platform's own settings: allowed in infra and the sample even unread. */
const HOST_SETTINGS = [
  /^FUNCTIONS_WORKER_RUNTIME$/,
  /^AzureWebJobsStorage(__(credential|clientId|accountName|blobServiceUri|queueServiceUri|tableServiceUri))?$/,
  /^APPLICATIONINSIGHTS_(CONNECTION_STRING|AUTHENTICATION_STRING)$/,
  /^AZURE_CLIENT_ID$/,
  /^WEBSITE_\w+$/,
  // The identity-based connection of the Service Bus trigger, which the host reads, not the code.
  /^SERVICEBUS_CONNECTION__(fullyQualifiedNamespace|credential|clientId)$/,
];

/** Settings whose deployed value names the deployment itself, so no code default can equal it. */
const DEPLOYMENT_SPECIFIC = new Set(["BRIDGE_PUBLIC_URL"]);
const isHostSetting = (name: string) => HOST_SETTINGS.some((pattern) => pattern.test(name));

/** Connection strings: read by the code, the local way; in Azure they would win over the identity. */
const LOCAL_ONLY: Record<string, string> = {
  TABLES_CONNECTION: "TABLES_ENDPOINT",
  SERVICEBUS_CONNECTION: "SERVICEBUS_NAMESPACE",
};

/** Settings of the local stack (`npm start`), read in dev/, never deployed. */
const LOCAL_STACK_SETTINGS: Record<string, string> = {
  PORT: "dev/host/settings.ts",
  SERVICEBUS_TOPOLOGY: "dev/start.ts",
};

/** Read by the code, meaningful in Azure only: empty in local.settings.sample.json. */
const AZURE_ONLY: Record<string, string> = {
  TABLES_ENDPOINT: "managed identity; locally TABLES_CONNECTION wins",
  SERVICEBUS_NAMESPACE: "managed identity; locally SERVICEBUS_CONNECTION wins",
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
    "Entra ID telemetry; the local connection string is empty",
};

/** Not allowed on Flex Consumption (its runtime and deployment are in functionAppConfig). */
const FLEX_REJECTED = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_CONTENTSHARE",
  "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
  "WEBSITE_USE_PLACEHOLDER_DOTNETISOLATED",
  "AzureWebJobsStorage",
];

const CODE_TOPICS = new Set([
  ...Object.values(config.loadRoutingTable({})).map((route) => route.topic),
  config.loadCrossCheckSettings({}).discrepancyTopic,
]);
const CODE_QUEUES = new Set([config.loadJournalQueue({})]);
const CODE_TABLES = new Set(
  Object.entries(tableLayout).flatMap(([name, value]) =>
    name.endsWith("_TABLE") && typeof value === "string"
      ? [value]
      : name.endsWith("_TABLES") && Array.isArray(value)
        ? value.map(String)
        : [],
  ),
);

/** The functions src/functions/ registers: name, trigger, route. */
function registeredFunctions(): { name: string; trigger: string; route?: string }[] {
  const functions = [];
  for (const file of sourceFiles(join(ROOT, "src/functions"))) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/app\.(\w+)\(\s*"(\w+)"\s*,\s*\{([\s\S]*?)\n\}\);/g)) {
      const route = /route:\s*"([^"]+)"/.exec(match[3])?.[1];
      functions.push({ trigger: match[1], name: match[2], route });
    }
  }
  return functions;
}

// ----- roles -----

const ROLE = {
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageQueueDataContributor: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  storageTableDataReader: "76199698-9eea-4c19-bc75-cec21354c6b6",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  serviceBusDataOwner: "090c5cfd-751d-490a-894a-3ce6f1109419",
  serviceBusDataSender: "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
  serviceBusDataReceiver: "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
  keyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
  keyVaultSecretsOfficer: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
} as const;

/**
 * Control-plane permissions of the built-in roles the README names for deploying (Azure built-in
 * roles reference). Contributor's other notActions concern nothing deployed here.
 */
const DEPLOYER_ROLES: Record<string, { actions: string[]; notActions: string[] }> = {
  Owner: { actions: ["*"], notActions: [] },
  Contributor: {
    actions: ["*"],
    notActions: [
      "Microsoft.Authorization/*/Delete",
      "Microsoft.Authorization/*/Write",
      "Microsoft.Authorization/elevateAccess/Action",
    ],
  },
  "User Access Administrator": {
    actions: ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
    notActions: [],
  },
  "Role Based Access Control Administrator": {
    actions: [
      "Microsoft.Authorization/roleAssignments/write",
      "Microsoft.Authorization/roleAssignments/delete",
      "*/read",
      "Microsoft.Support/*",
    ],
    notActions: [],
  },
};

/** Whether one of `roles` grants `action` (`*` as in role definitions, case-insensitive). */
function permits(roles: string[], action: string): boolean {
  const covers = (pattern: string) =>
    new RegExp(
      `^${pattern
        .split("*")
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
      "i",
    ).test(action);
  return roles.some((name) => {
    const role = DEPLOYER_ROLES[name];
    if (!role) throw new Error(`${name}: not in DEPLOYER_ROLES`);
    return role.actions.some(covers) && !role.notActions.some(covers);
  });
}

/** The write actions a deployment takes, by the resource group each lands in. */
function writesByGroup(deployment: Snapshot): Map<string, Set<string>> {
  const writes = new Map<string, Set<string>>();
  for (const resource of deployment.predictedResources) {
    const group = /\/resourceGroups\/([^/']+)/i.exec(resource.id)?.[1];
    if (!group) throw new Error(`${resource.id}: no resource group`);
    const actions = writes.get(group) ?? new Set(["Microsoft.Resources/deployments/write"]);
    actions.add(`${resource.type}/write`);
    writes.set(group, actions);
  }
  return writes;
}

const STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts";
const SERVICE_BUS = "Microsoft.ServiceBus/namespaces";
const SAMPLE_APP_PRINCIPAL = "33333333-3333-4333-8333-333333333333";

/**
 * Every data-plane method of the SDK clients the adapters use, with the roles that permit it and
 * the resource types a role assignment may be scoped to. `[]` roles: no data-plane operation.
 * A method of these SDK types that src/ calls and this table lacks fails the test: classify it.
 */
const SDK_OPERATIONS: {
  sdk: string;
  dts: string;
  types: string[];
  scopes: string[];
  methods: Record<string, string[]>;
}[] = [
  {
    sdk: "@azure/data-tables",
    dts: "node_modules/@azure/data-tables/dist/commonjs/TableClient.d.ts",
    types: ["TableClient"],
    scopes: [STORAGE_ACCOUNT],
    methods: {
      getEntity: [ROLE.storageTableDataReader, ROLE.storageTableDataContributor],
      listEntities: [ROLE.storageTableDataReader, ROLE.storageTableDataContributor],
      getAccessPolicy: [ROLE.storageTableDataReader, ROLE.storageTableDataContributor],
      createTable: [ROLE.storageTableDataContributor],
      deleteTable: [ROLE.storageTableDataContributor],
      createEntity: [ROLE.storageTableDataContributor],
      upsertEntity: [ROLE.storageTableDataContributor],
      updateEntity: [ROLE.storageTableDataContributor],
      deleteEntity: [ROLE.storageTableDataContributor],
      submitTransaction: [ROLE.storageTableDataContributor],
      setAccessPolicy: [ROLE.storageTableDataContributor],
    },
  },
  {
    sdk: "@azure/service-bus",
    dts: "node_modules/@azure/service-bus/types/latest/service-bus.d.ts",
    types: ["ServiceBusSender", "ServiceBusReceiver"],
    scopes: [SERVICE_BUS, `${SERVICE_BUS}/queues`, `${SERVICE_BUS}/topics`],
    methods: {
      sendMessages: [ROLE.serviceBusDataSender, ROLE.serviceBusDataOwner],
      createMessageBatch: [ROLE.serviceBusDataSender, ROLE.serviceBusDataOwner],
      scheduleMessages: [ROLE.serviceBusDataSender, ROLE.serviceBusDataOwner],
      cancelScheduledMessages: [ROLE.serviceBusDataSender, ROLE.serviceBusDataOwner],
      subscribe: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      getMessageIterator: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      receiveMessages: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      receiveDeferredMessages: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      peekMessages: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      completeMessage: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      abandonMessage: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      deferMessage: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      deadLetterMessage: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      renewMessageLock: [ROLE.serviceBusDataReceiver, ROLE.serviceBusDataOwner],
      close: [],
    },
  },
];

/** Method names a class or interface of an SDK's declarations has (by the TypeScript compiler). */
function declaredMethods(dtsPath: string, type: string): string[] {
  const source = ts.createSourceFile(dtsPath, read(dtsPath), ts.ScriptTarget.Latest, true);
  const declaration = source.statements.find(
    (statement): statement is ts.ClassDeclaration | ts.InterfaceDeclaration =>
      (ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement)) &&
      statement.name?.text === type,
  );
  if (!declaration) throw new Error(`${type} not found in ${dtsPath}`);
  return declaration.members
    .filter((member) => ts.isMethodDeclaration(member) || ts.isMethodSignature(member))
    .filter((member) => !(ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Static))
    .map((member) => member.name?.getText(source) ?? "")
    .filter((name) => name !== "");
}

/** Loader outcomes for an environment, by loader. */
function interpret(env: Env): Record<string, unknown> {
  return Object.fromEntries(LOADERS.map(([name, loader]) => [name, run(loader, env)]));
}

const camelCase = (setting: string) =>
  setting.toLowerCase().replace(/_([a-z0-9])/g, (_match, c: string) => c.toUpperCase());

// ================================================================================================
// The deployment, as the Bicep CLI compiles and predicts it.
// ================================================================================================

interface ArmParameter {
  type: string;
  defaultValue?: unknown;
  allowedValues?: unknown[];
  minValue?: number;
  maxValue?: number;
  metadata?: { description?: string; azd?: { type?: string } };
}

interface ArmTemplate {
  parameters: Record<string, ArmParameter>;
  outputs: Record<string, unknown>;
  resources: { type: string; name: string; dependsOn?: string[] }[];
}

/**
 * The first Microsoft.Web/sites API version that takes functionAppConfig.siteUpdateStrategy, as
 * Microsoft's Flex Consumption docs give it ("Site update strategies in Flex Consumption": "only
 * Bicep and ARM are supported with API version 2024-11-01 or later"). Below it the property is
 * not part of the API, and the app would keep the default, Recreate.
 */
const SITE_UPDATE_STRATEGY_API_VERSION = "2024-11-01";

const BASE_PARAMS = {
  environmentName: "test",
  location: "westeurope",
  webhookSecret: "snapshot-webhook-secret",
  eventgridSecret: "snapshot-eventgrid-secret",
};
const USER_PRINCIPAL = "11111111-2222-3333-4444-555555555555";
/** A registry connected from its own resource group. */
const REGISTRY_PARAMS = {
  ...BASE_PARAMS,
  registryName: "myregistry",
  registryResourceGroup: "rg-registry",
};
const OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-0000000000c3";

/** ARM expressions (`[reference(...)]`) are only known at deployment time. */
const isExpression = (value: unknown) => typeof value === "string" && /^\[[\s\S]*\]$/.test(value);

const ofType = (deployment: Snapshot, type: string) =>
  deployment.predictedResources.filter((resource) => resource.type === type);

function only(deployment: Snapshot, type: string): PredictedResource {
  const found = ofType(deployment, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

const childName = (resource: PredictedResource) => resource.name.split("/").at(-1) ?? "";

function appSettingsOf(deployment: Snapshot): Record<string, unknown> {
  const settings = ofType(deployment, "Microsoft.Web/sites/config").find(
    (resource) => childName(resource) === "appsettings",
  );
  if (!settings) throw new Error("no Microsoft.Web/sites/config appsettings");
  return settings.properties;
}

/** `Microsoft.ServiceBus/namespaces/queues` for `/subscriptions/.../providers/Microsoft.ServiceBus/namespaces/sb/queues/q`. */
function resourceTypeOf(id: string): string {
  const path = id.split("/providers/").at(-1) ?? "";
  const [namespace, ...segments] = path.split("/");
  return [namespace, ...segments.filter((_, i) => i % 2 === 0)].join("/");
}

interface RoleAssignment {
  roleId: string;
  scope: string;
  scopeType: string;
  principalId: string;
}

function roleAssignmentsOf(deployment: Snapshot): RoleAssignment[] {
  return ofType(deployment, "Microsoft.Authorization/roleAssignments").map((resource) => {
    const scope = /^\[extensionResourceId\('([^']+)'/.exec(resource.id)?.[1] ?? "";
    return {
      roleId: String(resource.properties.roleDefinitionId).split("/").at(-1) ?? "",
      scope,
      scopeType: scope ? resourceTypeOf(scope) : "",
      principalId: String(resource.properties.principalId),
    };
  });
}

/** A value of each parameter named after a setting, other than its default. */
/**
 * Parameters whose values have a shape of their own (a URL), or whose default is the setting's
 * maximum, changed to another valid value.
 */
const CHANGED_VALUES: Record<string, unknown> = {
  bridgePublicUrl: "https://bridge.example.com",
  eventgridMaxBodyBytes: 524_288,
};

function changedValue(parameter: ArmParameter): unknown {
  const value = parameter.defaultValue;
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return value + 1;
  if (parameter.type === "string" && typeof value === "string") {
    return value.split(" ").length === 6 ? "0 */5 * * * *" : `${value}changed`;
  }
  throw new Error(`no changed value for a ${parameter.type} parameter`);
}

const expectedSetting = (value: unknown) =>
  typeof value === "boolean" ? (value ? "true" : "false") : String(value);

// ================================================================================================
// azd: infra/main.parameters.json and the README's Parameters table.
// ================================================================================================

/** infra/main.parameters.json: each parameter's value, an azd substitution `${VAR}` or `${VAR=default}`. */
const AZD_PARAMETERS = JSON.parse(read("infra/main.parameters.json")).parameters as Record<
  string,
  { value: unknown }
>;

/** The variable azd reads a parameter from, and the default the file gives (after `=`), if any. */
function substitution(name: string): { variable: string; fallback?: string } {
  const match = /^\$\{([A-Z_][A-Z0-9_]*)(?:=([^}]*))?\}$/.exec(String(AZD_PARAMETERS[name]?.value));
  if (!match) throw new Error(`${name}: no azd substitution in infra/main.parameters.json`);
  return { variable: match[1], fallback: match[2] };
}

/** The variables main.parameters.json maps. */
const MAPPED = new Set(Object.keys(AZD_PARAMETERS).map((name) => substitution(name).variable));

/** `replicaRegions` -> `REPLICA_REGIONS`, `instanceMemoryMB` -> `INSTANCE_MEMORY_MB`. */
const upperSnakeCase = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/**
 * The README's Parameters table: per row, the `VARIABLE` (`parameter`) pairs of its first cell and
 * the literals (in backquotes) of its Default cell.
 */
function readmeParameterRows(): { pairs: [string, string][]; defaults: string[] }[] {
  const section = /\n### Parameters\n([\s\S]*?)\n### /.exec(read("README.md"))?.[1] ?? "";
  return section
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => {
      const [variables, defaults] = line.slice(2).split(" | ");
      return {
        pairs: [...variables.matchAll(/`(AZURE_[A-Z0-9_]+)` \(`(\w+)`/g)].map(
          (match): [string, string] => [match[2], match[1]],
        ),
        defaults: [...defaults.matchAll(/`([^`]+)`/g)].map((match) => match[1]),
      };
    });
}

/** A parameter's default as the README writes it: arrays as JSON, the rest as text. */
const bicepDefault = (param: ArmParameter) =>
  typeof param.defaultValue === "object"
    ? JSON.stringify(param.defaultValue)
    : String(param.defaultValue);

/** A `${VAR=default}` default as azd passes it to a parameter of this type. */
function asParameterValue(param: ArmParameter, text: string): unknown {
  if (param.type === "int") return Number(text);
  if (param.type === "bool") return text === "true" ? true : text === "false" ? false : text;
  if (param.type === "array" || param.type === "object") return JSON.parse(text);
  return text;
}

describe("what the code reads (derived)", () => {
  it("every loader in src/config.ts reads settings", () => {
    expect(LOADERS.length).toBeGreaterThan(0);
    for (const [name, settings] of SETTINGS_BY_LOADER) {
      expect(settings.size, `${name} reads no setting`).toBeGreaterThan(0);
    }
  });

  it("the functions are found with their triggers (the route checks below rely on them)", () => {
    const triggers = new Set(registeredFunctions().map((f) => f.trigger));
    for (const trigger of ["http", "eventGrid", "timer"]) expect(triggers).toContain(trigger);
  });

  it("both connection-string settings and their identity-based alternatives are read", () => {
    for (const [local, azure] of Object.entries(LOCAL_ONLY)) {
      expect(CODE_SETTINGS).toContain(local);
      expect(CODE_SETTINGS).toContain(azure);
    }
  });

  it("the sample declares every setting the code reads, except the Azure-only ones", () => {
    const missing = [...CODE_SETTINGS].filter(
      (setting) => !(setting in AZURE_ONLY) && !(setting in SAMPLE),
    );
    expect(missing, "read by src/, missing from local.settings.sample.json").toEqual([]);
  });

  it("the sample declares nothing the code does not read, but the host's own settings", () => {
    const unknown = Object.keys(SAMPLE).filter(
      (s) => !CODE_SETTINGS.has(s) && !isHostSetting(s) && !(s in LOCAL_STACK_SETTINGS),
    );
    expect(unknown).toEqual([]);
  });

  it("the README's Settings table has a row for every setting the code and the local stack read", () => {
    const section = /\n## Settings\n([\s\S]*?)\n## /.exec(read("README.md"))?.[1] ?? "";
    const documented = new Set(
      section
        .split("\n")
        .filter((line) => line.startsWith("| `"))
        .flatMap((line) =>
          [...(line.split(" | ")[0] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]),
        ),
    );
    const scoped = (setting: string) => /^TOPIC_[A-Z_]+_SCOPE$/.test(setting);
    const missing = [...CODE_SETTINGS, ...Object.keys(LOCAL_STACK_SETTINGS)].filter(
      (setting) =>
        !documented.has(setting) && !(scoped(setting) && documented.has("TOPIC_<ACTION>_SCOPE")),
    );
    expect(missing, "read by the code, no row in README's Settings").toEqual([]);
  });

  it("the local-only settings of the sample are read by the local stack in dev/", () => {
    for (const [setting, file] of Object.entries(LOCAL_STACK_SETTINGS)) {
      expect(read(file)).toContain(setting);
    }
  });

  it("the local topology has every topic the code publishes to (each with `all`) and its queue", () => {
    const localTopology = JSON.parse(read("dev/servicebus/Config.json")).UserConfig.Namespaces[0];
    for (const topic of CODE_TOPICS) {
      const local = localTopology.Topics.find((t: { Name: string }) => t.Name === topic);
      expect(local, topic).toBeDefined();
      expect(local.Subscriptions.map((s: { Name: string }) => s.Name)).toContain("all");
    }
    for (const queue of CODE_QUEUES) {
      expect(localTopology.Queues.map((q: { Name: string }) => q.Name)).toContain(queue);
    }
  });
});

describe.skipIf(!CLI)("infra/ through the Bicep CLI", () => {
  const cli = CLI ?? "";
  let main: ArmTemplate;
  let subscriptionTemplate: ArmTemplate;
  /** main.bicep with its defaults and no registry. */
  let defaults: Snapshot;
  /** A geo-replicated registry connected, the deploying user granted access. */
  let connected: Snapshot;
  /** Another azd environment connected to the same registry. */
  let secondEnvironment: Snapshot;
  /** A registry with an Event Grid system topic of its own, delivering to the queue. */
  let existingTopic: Snapshot;
  /** A registry in a group of the same name, in another subscription of the tenant. */
  let otherSubscription: Snapshot;
  let changedParameters: Record<string, unknown>;
  /** The deploying user known but not granted access, no registry, every setting parameter changed. */
  let customised: Snapshot;
  /** eventgrid-subscription.bicep as the postdeploy hook deploys it, to the trigger. */
  let subscription: Snapshot;
  let built: { status: number; stderr: string };
  const outDir = mkdtempSync(join(tmpdir(), "bicep-build-"));

  beforeAll(async () => {
    // The build and the snapshots are CLI processes of their own, run together (the browser
    // test, which Chromium makes sensitive to a busy machine, runs after the infra tests).
    const compiled = runBicep(cli, ["build", "--pattern", "infra/**/*.bicep", "--outdir", outDir]);
    const snapshots = Promise.all([
      snapshot(cli, "infra/main.bicep", BASE_PARAMS),
      snapshot(cli, "infra/main.bicep", {
        ...REGISTRY_PARAMS,
        replicaRegions: ["westeurope", "East US"],
        bridgePublicUrl: "https://bridge.example.com/",
        allSubscriptionMessageTtl: "P1D",
        principalId: USER_PRINCIPAL,
        alwaysReadyInstances: 3,
        httpPerInstanceConcurrency: 8,
      }),
      snapshot(cli, "infra/main.bicep", {
        ...REGISTRY_PARAMS,
        environmentName: "second",
      }),
      snapshot(cli, "infra/main.bicep", {
        ...REGISTRY_PARAMS,
        eventGridSystemTopicName: "evgt-existing",
        eventGridDelivery: "servicebus-queue",
      }),
      snapshot(cli, "infra/main.bicep", {
        ...REGISTRY_PARAMS,
        registrySubscriptionId: OTHER_SUBSCRIPTION,
      }),
      snapshot(
        cli,
        "infra/app/eventgrid-subscription.bicep",
        {
          systemTopicName: "evgt-myregistry",
          functionAppId:
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/func-api-x",
          deadLetterStorageAccountId:
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stx",
        },
        "rg-registry",
      ),
    ]);
    built = await compiled;
    if (built.status !== 0) {
      await snapshots.catch(() => undefined);
      return;
    }
    main = JSON.parse(readFileSync(join(outDir, "main.json"), "utf8"));
    subscriptionTemplate = JSON.parse(
      readFileSync(join(outDir, "app/eventgrid-subscription.json"), "utf8"),
    );
    changedParameters = Object.fromEntries(
      [...CODE_SETTINGS]
        .filter((setting) => camelCase(setting) in main.parameters)
        .map((setting) => {
          const name = camelCase(setting);
          return [name, CHANGED_VALUES[name] ?? changedValue(main.parameters[name])];
        }),
    );
    [defaults, connected, secondEnvironment, existingTopic, otherSubscription, subscription] =
      await snapshots;
    // Every setting parameter changed: known from the compiled template only.
    customised = await snapshot(cli, "infra/main.bicep", {
      ...BASE_PARAMS,
      principalId: USER_PRINCIPAL,
      allowUserIdentityPrincipal: false,
      allSubscriptionMessageTtl: "P30D",
      // EVENTGRID_QUEUE is set only for the queue delivery.
      eventGridDelivery: "servicebus-queue",
      ...changedParameters,
    });
  }, 120_000);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  describe("the compiler and the linter", () => {
    it("every file compiles without an error or a warning", () => {
      expect(built.stderr).toBe("");
      expect(built.status).toBe(0);
      for (const file of bicepFiles()) {
        const json = join(outDir, relative("infra", file).replace(/\.bicep$/, ".json"));
        expect(existsSync(json), file).toBe(true);
      }
    });

    it("the linter finds nothing, with the recent-API-versions rule on", async () => {
      const rules = JSON.parse(read("infra/bicepconfig.json")).analyzers.core.rules;
      expect(rules["use-recent-api-versions"]?.level).toBe("warning");
      // Host names that differ by cloud: the app's and the namespace's come from ARM instead.
      expect(rules["no-hardcoded-env-urls"]?.disallowedhosts).toEqual(
        expect.arrayContaining(["azurewebsites.net", "servicebus.windows.net", "vault.azure.net"]),
      );
      const linted = await runBicep(cli, ["lint", "--pattern", "infra/**/*.bicep"]);
      expect(linted.stderr + linted.stdout).toBe("");
      expect(linted.status).toBe(0);
    });

    it("a warning reaches the test even when the CLI exits 0", async () => {
      const linted = await lintWithInfraRules(cli, { "unused.bicep": "param unused string\n" });
      expect(linted.status).toBe(0);
      expect(linted.stderr).toMatch(/unused\.bicep\(1,7\) : Warning no-unused-params:/);
    });

    it("the sample's module and the Bicep `npm run subscribe` prints lint clean by the same rules", async () => {
      const linted = await lintWithInfraRules(cli, {
        "notify-chat.bicep": read("samples/notify-chat/infra/notify-chat.bicep"),
        "subscribe.bicep": bicepFor({
          topic: "acr-push",
          subscription: "prod-api-deployer",
          ruleName: "only-prod-api",
          sqlExpression: "repository = 'prod/api'",
        }),
      });
      expect(linted.stderr + linted.stdout).toBe("");
      expect(linted.status).toBe(0);
    });

    it("every suppressed diagnostic says why, next to it", () => {
      for (const file of bicepFiles()) {
        for (const line of read(file).split("\n")) {
          if (!/#disable-(next-line|diagnostics)\b/.test(line)) continue;
          expect(line, `${file}: give the reason after //`).toMatch(
            /#disable-(next-line|diagnostics)(\s+[\w-]+)+\s+\/\/\s*\S.{10,}/,
          );
        }
      }
    });
  });

  describe("settings: code and infra/main.bicep agree", () => {
    const infraSettings = () => new Set(Object.keys(appSettingsOf(defaults)));

    it("infra sets every setting the code reads, except the connection strings", () => {
      const settings = infraSettings();
      const missing = [...CODE_SETTINGS].filter(
        (setting) => !(setting in LOCAL_ONLY) && !settings.has(setting),
      );
      expect(missing, "read by src/, not set in infra/main.bicep appSettings").toEqual([]);
      for (const local of Object.keys(LOCAL_ONLY)) expect(settings).not.toContain(local);
    });

    it("the Azure-only settings are read by the code and set in infra", () => {
      for (const setting of Object.keys(AZURE_ONLY)) {
        expect(CODE_SETTINGS, setting).toContain(setting);
        expect(infraSettings(), setting).toContain(setting);
      }
    });

    it("infra sets nothing the code does not read, but the host's own settings", () => {
      const unknown = [...infraSettings()].filter(
        (s) => !CODE_SETTINGS.has(s) && !isHostSetting(s),
      );
      expect(unknown).toEqual([]);
      for (const setting of Object.keys(LOCAL_STACK_SETTINGS)) {
        expect(infraSettings()).not.toContain(setting);
      }
    });

    it("nothing Flex Consumption refuses, storage and telemetry by the app's identity only", () => {
      const settings = appSettingsOf(defaults);
      for (const setting of FLEX_REJECTED) expect(settings).not.toHaveProperty(setting);
      expect(settings.AzureWebJobsStorage__credential).toBe("managedidentity");
      for (const service of ["blob", "table"]) {
        expect(settings).toHaveProperty(`AzureWebJobsStorage__${service}ServiceUri`);
      }
      const identity = only(defaults, "Microsoft.ManagedIdentity/userAssignedIdentities");
      const clientId = settings.AZURE_CLIENT_ID;
      expect(clientId).toMatch(new RegExp(`^\\[reference\\('${identity.id}'.*\\)\\.clientId\\]$`));
      expect(settings.AzureWebJobsStorage__clientId).toBe(clientId);
      expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe(
        `[format('ClientId={0};Authorization=AAD', ${String(clientId).slice(1, -1)})]`,
      );
    });

    it("secrets come from Key Vault references, never from a value", () => {
      const settings = appSettingsOf(defaults);
      const secrets = Object.keys(settings).filter((setting) => /SECRET/.test(setting));
      expect(secrets.length).toBeGreaterThan(0);
      for (const setting of secrets) {
        expect(settings[setting]).toMatch(
          /^\[format\('@Microsoft\.KeyVault\(SecretUri=\{0\}\)', reference\('[^']+\/providers\/Microsoft\.KeyVault\/vaults\/[^']+\/secrets\/[^']+'.*\)\.secretUri\)\]$/,
        );
      }
      const serialized = JSON.stringify(defaults);
      expect(serialized).not.toContain(BASE_PARAMS.webhookSecret);
      expect(serialized).not.toContain(BASE_PARAMS.eventgridSecret);
    });

    it("every value infra knows before deployment means to the code what the code's default does", () => {
      const compared: string[] = [];
      for (const [setting, value] of Object.entries(appSettingsOf(defaults))) {
        if (isExpression(value) || !CODE_SETTINGS.has(setting)) continue;
        if (DEPLOYMENT_SPECIFIC.has(setting)) continue;
        expect(typeof value, setting).toBe("string");
        compared.push(setting);
        expect(interpret({ ...SAMPLE, [setting]: String(value) }), setting).toEqual(
          interpret({ ...SAMPLE, [setting]: undefined }),
        );
      }
      expect(compared.length).toBeGreaterThan(5);
    });

    it("the cross-check settings are parameters named after them", () => {
      const crossCheck = SETTINGS_BY_LOADER.get("loadCrossCheckSettings") ?? new Set<string>();
      expect(crossCheck.size).toBeGreaterThan(0);
      for (const setting of crossCheck) {
        if (setting === "TOPIC_DISCREPANCIES") continue; // a resource name: var topics, not a parameter
        expect(main.parameters, `param ${camelCase(setting)} for ${setting}`).toHaveProperty(
          camelCase(setting),
        );
      }
    });

    it("every parameter named after a setting feeds that setting, and the code accepts its value", () => {
      const settings = appSettingsOf(customised);
      expect(Object.keys(changedParameters).length).toBeGreaterThan(5);
      for (const setting of CODE_SETTINGS) {
        const name = camelCase(setting);
        if (!(name in changedParameters)) continue;
        expect(settings[setting], setting).toBe(expectedSetting(changedParameters[name]));
      }
      const known = Object.entries(settings).filter(([, value]) => !isExpression(value));
      const outcomes = interpret({ ...SAMPLE, ...(Object.fromEntries(known) as Env) });
      for (const [loader, outcome] of Object.entries(outcomes)) {
        expect((outcome as { error?: string }).error, loader).toBeUndefined();
      }
    });

    it("a whole-number parameter allows what the code accepts and refuses past the code's maximum", () => {
      const bounded = [...CODE_SETTINGS].filter(
        (setting) => main.parameters[camelCase(setting)]?.type === "int",
      );
      expect(bounded.length).toBeGreaterThan(10);
      const parameterOf = (setting: string) => main.parameters[camelCase(setting)];
      const errors = (env: Env) =>
        Object.values(interpret({ ...SAMPLE, ...env }))
          .map((outcome) => (outcome as { error?: string }).error)
          .filter((error) => error !== undefined);
      const allAt = (bound: "minValue" | "maxValue") =>
        Object.fromEntries(bounded.map((s) => [s, String(parameterOf(s)[bound])])) as Env;
      for (const setting of bounded) {
        const { minValue, maxValue } = parameterOf(setting);
        expect(minValue, `${camelCase(setting)} @minValue`).toBeGreaterThanOrEqual(1);
        expect(maxValue, `${camelCase(setting)} @maxValue`).toBeGreaterThanOrEqual(minValue ?? 1);
      }
      expect(errors(allAt("minValue"))).toEqual([]);
      expect(errors(allAt("maxValue"))).toEqual([]);
      for (const setting of bounded) {
        const past = String((parameterOf(setting).maxValue ?? 0) + 1);
        expect(errors({ ...allAt("maxValue"), [setting]: past }).join("\n"), setting).toContain(
          `setting ${setting}:`,
        );
      }
    });

    it("the registry side's schedule parameters say what turns their timer off, as the code reads it", () => {
      const schedules = [
        ["backfillSchedule", "BACKFILL_SCHEDULE", "backfillSchedule"],
        ["webhookPingSchedule", "WEBHOOK_PING_SCHEDULE", "pingSchedule"],
      ] as const;
      for (const [name, setting, field] of schedules) {
        expect(appSettingsOf(defaults)[setting], setting).toBe(main.parameters[name].defaultValue);
        const read = (value: string) =>
          config.loadRegistryAccessSettings({ ...SAMPLE, [setting]: value })[field];
        expect(read("off"), `${setting}=off`).toBeUndefined();
        expect(read(""), `${setting} empty`).toBe(main.parameters[name].defaultValue);
        const description = main.parameters[name].metadata?.description ?? "";
        expect(description, name).toMatch(/\boff turns the timer off\b/);
        expect(description, name).toMatch(/empty: the default schedule/);
      }
    });

    it("RECONCILE_SCHEDULE is a six-field NCRONTAB expression", () => {
      const schedule = String(appSettingsOf(defaults).RECONCILE_SCHEDULE);
      expect(schedule.trim().split(/\s+/)).toHaveLength(6);
      expect(() => CronExpressionParser.parse(schedule)).not.toThrow();
    });
  });

  describe("topics, queue and tables", () => {
    it("every topic the code publishes to is created, with duplicate detection and `all`", () => {
      const topics = ofType(defaults, "Microsoft.ServiceBus/namespaces/topics");
      expect(new Set(topics.map(childName))).toEqual(CODE_TOPICS);
      expect(topics).toHaveLength(CODE_TOPICS.size);
      for (const topic of topics) {
        expect(topic.properties.requiresDuplicateDetection, topic.name).toBe(true);
        expect(topic.properties.duplicateDetectionHistoryTimeWindow).toBe(
          main.parameters.duplicateDetectionWindow.defaultValue,
        );
      }
      expect(main.parameters.duplicateDetectionWindow.defaultValue).toBe("PT10M");
      const subscriptions = ofType(
        defaults,
        "Microsoft.ServiceBus/namespaces/topics/subscriptions",
      );
      expect(new Set(subscriptions.map((s) => s.name.split("/").slice(1).join("/")))).toEqual(
        new Set([...CODE_TOPICS].map((topic) => `${topic}/all`)),
      );
    });

    it("`all` keeps messages for allSubscriptionMessageTtl: a topic's own TTL is never shorter", () => {
      const ttls = (deployment: Snapshot, type: string) =>
        new Set(ofType(deployment, type).map((r) => r.properties.defaultMessageTimeToLive));
      const topics = "Microsoft.ServiceBus/namespaces/topics";
      const subscriptions = "Microsoft.ServiceBus/namespaces/topics/subscriptions";
      expect(main.parameters.allSubscriptionMessageTtl.defaultValue).toBe("P14D");
      for (const [deployment, all, topic] of [
        [defaults, "P14D", "P14D"],
        [connected, "P1D", "P14D"],
        [customised, "P30D", "P30D"],
      ] as const) {
        expect(ttls(deployment, subscriptions)).toEqual(new Set([all]));
        expect(ttls(deployment, topics)).toEqual(new Set([topic]));
      }
    });

    it("the journal queue is created with duplicate detection and 2000 deliveries", () => {
      const queues = ofType(defaults, "Microsoft.ServiceBus/namespaces/queues");
      expect(new Set(queues.map(childName))).toEqual(CODE_QUEUES);
      for (const queue of queues) {
        expect(queue.properties.requiresDuplicateDetection).toBe(true);
        expect(queue.properties.maxDeliveryCount).toBe(2000);
      }
    });

    it("README's What gets created gives both queues' deliveries as deployed", () => {
      const created =
        /\n### What gets created\n([\s\S]*?)\n### /.exec(read("README.md"))?.[1] ?? "";
      const deliveries = (deployment: Snapshot, queue: string) =>
        ofType(deployment, "Microsoft.ServiceBus/namespaces/queues").find(
          (resource) => childName(resource) === queue,
        )?.properties.maxDeliveryCount;
      const journal = /queue `acr-journal` \(duplicate detection, (\d+) deliveries\)/.exec(created);
      expect(Number(journal?.[1])).toBe(deliveries(defaults, "acr-journal"));
      const eventGridQueue =
        /\| `acr-eventgrid` \(`eventgridQueue`\) \| [^(|]*\((\d+) deliveries/.exec(created);
      const queueName = String(appSettingsOf(customised).EVENTGRID_QUEUE);
      expect(Number(eventGridQueue?.[1])).toBe(deliveries(customised, queueName));
    });

    it("every table of src/adapters/tableLayout.ts is created, and no other", () => {
      expect(CODE_TABLES.size).toBeGreaterThan(0);
      const tables = ofType(defaults, "Microsoft.Storage/storageAccounts/tableServices/tables");
      expect(new Set(tables.map(childName))).toEqual(CODE_TABLES);
      expect(tables).toHaveLength(CODE_TABLES.size);
    });

    it("no keys: shared-key storage, SAS on Service Bus, local auth on App Insights are off", () => {
      expect(only(defaults, STORAGE_ACCOUNT).properties.allowSharedKeyAccess).toBe(false);
      expect(only(defaults, SERVICE_BUS).properties.disableLocalAuth).toBe(true);
      expect(only(defaults, "Microsoft.Insights/components").properties.DisableLocalAuth).toBe(
        true,
      );
      expect(only(defaults, "Microsoft.KeyVault/vaults").properties.enableRbacAuthorization).toBe(
        true,
      );
    });

    it("the Service Bus tier is Standard or Premium (topics need Standard)", () => {
      expect(main.parameters.serviceBusSku.allowedValues).toEqual(["Standard", "Premium"]);
      expect(only(defaults, SERVICE_BUS).sku).toMatchObject({ name: "Standard" });
    });

    it("Premium messaging units are only the counts Service Bus Premium offers: 1, 2, 4, 8, 16", () => {
      const units = [1, 2, 4, 8, 16];
      expect(main.parameters.serviceBusPremiumUnits.allowedValues).toEqual(units);
      const module: ArmTemplate = JSON.parse(
        readFileSync(join(outDir, "core/servicebus.json"), "utf8"),
      );
      expect(module.parameters.premiumUnits.allowedValues).toEqual(units);
    });
  });

  describe("roles: the identity may do every data-plane call the code makes", () => {
    const calls = SDK_OPERATIONS.map((sdk) => {
      const declared = new Set(sdk.types.flatMap((type) => declaredMethods(sdk.dts, type)));
      const used = new Set<string>();
      for (const file of sourceFiles()) {
        for (const match of readFileSync(file, "utf8").matchAll(/\.(\w+)\(/g)) {
          if (declared.has(match[1])) used.add(match[1]);
        }
      }
      return { ...sdk, declared, used };
    });
    const appRoles = (deployment: Snapshot) => {
      const identity = only(deployment, "Microsoft.ManagedIdentity/userAssignedIdentities");
      return roleAssignmentsOf(deployment).filter(
        (assignment) =>
          assignment.principalId.includes(`'${identity.id}'`) &&
          assignment.principalId.endsWith(".principalId]"),
      );
    };
    const userRoles = (deployment: Snapshot) =>
      roleAssignmentsOf(deployment).filter((a) => a.principalId === USER_PRINCIPAL);

    it("the SDKs' method lists are read and the adapters call both SDKs", () => {
      for (const sdk of calls) {
        expect(sdk.declared.size, sdk.sdk).toBeGreaterThan(3);
        expect(sdk.used.size, `${sdk.sdk}: no call found in src/`).toBeGreaterThan(0);
      }
    });

    it("every SDK method src/ calls is classified", () => {
      for (const sdk of calls) {
        const unclassified = [...sdk.used].filter((method) => !(method in sdk.methods));
        expect(unclassified, `${sdk.sdk}: add these to SDK_OPERATIONS`).toEqual([]);
      }
    });

    it("each call is permitted by a role assigned to the app's identity at a scope that covers it", () => {
      for (const deployment of [defaults, connected]) {
        const roles = appRoles(deployment);
        expect(roles.length).toBeGreaterThan(0);
        for (const sdk of calls) {
          for (const method of sdk.used) {
            const permitting = sdk.methods[method] ?? [];
            if (permitting.length === 0) continue;
            const granted = roles.some(
              (assignment) =>
                sdk.scopes.includes(assignment.scopeType) && permitting.includes(assignment.roleId),
            );
            expect(granted, `${sdk.sdk} ${method}: assign one of ${permitting.join(", ")}`).toBe(
              true,
            );
          }
        }
      }
    });

    it("the app is created after its roles (the host needs them from its first start)", () => {
      const api = main.resources.find((r) => r.name.startsWith("[format('api-"));
      expect(api?.dependsOn?.some((dependency) => dependency.includes("format('rbac-"))).toBe(true);
    });

    it("the host's storage, Key Vault references and Entra telemetry have their roles", () => {
      const roles = appRoles(defaults);
      const has = (role: string, scope: string) =>
        roles.some((a) => a.scopeType === scope && a.roleId === role);
      const settings = appSettingsOf(defaults);
      if ("AzureWebJobsStorage__blobServiceUri" in settings) {
        expect(has(ROLE.storageBlobDataOwner, STORAGE_ACCOUNT)).toBe(true);
      }
      if ("AzureWebJobsStorage__queueServiceUri" in settings) {
        expect(has(ROLE.storageQueueDataContributor, STORAGE_ACCOUNT)).toBe(true);
      }
      if ("AzureWebJobsStorage__tableServiceUri" in settings) {
        expect(has(ROLE.storageTableDataContributor, STORAGE_ACCOUNT)).toBe(true);
      }
      if (Object.values(settings).some((value) => String(value).includes("@Microsoft.KeyVault("))) {
        expect(has(ROLE.keyVaultSecretsUser, "Microsoft.KeyVault/vaults")).toBe(true);
      }
      if ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in settings) {
        expect(has(ROLE.monitoringMetricsPublisher, "Microsoft.Insights/components")).toBe(true);
      }
    });

    it("no Storage Queue access: the host uses queues only for blob triggers and Durable Functions, and the app has neither, nor a storage queue trigger", () => {
      // Functions docs, "Connecting to host storage with an identity": the host alone needs
      // Storage Blob Data Owner (timer locks, keys), Table Data Contributor for diagnostic events;
      // Storage Queue Data Contributor only for the blob trigger and Durable Functions.
      const triggers = new Set(registeredFunctions().map((f) => f.trigger));
      for (const trigger of triggers) {
        expect(
          ["http", "timer", "eventGrid", "serviceBusQueue", "serviceBusTopic"],
          trigger,
        ).toContain(trigger);
      }
      const dependencies = Object.keys(JSON.parse(read("package.json")).dependencies);
      expect(
        dependencies.filter((name) => /durable|storage-queue|storage-blob/.test(name)),
      ).toEqual([]);
      for (const deployment of [defaults, connected, customised]) {
        expect(appRoles(deployment).map((a) => a.roleId)).not.toContain(
          ROLE.storageQueueDataContributor,
        );
        expect(appSettingsOf(deployment)).not.toHaveProperty(
          "AzureWebJobsStorage__queueServiceUri",
        );
      }
    });

    it("the queue trigger's identity has Manage rights (Data Owner) on its queue alone: target-based scaling reads the queue's message count", () => {
      const queue = String(appSettingsOf(customised).EVENTGRID_QUEUE);
      const owned = appRoles(customised).filter((a) => a.roleId === ROLE.serviceBusDataOwner);
      expect(owned.map((a) => [a.scopeType, a.scope.split("/").at(-1)])).toEqual([
        [`${SERVICE_BUS}/queues`, queue],
      ]);
      expect(appRoles(defaults).filter((a) => a.roleId === ROLE.serviceBusDataOwner)).toEqual([]);
    });

    it("the notify-chat sample's trigger identity has Data Owner on its subscription alone, for the same scaling", async () => {
      const sample = await snapshot(
        cli,
        "samples/notify-chat/infra/notify-chat.bicep",
        {
          serviceBusNamespaceName: "sb-x",
          triggerPrincipalId: SAMPLE_APP_PRINCIPAL,
        },
        "rg-bridge",
      );
      const assigned = ofType(sample, "Microsoft.Authorization/roleAssignments");
      expect(
        assigned.map((a) => [
          String(a.properties.roleDefinitionId).split("/").at(-1),
          a.properties.principalId,
        ]),
      ).toEqual([[ROLE.serviceBusDataOwner, SAMPLE_APP_PRINCIPAL]]);
      // Scoped to the subscription, not its topic or the namespace.
      expect(assigned[0].id).toMatch(
        /\/providers\/Microsoft\.ServiceBus\/namespaces\/sb-x\/topics\/acr-push\/subscriptions\/notify-chat\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/,
      );
    });

    it("the deploying principal gets access only when given and allowed", () => {
      expect(userRoles(defaults)).toEqual([]);
      expect(userRoles(customised)).toEqual([]);
      const granted = userRoles(connected);
      expect(granted.map((a) => a.roleId)).toEqual(
        expect.arrayContaining([
          ROLE.storageTableDataContributor,
          ROLE.serviceBusDataReceiver,
          ROLE.keyVaultSecretsOfficer,
        ]),
      );
    });
  });

  describe("the function app", () => {
    const site = (deployment: Snapshot) => only(deployment, "Microsoft.Web/sites");

    it("runs on Flex Consumption (FC1), Node 22, at a sites API version with rolling updates", () => {
      expect(only(defaults, "Microsoft.Web/serverfarms").sku).toMatchObject({ name: "FC1" });
      const config = site(defaults).properties.functionAppConfig;
      expect(config.runtime).toEqual({ name: "node", version: "22" });
      expect(main.parameters.nodeVersion.defaultValue).toBe("22");
      expect(site(defaults).apiVersion >= SITE_UPDATE_STRATEGY_API_VERSION).toBe(true);
      expect(config.siteUpdateStrategy).toEqual({ type: "RollingUpdate" });
    });

    it("the comment on siteUpdateStrategy names the API version the docs give for it", () => {
      const lines = read("infra/app/api.bicep").split("\n");
      const at = lines.findIndex((line) => /^\s*siteUpdateStrategy:/.test(line));
      const comment = lines[at - 1];
      expect(comment).toMatch(/#disable-next-line BCP037 \/\//);
      expect(/\bAPI version (\d{4}-\d{2}-\d{2})\b/.exec(comment)?.[1]).toBe(
        SITE_UPDATE_STRATEGY_API_VERSION,
      );
    });

    it("two always-ready HTTP instances and 16 concurrent HTTP executions per instance by default, both parameters", () => {
      const scale = site(defaults).properties.functionAppConfig.scaleAndConcurrency;
      expect(scale.instanceMemoryMB).toBe(2048);
      expect(scale.alwaysReady).toEqual([{ name: "http", instanceCount: 2 }]);
      expect(scale.triggers).toEqual({ http: { perInstanceConcurrency: 16 } });
      const changed = site(connected).properties.functionAppConfig.scaleAndConcurrency;
      expect(changed.alwaysReady).toEqual([{ name: "http", instanceCount: 3 }]);
      expect(changed.triggers).toEqual({ http: { perInstanceConcurrency: 8 } });
    });

    it("uses the user-assigned identity for deployment storage and Key Vault references", () => {
      const identity = only(defaults, "Microsoft.ManagedIdentity/userAssignedIdentities");
      const app = site(defaults);
      const storage = app.properties.functionAppConfig.deployment.storage;
      expect(storage.type).toBe("blobContainer");
      expect(storage.authentication).toEqual({
        type: "UserAssignedIdentity",
        userAssignedIdentityResourceId: identity.id,
      });
      const containers = ofType(
        defaults,
        "Microsoft.Storage/storageAccounts/blobServices/containers",
      );
      expect(containers.map(childName).some((name) => storage.value.includes(`'${name}'`))).toBe(
        true,
      );
      expect(app.properties.keyVaultReferenceIdentity).toBe(identity.id);
      expect(app.identity?.type).toBe("UserAssigned");
      expect(Object.keys(app.identity?.userAssignedIdentities ?? {})).toEqual([identity.id]);
    });

    it("is tagged for azd as service `api`", () => {
      expect(site(defaults).tags).toMatchObject({ "azd-service-name": "api" });
    });

    it("every resource is at a current API version (no older than the linter's two years)", () => {
      for (const resource of defaults.predictedResources) {
        expect(resource.apiVersion, resource.type).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }
    });
  });

  describe("the registry link and the Event Grid subscription", () => {
    const functions = registeredFunctions();
    const webhookFunction = functions.find(
      (f) => f.trigger === "http" && f.route === "acr/webhook",
    );
    const eventGridEndpoint = functions.find(
      (f) => f.trigger === "http" && f.route === "eventgrid",
    );
    const eventGridTrigger = functions.find((f) => f.trigger === "eventGrid");

    it("nothing is created on a registry unless one is named", () => {
      expect(ofType(defaults, "Microsoft.ContainerRegistry/registries/webhooks")).toEqual([]);
      expect(ofType(defaults, "Microsoft.EventGrid/systemTopics")).toEqual([]);
    });

    it("one webhook per region for every action the code routes, to the webhook route, with the secret", () => {
      expect(webhookFunction).toBeDefined();
      const webhooks = ofType(connected, "Microsoft.ContainerRegistry/registries/webhooks");
      expect(webhooks).toHaveLength(2);
      expect(webhooks.map((webhook) => webhook.location).sort()).toEqual(["East US", "westeurope"]);
      const webhookUrl = String(connected.outputs.AZURE_ACR_WEBHOOK_URL);
      expect(new URL(webhookUrl).pathname).toBe(`/api/${webhookFunction?.route}`);
      for (const webhook of webhooks) {
        // ?region={1} is the region's name in lower case without spaces.
        const region = String(webhook.location).toLowerCase().replaceAll(" ", "");
        expect(webhook.properties.serviceUri).toContain(
          `format('{0}?region={1}&registry={2}', '${webhookUrl}', '${region}', `,
        );
      }
      for (const webhook of webhooks) {
        expect(webhook.properties.actions).toEqual(Object.keys(config.DEFAULT_TOPICS));
        expect(webhook.properties.customHeaders.Authorization).toBe(
          "[format('Bearer {0}', parameters('webhookSecret'))]",
        );
        expect(webhook.properties.status).toBe("enabled");
        expect(webhook.location).toBeDefined();
      }
      const settings = appSettingsOf(connected);
      expect(settings.WEBHOOK_AUTH_HEADER).toBe("Authorization");
      expect(settings.WEBHOOK_AUTH_LEVEL).toBe("anonymous");
      expect(settings.ACR_RESOURCE_IDS).toMatch(
        /\/providers\/Microsoft\.ContainerRegistry\/registries\/myregistry$/,
      );
    });

    it("BRIDGE_PUBLIC_URL is the app's real default host name unless bridgePublicUrl is given, and AZURE_ACR_WEBHOOK_URL follows it", () => {
      const site = only(defaults, "Microsoft.Web/sites");
      const base = String(appSettingsOf(defaults).BRIDGE_PUBLIC_URL);
      // Only known once ARM has created the app: it differs by cloud and with unique host names.
      expect(base).toMatch(
        /^\[format\('https:\/\/\{0\}', reference\('([^']+)', '[^']+'\)\.defaultHostName\)\]$/,
      );
      expect(base).toContain(`reference('${site.id}', `);
      expect(defaults.outputs.AZURE_ACR_WEBHOOK_URL).toBe(
        `[format('{0}/api/acr/webhook', ${base.slice(1, -1)})]`,
      );
      expect(JSON.stringify(defaults)).not.toContain("azurewebsites.net");
      // Given (with a trailing slash), it is the base of the webhooks' URIs.
      expect(appSettingsOf(connected).BRIDGE_PUBLIC_URL).toBe("https://bridge.example.com");
      expect(connected.outputs.AZURE_ACR_WEBHOOK_URL).toBe(
        "https://bridge.example.com/api/acr/webhook",
      );
    });

    it("the webhooks created here pass the health check's service-URI test", () => {
      const settings = appSettingsOf(connected);
      const access = config.loadRegistryAccessSettings({
        ...SAMPLE,
        ...Object.fromEntries(
          ["BRIDGE_PUBLIC_URL", "WEBHOOK_EXPECTED_ACTIONS", "WEBHOOK_EXPECTED_SCOPE"].map(
            (name) => [name, String(settings[name])],
          ),
        ),
      });
      // As src/backfill/registryAccess.ts derives the URL the webhooks must call.
      const bridgeWebhookUrl = new URL("api/acr/webhook", `${access.bridgeBaseUrl}/`).toString();
      const webhooks = ofType(connected, "Microsoft.ContainerRegistry/registries/webhooks");
      for (const webhook of webhooks) {
        const region = String(webhook.location).toLowerCase().replaceAll(" ", "");
        const problems = configurationProblems(
          {
            ref: { registryId: "r", name: childName(webhook) },
            location: String(webhook.location),
            status: webhook.properties.status,
            scope: webhook.properties.scope,
            actions: webhook.properties.actions,
            // As ARM evaluates the URI, the registry's login server filled in.
            serviceUri: `${connected.outputs.AZURE_ACR_WEBHOOK_URL}?region=${region}&registry=myregistry.azurecr.io`,
            customHeaderNames: Object.keys(webhook.properties.customHeaders),
          },
          {
            bridgeWebhookUrl,
            actions: access.expectedActions,
            scope: access.expectedScope,
            authHeader: String(settings.WEBHOOK_AUTH_HEADER),
          },
        );
        expect(problems, webhook.name).toEqual([]);
      }
    });

    it("the outputs name the functions' real routes", () => {
      expect(defaults.outputs.AZURE_ACR_WEBHOOK_URL).toMatch(
        new RegExp(`/api/${webhookFunction?.route}'`),
      );
      expect(defaults.outputs.AZURE_EVENTGRID_ENDPOINT_URL).toMatch(
        new RegExp(`/api/${eventGridEndpoint?.route}'`),
      );
    });

    it("the subscription takes the event types the code trusts, retries 24 h, dead-letters by identity", () => {
      expect(eventGridTrigger).toBeDefined();
      const created = only(subscription, "Microsoft.EventGrid/systemTopics/eventSubscriptions");
      expect(created.properties.destination.endpointType).toBe("AzureFunction");
      expect(created.properties.destination.properties.resourceId).toMatch(
        new RegExp(`/functions/${eventGridTrigger?.name}$`),
      );
      expect(created.properties.filter.includedEventTypes).toEqual([...ACR_EVENT_TYPES]);
      expect(created.properties.retryPolicy).toEqual({
        maxDeliveryAttempts: 30,
        eventTimeToLiveInMinutes: 1440,
      });
      const deadLetter = created.properties.deadLetterWithResourceIdentity;
      expect(deadLetter.identity.type).toBe("SystemAssigned");
      expect(deadLetter.deadLetterDestination.properties.blobContainerName).toBe(
        defaults.outputs.AZURE_EVENTGRID_DEADLETTER_CONTAINER,
      );
      const containers = ofType(
        defaults,
        "Microsoft.Storage/storageAccounts/blobServices/containers",
      ).map(childName);
      expect(containers).toContain(defaults.outputs.AZURE_EVENTGRID_DEADLETTER_CONTAINER);
    });

    it("the webhook reader role is one per registry group, its name and GUID unique in the tenant (the group and its subscription)", () => {
      const role = (deployment: Snapshot) =>
        only(deployment, "Microsoft.Authorization/roleDefinitions");
      const here = role(connected);
      expect(here.properties.roleName).toContain(REGISTRY_PARAMS.registryResourceGroup);
      expect(here.properties.roleName).toContain(SNAPSHOT_SCOPE.subscriptionId);
      // Every environment trusting a registry of that group shares the role.
      expect(role(secondEnvironment).name).toBe(here.name);
      expect(role(secondEnvironment).properties.roleName).toBe(here.properties.roleName);
      // A group of the same name in another subscription has a role of its own.
      const there = role(otherSubscription);
      expect(there.properties.roleName).toContain(OTHER_SUBSCRIPTION);
      expect(there.properties.roleName).not.toBe(here.properties.roleName);
      expect(there.name).not.toBe(here.name);
    });

    it("a system topic the registry has is used as it is, never re-created (its identity and tags kept)", () => {
      expect(ofType(existingTopic, "Microsoft.EventGrid/systemTopics")).toEqual([]);
      expect(existingTopic.outputs.AZURE_ACR_SYSTEM_TOPIC_NAME).toBe("evgt-existing");
      // Its own system-assigned identity writes dead letters and sends to the queue.
      const topicId = `/subscriptions/${SNAPSHOT_SCOPE.subscriptionId}/resourceGroups/${REGISTRY_PARAMS.registryResourceGroup}/providers/Microsoft.EventGrid/systemTopics/evgt-existing`;
      const grants = roleAssignmentsOf(existingTopic).filter((a) =>
        a.principalId.includes(topicId),
      );
      expect(grants.map((a) => a.roleId).sort()).toEqual(
        [ROLE.storageBlobDataContributor, ROLE.serviceBusDataSender].sort(),
      );
      // Without a name, the registry has none: evgt-<registry> is created.
      expect(only(connected, "Microsoft.EventGrid/systemTopics").name).toBe("evgt-myregistry");
    });

    it("the system topic's identity may write dead letters", () => {
      const topic = only(connected, "Microsoft.EventGrid/systemTopics");
      expect(topic.identity?.type).toBe("SystemAssigned");
      const writers = roleAssignmentsOf(connected).filter((a) => a.principalId.includes(topic.id));
      expect(writers.map((a) => [a.roleId, a.scopeType])).toEqual([
        [
          ROLE.storageBlobDataContributor,
          "Microsoft.Storage/storageAccounts/blobServices/containers",
        ],
      ]);
    });
  });

  describe("module deployments", () => {
    it("each is named after the environment (the resource token): environments sharing a resource group do not overwrite each other's", () => {
      const modules = main.resources.filter((r) => r.type === "Microsoft.Resources/deployments");
      expect(modules.length).toBeGreaterThan(10);
      for (const module of modules) {
        expect(module.name, module.name).toMatch(
          /^\[format\('[a-z-]+-\{0\}.*', variables\('resourceToken'\)/,
        );
      }
    });
  });

  describe("who may deploy", () => {
    it("the roles the README's prerequisites name may write all the deployment writes: first in the bridge's group, then in a registry's", () => {
      const prerequisites =
        /\*\*Prerequisites\.\*\*([\s\S]*?)\n\n/.exec(read("README.md"))?.[1] ?? "";
      const named = [
        ...prerequisites.matchAll(/Owner, or Contributor plus\s+([A-Z][A-Za-z\s]*?Administrator)/g),
      ].map((match) => match[1].replace(/\s+/g, " "));
      expect(named.length).toBeGreaterThan(0);
      const bridgeGroup = String(connected.outputs.AZURE_RESOURCE_GROUP);
      const writes = writesByGroup(connected);
      expect([...writes.keys()].sort()).toEqual(
        [bridgeGroup, REGISTRY_PARAMS.registryResourceGroup].sort(),
      );
      for (const [group, actions] of writes) {
        const helper = group === bridgeGroup ? named[0] : named[named.length - 1];
        for (const action of actions) {
          expect(permits(["Owner"], action), action).toBe(true);
          expect(permits(["Contributor", helper], action), `${group}: ${action}`).toBe(true);
        }
      }
    });
  });

  describe("azd down deletes only the bridge's resource group, and no registry is in it", () => {
    it("azure.yaml requires an azd whose down deletes only the groups the deployment created (1.24.0), as the README says", () => {
      expect(parseYaml(read("azure.yaml")).requiredVersions.azd).toBe(">= 1.24.0");
      expect(read("README.md")).toMatch(
        /\*\*Prerequisites\.\*\* \[azd\]\([^)]+\) 1\.24\.0 or later/,
      );
    });

    it("the deployment creates the bridge's group alone; a connected registry's group is only deployed into", () => {
      const groups = ofType(connected, "Microsoft.Resources/resourceGroups");
      expect(groups.map((group) => group.name)).toEqual([connected.outputs.AZURE_RESOURCE_GROUP]);
      const registrySide = connected.predictedResources.filter((resource) =>
        resource.id.includes(`/resourceGroups/${REGISTRY_PARAMS.registryResourceGroup}/`),
      );
      expect(registrySide.length).toBeGreaterThan(0);
    });

    it("provisioning refuses a registry without its group, or in the bridge's own group", async () => {
      const refused = (params: Record<string, unknown>) =>
        snapshot(cli, "infra/main.bicep", { ...BASE_PARAMS, ...params });
      const inBridgeGroup = `/subscriptions/${SNAPSHOT_SCOPE.subscriptionId}/resourceGroups/rg-test/providers/Microsoft.ContainerRegistry/registries/other`;
      await Promise.all([
        expect(refused({ registryName: "myregistry" })).rejects.toThrow(/registryResourceGroup/),
        expect(
          refused({ registryName: "myregistry", registryResourceGroup: "RG-Test" }),
        ).rejects.toThrow(/would be deleted with it by azd down/),
        expect(refused({ additionalAcrResourceIds: inBridgeGroup })).rejects.toThrow(
          /would be deleted with it by azd down/,
        ),
      ]);
    }, 30_000);
  });

  describe("azd: azure.yaml, parameters", () => {
    const azureYaml = parseYaml(read("azure.yaml"));
    const parameters = AZD_PARAMETERS;

    it("azure.yaml: service api is this TypeScript function app; infra is infra/main.bicep at subscription scope", () => {
      const api = azureYaml.services.api;
      expect(api).toMatchObject({ language: "ts", host: "function" });
      for (const file of ["package.json", "host.json"]) {
        expect(existsSync(join(ROOT, api.project, file)), file).toBe(true);
      }
      expect(existsSync(join(ROOT, azureYaml.infra.path, `${azureYaml.infra.module}.bicep`))).toBe(
        true,
      );
      expect(
        existsSync(join(ROOT, azureYaml.infra.path, `${azureYaml.infra.module}.parameters.json`)),
      ).toBe(true);
      expect((main as unknown as { $schema: string }).$schema).toContain(
        "subscriptionDeploymentTemplate",
      );
    });

    it("azure.yaml: every hook runs a script that exists", () => {
      const hooks = Object.entries(azureYaml.hooks ?? {}) as [
        string,
        Record<string, { run: string }>,
      ][];
      expect(hooks.length).toBeGreaterThan(0);
      for (const [hook, platforms] of hooks) {
        for (const [platform, { run }] of Object.entries(platforms)) {
          const script = run.split(/\s+/).find((word) => word.startsWith("./"));
          if (script)
            expect(existsSync(join(ROOT, script)), `${hook} ${platform}: ${run}`).toBe(true);
        }
      }
    });

    it("main.parameters.json: only main.bicep's parameters, only azd substitutions, no secret", () => {
      for (const [name, { value }] of Object.entries(parameters)) {
        const param = main.parameters[name];
        expect(param, name).toBeDefined();
        expect(param.type, `${name} is secure`).not.toMatch(/^secure/);
        expect(value, name).toMatch(/^\$\{[A-Z_][A-Z0-9_]*(=[^}]*)?\}$/);
      }
    });

    it("every parameter but the generated secrets comes from a variable: AZURE_ and its name in upper snake case, or as the README's first rows say", () => {
      const exceptions = new Map([
        ["environmentName", "AZURE_ENV_NAME"],
        ...readmeParameterRows()
          .slice(0, 5)
          .flatMap((row) => row.pairs),
      ]);
      expect(exceptions.size).toBe(6);
      for (const [name, param] of Object.entries(main.parameters)) {
        if (param.type.startsWith("secure")) {
          expect(parameters, name).not.toHaveProperty(name);
          continue;
        }
        expect(parameters, `${name}: azd would ignore infra.parameters.${name}`).toHaveProperty(
          name,
        );
        const expected = exceptions.get(name) ?? `AZURE_${upperSnakeCase(name)}`;
        expect(substitution(name).variable, name).toBe(expected);
      }
    });

    it("a default main.parameters.json gives (after VAR=) is main.bicep's", () => {
      let compared = 0;
      for (const name of Object.keys(parameters)) {
        const { fallback } = substitution(name);
        if (fallback === undefined) continue;
        compared++;
        const param = main.parameters[name];
        expect(param, name).toHaveProperty("defaultValue");
        expect(asParameterValue(param, fallback), name).toEqual(param.defaultValue);
      }
      expect(compared).toBeGreaterThan(0);
    });

    it("the README's Parameters table names each parameter's variable and default as deployed", () => {
      const rows = readmeParameterRows();
      expect(rows.length).toBeGreaterThan(20);
      let defaults = 0;
      for (const { pairs, defaults: documented } of rows) {
        for (const [name, variable] of pairs) {
          expect(main.parameters, name).toHaveProperty(name);
          expect(substitution(name).variable, name).toBe(variable);
        }
        // One literal per parameter; placeholders such as `evgt-<registry>` are not compared.
        if (documented.length !== pairs.length) continue;
        pairs.forEach(([name], i) => {
          if (documented[i].includes("<")) return;
          defaults++;
          expect(documented[i], name).toBe(bicepDefault(main.parameters[name]));
        });
      }
      expect(defaults).toBeGreaterThan(10);
    });

    it("no variable is also an output (azd writes outputs back to .env), but one that echoes its parameter", () => {
      for (const name of Object.keys(parameters)) {
        const { variable } = substitution(name);
        if (!(variable in main.outputs)) continue;
        expect(main.outputs[variable], variable).toMatchObject({
          value: `[parameters('${name}')]`,
        });
      }
    });

    it("every required parameter of main.bicep gets a value from azd; the secrets are secure", () => {
      for (const [name, param] of Object.entries(main.parameters)) {
        if ("defaultValue" in param || name in parameters) continue;
        expect(param.metadata?.azd?.type, `${name} has no value`).toBe("generate");
      }
      expect(main.parameters.webhookSecret.type).toBe("securestring");
      expect(main.parameters.eventgridSecret.type).toBe("securestring");
    });
  });

  describe("the postdeploy hooks and the README name what exists", () => {
    const sh = read("infra/hooks/postdeploy.sh");
    const ps1 = read("infra/hooks/postdeploy.ps1");
    const AZD_PROVIDED = new Set(["AZURE_ENV_NAME", "AZURE_SUBSCRIPTION_ID"]);
    const OPTIONS = new Set(["AZURE_EVENTGRID_ENDPOINT_TYPE"]);
    const used = (text: string, pattern: RegExp) =>
      new Set([...text.matchAll(pattern)].map((m) => m[1]));

    it("the hooks read only main.bicep's outputs, azd's own variables and their documented option", () => {
      const shVars = used(sh, /\b(AZURE_[A-Z0-9_]+)\b/g);
      for (const name of shVars) {
        const known =
          name in main.outputs || AZD_PROVIDED.has(name) || OPTIONS.has(name) || MAPPED.has(name);
        expect(known, name).toBe(true);
      }
      expect(used(ps1, /\b(AZURE_[A-Z0-9_]+)\b/g)).toEqual(shVars);
    });

    it("the hooks deploy eventgrid-subscription.bicep with its parameters", () => {
      expect(sh).toContain("../app/eventgrid-subscription.bicep");
      expect(ps1).toContain("../app/eventgrid-subscription.bicep");
      const written = used(sh, /^\s*"(\w+)": \{ "value"/gm);
      expect(used(ps1, /^\s*(\w+)\s*=\s*@\{ value =/gm)).toEqual(written);
      for (const name of written)
        expect(subscriptionTemplate.parameters, name).toHaveProperty(name);
      for (const [name, param] of Object.entries(subscriptionTemplate.parameters)) {
        if (!("defaultValue" in param)) expect(written, name).toContain(name);
      }
    });

    it("the README's Deploy section names only outputs and parameters that exist", () => {
      const readme = read("README.md");
      const deploy = /\n## Deploy\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
      expect(deploy).not.toBe("");
      const settings = appSettingsOf(defaults);
      for (const match of deploy.matchAll(/`(AZURE_[A-Z0-9_]+)`/g)) {
        const name = match[1];
        if (AZD_PROVIDED.has(name) || ["AZURE_LOCATION", "AZURE_PRINCIPAL_ID"].includes(name))
          continue;
        const known =
          name in main.outputs || MAPPED.has(name) || name in settings || OPTIONS.has(name);
        expect(known, name).toBe(true);
      }
      // azd reads infra.parameters.<name> only for a parameter without a default and not mapped
      // in main.parameters.json: for any other, setting it does nothing.
      for (const match of deploy.matchAll(/infra\.parameters\.(\w+)/g)) {
        expect(main.parameters, match[1]).toHaveProperty(match[1]);
        expect(main.parameters[match[1]], match[1]).not.toHaveProperty("defaultValue");
        expect(AZD_PARAMETERS, match[1]).not.toHaveProperty(match[1]);
      }
    });
  });
});

describe.skipIf(process.platform === "win32")("postdeploy.sh with a stand-in az", () => {
  const dir = mkdtempSync(join(tmpdir(), "postdeploy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, "az.log");
  const az = join(dir, "az");
  writeFileSync(
    az,
    `#!/bin/sh\necho "$*" >>"${log}"\nfor arg in "$@"; do case $arg in @*) cat "\${arg#@}" >>"${log}";; esac; done\n` +
      `case "$*" in *"keyvault secret show"*) echo "first-Secret,second";; esac\n`,
  );
  chmodSync(az, 0o755);
  const outputs: Env = {
    AZURE_ENV_NAME: "dev",
    AZURE_FUNCTION_APP_NAME: "func-api-x",
    AZURE_FUNCTION_APP_ID:
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/func-api-x",
    AZURE_ACR_WEBHOOK_URL: "https://h/api/acr/webhook",
    AZURE_EVENTGRID_ENDPOINT_URL: "https://h/api/eventgrid",
    AZURE_SERVICEBUS_NAMESPACE: "sb-x.servicebus.windows.net",
    AZURE_STORAGE_ACCOUNT_NAME: "stx",
    AZURE_STORAGE_ACCOUNT_ID:
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stx",
    AZURE_EVENTGRID_DEADLETTER_CONTAINER: "eventgrid-deadletter",
    AZURE_KEY_VAULT_NAME: "kv-x",
    AZURE_ACR_RESOURCE_IDS:
      "/subscriptions/s/resourceGroups/reg/providers/Microsoft.ContainerRegistry/registries/myregistry",
  };
  const runHook = (env: Env) => {
    rmSync(log, { force: true });
    const output = execFileSync("sh", [join(INFRA, "hooks/postdeploy.sh")], {
      env: { PATH: `${dir}:${process.env.PATH}`, ...outputs, ...env },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { output, calls: existsSync(log) ? readFileSync(log, "utf8") : "" };
  };

  it("does nothing on Azure without a connected registry", () => {
    const { output, calls } = runHook({});
    expect(output).toContain("no registry connected");
    expect(calls).toBe("");
  });

  it("deploys the subscription to the registry's group, to the trigger by default", () => {
    const { calls } = runHook({
      AZURE_ACR_SYSTEM_TOPIC_NAME: "evgt-myregistry",
      AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP: "reg",
      AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID: "sub-2",
    });
    expect(calls).toMatch(/^deployment group create --subscription sub-2 --resource-group reg /);
    expect(calls).toContain("eventgrid-subscription.bicep");
    const parameters = JSON.parse(calls.slice(calls.indexOf("{"))).parameters;
    expect(parameters.systemTopicName.value).toBe("evgt-myregistry");
    expect(parameters.subscriptionName.value).toBe("acr-event-bridge-dev");
    expect(parameters.endpointType.value).toBe("function");
    expect(parameters.webhookEndpointUrl.value).toBe("");
    expect(calls).not.toContain("keyvault");
  });

  it("names the subscription after the environment, in the characters Event Grid takes", () => {
    const { calls, output } = runHook({
      AZURE_ENV_NAME: `team_a.prod${"x".repeat(60)}`,
      AZURE_ACR_SYSTEM_TOPIC_NAME: "evgt-myregistry",
      AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP: "reg",
      AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID: "sub-2",
    });
    const name = JSON.parse(calls.slice(calls.indexOf("{"))).parameters.subscriptionName.value;
    expect(name).toBe(`acr-event-bridge-team-a-prod${"x".repeat(36)}`);
    expect(name).toHaveLength(64);
    expect(output).toContain(`Event Grid subscription ${name} on evgt-myregistry`);
  });

  it("in webhook mode, puts the first Event Grid secret in the URL, never on a command line", () => {
    const { calls } = runHook({
      AZURE_ACR_SYSTEM_TOPIC_NAME: "evgt-myregistry",
      AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP: "reg",
      AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID: "sub-2",
      AZURE_EVENTGRID_ENDPOINT_TYPE: "webhook",
    });
    const commandLines = calls.split("\n").filter((line) => /^(keyvault|deployment) /.test(line));
    expect(commandLines.join("\n")).not.toContain("first-Secret");
    const parameters = JSON.parse(calls.slice(calls.indexOf("{"))).parameters;
    expect(parameters.webhookEndpointUrl.value).toBe("https://h/api/eventgrid?key=first-Secret");
  });
});

describe("README: the Deploy section", () => {
  it("sits between Settings and Messages on the topics", () => {
    const readme = read("README.md");
    const order = ["## Settings", "## Deploy", "## Messages on the topics"].map((h) =>
      readme.indexOf(`\n${h}\n`),
    );
    expect(order.every((index) => index >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});
