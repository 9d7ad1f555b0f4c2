/**
 * The Azure deployment (azure.yaml, infra/) against the code. No Bicep compiler or azd runs here,
 * so a small reader of the Bicep this project writes stands in for the compiler's structural
 * checks, and everything the deployment must provide is derived from the code itself: the
 * settings the loaders in src/config.ts read (by running them) and src/ reads otherwise, the
 * topics and queue the routing and journal default to, the tables of tableLayout.ts, the Table
 * Storage and Service Bus calls in src/ (by the SDKs' own method lists), the functions' routes.
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
import { dirname, join, relative, resolve } from "node:path";
import { CronExpressionParser } from "cron-parser";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import * as tableLayout from "../../src/adapters/tableLayout";
import { REPLAY_JOBS_TABLE } from "../../src/adapters/tableReplayJobs";
import { SOURCE_WATCH_TABLE } from "../../src/adapters/tableSourceWatch";
import * as config from "../../src/config";
import { ACR_EVENT_TYPES } from "../../src/core/eventGridTrust";

const ROOT = resolve(__dirname, "../..");
const INFRA = join(ROOT, "infra");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

type Env = Record<string, string | undefined>;

// ================================================================================================
// A reader for the Bicep in infra/: declarations, objects, arrays, and the few expressions whose
// value is known before deployment (literals, vars, parameter defaults, string(), ternaries).
// ================================================================================================

/** Index just past the string literal that starts at `start` (`'...'`, `'''...'''`, `${}` inside). */
function skipString(text: string, start: number): number {
  if (text.startsWith("'''", start)) {
    const end = text.indexOf("'''", start + 3);
    if (end < 0) throw new Error(`unterminated ''' string at ${start}`);
    return end + 3;
  }
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\") i += 2;
    else if (c === "'") return i + 1;
    else if (c === "$" && text[i + 1] === "{") i = matchBracket(text, i + 1) + 1;
    else i++;
  }
  throw new Error(`unterminated string at ${start}`);
}

/** Index of the bracket closing the one at `open`, strings skipped. */
function matchBracket(text: string, open: number): number {
  const closing: Record<string, string> = { "{": "}", "[": "]", "(": ")" };
  const stack: string[] = [];
  let i = open;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      i = skipString(text, i);
      continue;
    }
    if (c in closing) stack.push(closing[c]);
    else if (c === "}" || c === "]" || c === ")") {
      if (stack.pop() !== c) throw new Error(`unbalanced ${c} at ${i}`);
      if (stack.length === 0) return i;
    }
    i++;
  }
  throw new Error(`no bracket closes the one at ${open}`);
}

function stripComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === "'") {
      const end = skipString(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (text.startsWith("//", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
    } else out += text[i++];
  }
  return out;
}

/** Splits at depth 0 on newlines and commas: the members of an object or array body. */
function splitMembers(body: string): string[] {
  const members: string[] = [];
  let start = 0;
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (c === "'") i = skipString(body, i);
    else if (c === "{" || c === "[" || c === "(") i = matchBracket(body, i) + 1;
    else if (c === "\n" || c === ",") {
      members.push(body.slice(start, i));
      start = ++i;
    } else i++;
  }
  members.push(body.slice(start));
  return members.map((member) => member.trim()).filter((member) => member !== "");
}

function unquote(literal: string): string {
  return literal.slice(1, -1).replace(/\\(.)/g, "$1");
}

/** The entries of an object literal `{ ... }`, values as source text. */
function objectEntries(text: string): Map<string, string> {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) throw new Error(`not an object: ${trimmed.slice(0, 40)}`);
  const entries = new Map<string, string>();
  for (const member of splitMembers(trimmed.slice(1, matchBracket(trimmed, 0)))) {
    const match = /^('(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$]*)\s*:\s*([\s\S]*)$/.exec(member);
    if (!match) throw new Error(`not an object member: ${member}`);
    const key = match[1].startsWith("'") ? unquote(match[1]) : match[1];
    entries.set(key, match[2].trim());
  }
  return entries;
}

function arrayItems(text: string): string[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith("[")) throw new Error(`not an array: ${trimmed.slice(0, 40)}`);
  return splitMembers(trimmed.slice(1, matchBracket(trimmed, 0)));
}

interface Param {
  name: string;
  type: string;
  defaultText?: string;
  decorators: string;
}

interface Deployable {
  symbol: string;
  /** Resource type (`Microsoft.X/y`) or module path. */
  target: string;
  existing: boolean;
  condition?: string;
  /** `for item in source` or `for (item, index) in source`. */
  loop?: { item: string; index?: string; source: string };
  body: string;
}

interface BicepFile {
  path: string;
  params: Map<string, Param>;
  vars: Map<string, string>;
  outputs: Map<string, string>;
  resources: Deployable[];
  modules: Deployable[];
  targetScope: string;
}

/** `= if (c) {...}`, `= [for x in xs: {...}]`, `= [for x in xs: if (c) {...}]`, `= {...}`. */
function deployable(symbol: string, target: string, existing: boolean, value: string): Deployable {
  let rest = value.trim();
  let loop: Deployable["loop"];
  if (rest.startsWith("[")) {
    rest = rest.slice(1, matchBracket(rest, 0)).trim();
    const header = /^for\s+(\w+|\(\s*\w+\s*,\s*\w+\s*\))\s+in\s+/.exec(rest);
    if (!header) throw new Error(`${symbol}: unreadable loop`);
    rest = rest.slice(header[0].length);
    let i = 0;
    while (rest[i] !== ":") {
      if (rest[i] === "(" || rest[i] === "[") i = matchBracket(rest, i);
      i++;
    }
    const [item, index] = header[1].replace(/[()\s]/g, "").split(",");
    loop = { item, index, source: rest.slice(0, i).trim() };
    rest = rest.slice(i + 1).trim();
  }
  let condition: string | undefined;
  const conditional = /^if\s*\(/.exec(rest);
  if (conditional) {
    const open = conditional[0].length - 1;
    const close = matchBracket(rest, open);
    condition = rest.slice(open + 1, close).trim();
    rest = rest.slice(close + 1).trim();
  }
  if (!rest.startsWith("{")) throw new Error(`${symbol}: no body`);
  return {
    symbol,
    target,
    existing,
    condition,
    loop,
    body: rest.slice(0, matchBracket(rest, 0) + 1),
  };
}

const bicepCache = new Map<string, BicepFile>();

function bicep(path: string): BicepFile {
  const cached = bicepCache.get(path);
  if (cached) return cached;
  const text = stripComments(read(path));
  const file: BicepFile = {
    path,
    params: new Map(),
    vars: new Map(),
    outputs: new Map(),
    resources: [],
    modules: [],
    targetScope: "resourceGroup",
  };
  let decorators = "";
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++;
      continue;
    }
    // One statement: to the end of its line, brackets and strings included.
    let end = i;
    while (end < text.length && text[end] !== "\n") {
      if (text[end] === "'") end = skipString(text, end);
      else if (text[end] === "{" || text[end] === "[" || text[end] === "(")
        end = matchBracket(text, end) + 1;
      else end++;
    }
    const statement = text.slice(i, end).trim();
    i = end;
    if (statement.startsWith("@")) {
      decorators += `${statement}\n`;
      continue;
    }
    const [keyword] = statement.split(/\s/, 1);
    let match: RegExpExecArray | null;
    if (keyword === "param") {
      match = /^param\s+(\w+)\s+([^=]+?)(?:\s*=\s*([\s\S]+))?$/.exec(statement);
      if (!match) throw new Error(`${path}: unreadable ${statement}`);
      file.params.set(match[1], {
        name: match[1],
        type: match[2].trim(),
        defaultText: match[3]?.trim(),
        decorators,
      });
    } else if (keyword === "var") {
      match = /^var\s+(\w+)\s*=\s*([\s\S]+)$/.exec(statement);
      if (!match) throw new Error(`${path}: unreadable ${statement}`);
      file.vars.set(match[1], match[2].trim());
    } else if (keyword === "output") {
      match = /^output\s+(\w+)\s+\w+\s*=\s*([\s\S]+)$/.exec(statement);
      if (!match) throw new Error(`${path}: unreadable ${statement}`);
      file.outputs.set(match[1], match[2].trim());
    } else if (keyword === "resource") {
      match = /^resource\s+(\w+)\s+'([^'@]+)@[^']+'\s+(existing\s+)?=\s*([\s\S]+)$/.exec(statement);
      if (!match) throw new Error(`${path}: unreadable ${statement}`);
      file.resources.push(deployable(match[1], match[2], Boolean(match[3]), match[4]));
    } else if (keyword === "module") {
      match = /^module\s+(\w+)\s+'([^']+)'\s*=\s*([\s\S]+)$/.exec(statement);
      if (!match) throw new Error(`${path}: unreadable ${statement}`);
      file.modules.push(deployable(match[1], match[2], false, match[3]));
    } else if (keyword === "targetScope") {
      file.targetScope = unquote(statement.split("=")[1].trim());
    } else if (keyword !== "metadata") {
      throw new Error(`${path}: unexpected statement ${statement.slice(0, 60)}`);
    }
    decorators = "";
  }
  bicepCache.set(path, file);
  return file;
}

function moduleFile(from: BicepFile, module: Deployable): BicepFile {
  return bicep(relative(ROOT, join(ROOT, dirname(from.path), module.target)));
}

type Value = string | number | boolean | Value[] | { [key: string]: Value | undefined };

/** The value of an expression if it is known before deployment, else undefined. */
function evaluate(file: BicepFile, expression: string): Value | undefined {
  const text = expression.trim();
  // A ternary at depth 0: `condition ? a : b`.
  let question = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") i = skipString(text, i) - 1;
    else if (c === "(" || c === "[" || c === "{") i = matchBracket(text, i);
    else if (c === "?" && text[i + 1] !== "?" && text[i + 1] !== "." && text[i - 1] !== "?") {
      question = i;
      break;
    }
  }
  if (question > 0) {
    let colon = question + 1;
    while (colon < text.length && text[colon] !== ":") {
      if (text[colon] === "'") colon = skipString(text, colon) - 1;
      else if ("([{".includes(text[colon])) colon = matchBracket(text, colon);
      colon++;
    }
    const condition = evaluate(file, text.slice(0, question));
    if (typeof condition !== "boolean") return undefined;
    return evaluate(file, condition ? text.slice(question + 1, colon) : text.slice(colon + 1));
  }
  if (/^'(?:[^'\\$]|\\.|\$(?!\{))*'$/.test(text)) return unquote(text);
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  if (text.startsWith("{")) {
    const object: { [key: string]: Value | undefined } = {};
    for (const [key, value] of objectEntries(text)) object[key] = evaluate(file, value);
    return object;
  }
  if (text.startsWith("[") && !text.startsWith("[for")) {
    const items = arrayItems(text).map((item) => evaluate(file, item));
    return items.every((item) => item !== undefined) ? (items as Value[]) : undefined;
  }
  const call = /^(\w+)\(([\s\S]*)\)$/.exec(text);
  if (call && matchBracket(text, call[1].length) === text.length - 1) {
    const argument = evaluate(file, call[2]);
    if (call[1] === "string" && argument !== undefined) {
      // ARM's string(): booleans become 'True' and 'False'.
      if (typeof argument === "boolean") return argument ? "True" : "False";
      return typeof argument === "object" ? JSON.stringify(argument) : String(argument);
    }
    return undefined;
  }
  const member = /^(\w+)((?:\.\w+)*)$/.exec(text);
  if (member) {
    let value: Value | undefined;
    const variable = file.vars.get(member[1]);
    const param = file.params.get(member[1]);
    if (variable !== undefined) value = evaluate(file, variable);
    else if (param?.defaultText !== undefined) value = evaluate(file, param.defaultText);
    for (const key of member[2].split(".").slice(1)) {
      value =
        value !== undefined && typeof value === "object" && !Array.isArray(value)
          ? value[key]
          : undefined;
    }
    return value;
  }
  return undefined;
}

/** The expression with every string literal replaced by the interpolations inside it. */
function codeOnly(expression: string): string {
  let out = "";
  let i = 0;
  while (i < expression.length) {
    if (expression[i] !== "'") {
      out += expression[i++];
      continue;
    }
    const end = skipString(expression, i);
    let j = i + 1;
    out += "''";
    while (j < end - 1) {
      if (expression[j] === "\\") j += 2;
      else if (expression[j] === "$" && expression[j + 1] === "{") {
        const close = matchBracket(expression, j + 1);
        out += ` (${codeOnly(expression.slice(j + 2, close))}) `;
        j = close + 1;
      } else j++;
    }
    i = end;
  }
  return out;
}

function bicepFiles(dir = INFRA): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".bicep"))
    .map((name) => relative(ROOT, join(dir, name)))
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
  // The identity-based connection of the acrEventGridQueue trigger (`connection: "SERVICEBUS_CONNECTION"`).
  /^SERVICEBUS_CONNECTION__(fullyQualifiedNamespace|credential|clientId)$/,
  /^WEBSITE_\w+$/,
];
const isHostSetting = (name: string) => HOST_SETTINGS.some((pattern) => pattern.test(name));

/** Connection strings: read by the code, the local way; in Azure they would win over the identity. */
const LOCAL_ONLY: Record<string, string> = {
  TABLES_CONNECTION: "TABLES_ENDPOINT",
  SERVICEBUS_CONNECTION: "SERVICEBUS_NAMESPACE",
};

/** Settings of the local stack (`npm start`), read in dev/, never deployed. */
const LOCAL_STACK_SETTINGS: Record<string, string> = {
  PORT: "dev/start.ts",
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
const CODE_TABLES = new Set([
  ...Object.entries(tableLayout)
    .filter(([name, value]) => name.endsWith("_TABLE") && typeof value === "string")
    .map(([, value]) => value as string),
  // The operator features' own tables (replay jobs, source watch).
  REPLAY_JOBS_TABLE,
  SOURCE_WATCH_TABLE,
]);

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

const STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts";
const SERVICE_BUS = "Microsoft.ServiceBus/namespaces";

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

/** Method names declared directly in the body of `export declare class|interface <type>`. */
function declaredMethods(dtsPath: string, type: string): string[] {
  const text = read(dtsPath).replace(/\/\*[\s\S]*?\*\//g, "");
  const header = new RegExp(`export declare (?:class|interface) ${type}\\b[^{]*\\{`).exec(text);
  if (!header) throw new Error(`${type} not found in ${dtsPath}`);
  const open = header.index + header[0].length - 1;
  const body = text.slice(open + 1, matchBracket(text, open));
  const methods = new Set<string>();
  let depth = 0;
  for (const line of body.split("\n")) {
    const name = /^\s*(\w+)\??(?:<[^(]*>)?\(/.exec(line)?.[1];
    if (depth === 0 && name && name !== "constructor") methods.add(name);
    for (const c of line) depth += c === "{" || c === "(" ? 1 : c === "}" || c === ")" ? -1 : 0;
  }
  return [...methods];
}

interface RoleAssignment {
  symbol: string;
  roleIds: string[];
  principal: string;
  scopeType: string;
  conditional: boolean;
}

/** Role assignments of a file, role ids resolved through its vars and loops. */
function roleAssignments(file: BicepFile): RoleAssignment[] {
  const symbols = new Map(file.resources.map((resource) => [resource.symbol, resource]));
  return file.resources
    .filter((resource) => resource.target === "Microsoft.Authorization/roleAssignments")
    .map((resource) => {
      const body = objectEntries(resource.body);
      const properties = objectEntries(body.get("properties") ?? "{}");
      const roleArgument =
        /,\s*([^,()]+)\)$/.exec(properties.get("roleDefinitionId") ?? "")?.[1] ?? "";
      const roleIds =
        resource.loop && roleArgument.trim() === resource.loop.item
          ? evaluate(file, resource.loop.source)
          : [evaluate(file, roleArgument)];
      const scope = symbols.get(body.get("scope") ?? "");
      return {
        symbol: resource.symbol,
        roleIds: (Array.isArray(roleIds) ? roleIds : []).map(String),
        principal: properties.get("principalId") ?? "",
        scopeType: scope?.target ?? "resourceGroup",
        conditional: resource.condition !== undefined,
      };
    });
}

// ----- the deployment -----

const MAIN = bicep("infra/main.bicep");
const APP_SETTINGS = objectEntries(MAIN.vars.get("appSettings") ?? "{}");
const RBAC_MODULE = MAIN.modules.find((module) => module.target === "./app/rbac.bicep");
const RBAC = RBAC_MODULE ? moduleFile(MAIN, RBAC_MODULE) : undefined;
const APP_ROLES = RBAC
  ? roleAssignments(RBAC).filter((assignment) => assignment.principal === "identityPrincipalId")
  : [];

function moduleParams(module: Deployable): Map<string, string> {
  return objectEntries(objectEntries(module.body).get("params") ?? "{}");
}

function mainModule(target: string): Deployable {
  const module = MAIN.modules.find((candidate) => candidate.target === target);
  if (!module) throw new Error(`infra/main.bicep has no module ${target}`);
  return module;
}

/** Loader outcomes for an environment, by loader. */
function interpret(env: Env): Record<string, unknown> {
  return Object.fromEntries(LOADERS.map(([name, loader]) => [name, run(loader, env)]));
}

const camelCase = (setting: string) =>
  setting.toLowerCase().replace(/_([a-z0-9])/g, (_match, c: string) => c.toUpperCase());

// ================================================================================================

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
});

describe("settings: code, infra/main.bicep and local.settings.sample.json agree", () => {
  const infraSettings = new Set(APP_SETTINGS.keys());

  it("infra sets every setting the code reads, except the connection strings", () => {
    const missing = [...CODE_SETTINGS].filter(
      (setting) => !(setting in LOCAL_ONLY) && !infraSettings.has(setting),
    );
    expect(missing, "read by src/, not set in infra/main.bicep appSettings").toEqual([]);
    for (const local of Object.keys(LOCAL_ONLY)) expect(infraSettings).not.toContain(local);
  });

  it("the sample declares every setting the code reads, except the Azure-only ones", () => {
    const missing = [...CODE_SETTINGS].filter(
      (setting) => !(setting in AZURE_ONLY) && !(setting in SAMPLE),
    );
    expect(missing, "read by src/, missing from local.settings.sample.json").toEqual([]);
  });

  it("the Azure-only settings are read by the code and set in infra", () => {
    for (const setting of Object.keys(AZURE_ONLY)) {
      expect(CODE_SETTINGS, setting).toContain(setting);
      expect(infraSettings, setting).toContain(setting);
    }
  });

  it("infra sets nothing the code does not read, but the host's own settings", () => {
    const unknown = [...infraSettings].filter((s) => !CODE_SETTINGS.has(s) && !isHostSetting(s));
    expect(unknown).toEqual([]);
  });

  it("the sample declares nothing the code does not read, but the host's own settings", () => {
    const unknown = Object.keys(SAMPLE).filter(
      (s) => !CODE_SETTINGS.has(s) && !isHostSetting(s) && !(s in LOCAL_STACK_SETTINGS),
    );
    expect(unknown).toEqual([]);
  });

  it("the local-only settings of the sample are read by the local stack in dev/", () => {
    for (const [setting, file] of Object.entries(LOCAL_STACK_SETTINGS)) {
      expect(read(file)).toContain(setting);
      expect(infraSettings).not.toContain(setting);
    }
  });

  it("nothing Flex Consumption refuses, storage by identity only", () => {
    for (const setting of FLEX_REJECTED) expect(infraSettings).not.toContain(setting);
    expect(APP_SETTINGS.get("AzureWebJobsStorage__credential")).toBe("'managedidentity'");
    for (const service of ["blob", "queue", "table"]) {
      expect(infraSettings).toContain(`AzureWebJobsStorage__${service}ServiceUri`);
    }
    expect(APP_SETTINGS.get("AzureWebJobsStorage__clientId")).toBe(
      APP_SETTINGS.get("AZURE_CLIENT_ID"),
    );
    expect(APP_SETTINGS.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")).toMatch(
      /^'ClientId=\$\{identity\.outputs\.clientId\};Authorization=AAD'$/,
    );
  });

  it("secrets come from Key Vault references, never from a value", () => {
    const secrets = [...infraSettings].filter((setting) => /SECRET/.test(setting));
    expect(secrets.length).toBeGreaterThan(0);
    for (const setting of secrets) {
      expect(APP_SETTINGS.get(setting)).toMatch(
        /^'@Microsoft\.KeyVault\(SecretUri=\$\{[\w.]+\}\)'$/,
      );
    }
  });

  it("every value infra knows before deployment means to the code what the code's default does", () => {
    const compared: string[] = [];
    for (const [setting, expression] of APP_SETTINGS) {
      const value = evaluate(MAIN, expression);
      if (value === undefined || !CODE_SETTINGS.has(setting)) continue;
      expect(typeof value, setting).toBe("string");
      compared.push(setting);
      expect(interpret({ ...SAMPLE, [setting]: String(value) }), setting).toEqual(
        interpret({ ...SAMPLE, [setting]: undefined }),
      );
    }
    expect(compared.length).toBeGreaterThan(0);
  });

  it("the cross-check settings are parameters named after them, defaulting to the code's defaults", () => {
    const crossCheck = SETTINGS_BY_LOADER.get("loadCrossCheckSettings") ?? new Set<string>();
    expect(crossCheck.size).toBeGreaterThan(0);
    for (const setting of crossCheck) {
      const param = MAIN.params.get(camelCase(setting));
      if (setting === "TOPIC_DISCREPANCIES") continue; // a resource name: var topics, not a parameter
      expect(param, `param ${camelCase(setting)} for ${setting}`).toBeDefined();
      expect(APP_SETTINGS.get(setting), setting).toMatch(new RegExp(`\\b${camelCase(setting)}\\b`));
      expect(evaluate(MAIN, APP_SETTINGS.get(setting) ?? ""), setting).toBeDefined();
    }
  });

  it("every main.bicep parameter named after a setting feeds that setting", () => {
    for (const setting of CODE_SETTINGS) {
      if (!MAIN.params.has(camelCase(setting))) continue;
      expect(APP_SETTINGS.get(setting), setting).toMatch(new RegExp(`\\b${camelCase(setting)}\\b`));
    }
  });

  it("RECONCILE_SCHEDULE is a six-field NCRONTAB expression", () => {
    const schedule = evaluate(MAIN, APP_SETTINGS.get("RECONCILE_SCHEDULE") ?? "");
    expect(typeof schedule).toBe("string");
    expect(String(schedule).trim().split(/\s+/)).toHaveLength(6);
    expect(() => CronExpressionParser.parse(String(schedule))).not.toThrow();
  });
});

describe("topics, queue and tables", () => {
  const serviceBus = mainModule("./core/servicebus.bicep");
  const serviceBusFile = moduleFile(MAIN, serviceBus);
  const storage = mainModule("./core/storage.bicep");
  const storageFile = moduleFile(MAIN, storage);
  const localTopology = JSON.parse(read("dev/servicebus/Config.json")).UserConfig.Namespaces[0];

  function resource(file: BicepFile, type: string): Deployable {
    const found = file.resources.find(
      (candidate) => candidate.target === type && !candidate.existing,
    );
    if (!found) throw new Error(`${file.path} creates no ${type}`);
    return found;
  }
  const properties = (resource: Deployable) =>
    objectEntries(objectEntries(resource.body).get("properties") ?? "{}");

  it("every topic the code publishes to is created, with duplicate detection and `all`", () => {
    const topics = evaluate(MAIN, "topics") as Record<string, string>;
    expect(new Set(Object.values(topics))).toEqual(CODE_TOPICS);
    expect(moduleParams(serviceBus).get("topicNames")).toBe(
      "[for topic in items(topics): topic.value]",
    );
    const topic = resource(serviceBusFile, "Microsoft.ServiceBus/namespaces/topics");
    expect(topic.loop?.source).toBe("topicNames");
    expect(properties(topic).get("requiresDuplicateDetection")).toBe("true");
    expect(properties(topic).get("duplicateDetectionHistoryTimeWindow")).toBe(
      "duplicateDetectionWindow",
    );
    expect(moduleParams(serviceBus).get("duplicateDetectionWindow")).toBe(
      "duplicateDetectionWindow",
    );
    expect(MAIN.params.get("duplicateDetectionWindow")?.defaultText).toBe("'PT10M'");
    const all = resource(serviceBusFile, "Microsoft.ServiceBus/namespaces/topics/subscriptions");
    expect(all.loop?.source).toBe("topicNames");
    expect(objectEntries(all.body).get("name")).toBe("'all'");
  });

  it("the journal queue is created with duplicate detection and 100 deliveries", () => {
    expect(new Set([evaluate(MAIN, "journalQueue")])).toEqual(CODE_QUEUES);
    expect(moduleParams(serviceBus).get("queueNames")).toBe("[journalQueue]");
    const queue = resource(serviceBusFile, "Microsoft.ServiceBus/namespaces/queues");
    expect(queue.loop?.source).toBe("queueNames");
    expect(properties(queue).get("requiresDuplicateDetection")).toBe("true");
    expect(properties(queue).get("maxDeliveryCount")).toBe("2000");
  });

  it("the local topology has the same topics (each with `all`) and queue", () => {
    for (const topic of CODE_TOPICS) {
      const local = localTopology.Topics.find((t: { Name: string }) => t.Name === topic);
      expect(local, topic).toBeDefined();
      expect(local.Subscriptions.map((s: { Name: string }) => s.Name)).toContain("all");
    }
    for (const queue of CODE_QUEUES) {
      expect(localTopology.Queues.map((q: { Name: string }) => q.Name)).toContain(queue);
    }
  });

  it("every table of src/adapters/tableLayout.ts and the operator adapters is declared, and no other", () => {
    expect(CODE_TABLES.size).toBeGreaterThan(0);
    expect(new Set(evaluate(MAIN, "bridgeTables") as string[])).toEqual(CODE_TABLES);
    expect(moduleParams(storage).get("tables")).toBe("bridgeTables");
    const tables = resource(storageFile, "Microsoft.Storage/storageAccounts/tableServices/tables");
    expect(tables.loop?.source).toBe("tables");
    expect(objectEntries(tables.body).get("name")).toBe(tables.loop?.item);
  });

  it("no keys: shared-key storage, SAS on Service Bus, local auth on App Insights are off", () => {
    expect(properties(resource(storageFile, STORAGE_ACCOUNT)).get("allowSharedKeyAccess")).toBe(
      "false",
    );
    expect(properties(resource(serviceBusFile, SERVICE_BUS)).get("disableLocalAuth")).toBe("true");
    const monitoring = moduleFile(MAIN, mainModule("./core/monitoring.bicep"));
    expect(
      properties(resource(monitoring, "Microsoft.Insights/components")).get("DisableLocalAuth"),
    ).toBe("true");
    const keyVault = moduleFile(MAIN, mainModule("./core/keyvault.bicep"));
    expect(
      properties(resource(keyVault, "Microsoft.KeyVault/vaults")).get("enableRbacAuthorization"),
    ).toBe("true");
  });

  it("the Service Bus tier is Standard or Premium (topics need Standard)", () => {
    expect(MAIN.params.get("serviceBusSku")?.decorators).toContain(
      "@allowed(['Standard', 'Premium'])",
    );
  });
});

describe("roles: the identity may do every data-plane call the code makes", () => {
  const calls = SDK_OPERATIONS.map((sdk) => {
    const methods = new Set(sdk.types.flatMap((type) => declaredMethods(sdk.dts, type)));
    const used = new Set<string>();
    for (const file of sourceFiles()) {
      for (const match of readFileSync(file, "utf8").matchAll(/\.(\w+)\(/g)) {
        if (methods.has(match[1])) used.add(match[1]);
      }
    }
    return { ...sdk, methods: sdk.methods, declared: methods, used };
  });

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

  it("the app identity's assignments are unconditional and go to the identity main.bicep creates", () => {
    expect(RBAC).toBeDefined();
    expect(APP_ROLES.length).toBeGreaterThan(0);
    for (const assignment of APP_ROLES)
      expect(assignment.conditional, assignment.symbol).toBe(false);
    expect(RBAC_MODULE && moduleParams(RBAC_MODULE).get("identityPrincipalId")).toBe(
      "identity.outputs.principalId",
    );
    expect(objectEntries(mainModule("./app/api.bicep").body).get("dependsOn")).toBe("[rbac]");
  });

  it("each call is permitted by a role assigned at a scope that covers it", () => {
    for (const sdk of calls) {
      for (const method of sdk.used) {
        const permitting = sdk.methods[method] ?? [];
        if (permitting.length === 0) continue;
        const granted = APP_ROLES.some(
          (assignment) =>
            sdk.scopes.includes(assignment.scopeType) &&
            assignment.roleIds.some((role) => permitting.includes(role)),
        );
        expect(granted, `${sdk.sdk} ${method}: assign one of ${permitting.join(", ")}`).toBe(true);
      }
    }
  });

  it("the host's storage, Key Vault references and Entra telemetry have their roles", () => {
    const has = (role: string, scope: string) =>
      APP_ROLES.some((a) => a.scopeType === scope && a.roleIds.includes(role));
    const settings = [...APP_SETTINGS.keys()];
    if (settings.includes("AzureWebJobsStorage__blobServiceUri")) {
      expect(has(ROLE.storageBlobDataOwner, STORAGE_ACCOUNT)).toBe(true);
    }
    if (settings.includes("AzureWebJobsStorage__queueServiceUri")) {
      expect(has(ROLE.storageQueueDataContributor, STORAGE_ACCOUNT)).toBe(true);
    }
    if (settings.includes("AzureWebJobsStorage__tableServiceUri")) {
      expect(has(ROLE.storageTableDataContributor, STORAGE_ACCOUNT)).toBe(true);
    }
    if ([...APP_SETTINGS.values()].some((value) => value.includes("@Microsoft.KeyVault("))) {
      expect(has(ROLE.keyVaultSecretsUser, "Microsoft.KeyVault/vaults")).toBe(true);
    }
    if (settings.includes("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")) {
      expect(has(ROLE.monitoringMetricsPublisher, "Microsoft.Insights/components")).toBe(true);
    }
  });

  it("the deploying principal's assignments are all conditional on being allowed", () => {
    const user = RBAC ? roleAssignments(RBAC).filter((a) => a.principal === "userPrincipalId") : [];
    expect(user.length).toBeGreaterThan(0);
    for (const assignment of user) expect(assignment.conditional, assignment.symbol).toBe(true);
  });
});

describe("the function app", () => {
  const api = mainModule("./app/api.bicep");
  const apiFile = moduleFile(MAIN, api);
  const site = apiFile.resources.find((r) => r.target === "Microsoft.Web/sites");
  const plan = apiFile.resources.find((r) => r.target === "Microsoft.Web/serverfarms");
  const siteBody = objectEntries(site?.body ?? "{}");
  const siteProperties = objectEntries(siteBody.get("properties") ?? "{}");
  const functionAppConfig = objectEntries(siteProperties.get("functionAppConfig") ?? "{}");

  it("runs on Flex Consumption (FC1), Node 22, one always-ready instance for HTTP", () => {
    expect(objectEntries(objectEntries(plan?.body ?? "{}").get("sku") ?? "{}").get("name")).toBe(
      "'FC1'",
    );
    const runtime = objectEntries(functionAppConfig.get("runtime") ?? "{}");
    expect(runtime.get("name")).toBe("'node'");
    expect(evaluate(apiFile, runtime.get("version") ?? "")).toBe("22");
    expect(MAIN.params.get("nodeVersion")?.defaultText).toBe("'22'");
    const scale = objectEntries(functionAppConfig.get("scaleAndConcurrency") ?? "{}");
    expect(scale.get("alwaysReady")).toMatch(
      /\{\s*name:\s*'http',\s*instanceCount:\s*alwaysReadyInstances\s*\}/,
    );
    expect(MAIN.params.get("alwaysReadyInstances")?.defaultText).toBe("1");
  });

  it("uses the user-assigned identity for deployment storage and Key Vault references", () => {
    const deployment = objectEntries(
      objectEntries(functionAppConfig.get("deployment") ?? "{}").get("storage") ?? "{}",
    );
    expect(deployment.get("type")).toBe("'blobContainer'");
    const authentication = objectEntries(deployment.get("authentication") ?? "{}");
    expect(authentication.get("type")).toBe("'UserAssignedIdentity'");
    expect(authentication.get("userAssignedIdentityResourceId")).toBe("identityId");
    expect(siteProperties.get("keyVaultReferenceIdentity")).toBe("identityId");
    expect(objectEntries(siteBody.get("identity") ?? "{}").get("type")).toBe("'UserAssigned'");
  });

  it("is tagged for azd as service `api` and gets exactly main.bicep's app settings", () => {
    expect(siteBody.get("tags")).toMatch(/'azd-service-name':\s*'api'/);
    const settings = apiFile.resources.find((r) => r.target === "Microsoft.Web/sites/config");
    expect(objectEntries(settings?.body ?? "{}").get("name")).toBe("'appsettings'");
    expect(objectEntries(settings?.body ?? "{}").get("properties")).toBe("appSettings");
    expect(moduleParams(api).get("appSettings")).toBe("appSettings");
  });
});

describe("the registry link and the Event Grid subscription", () => {
  const functions = registeredFunctions();
  const webhookFunction = functions.find((f) => f.trigger === "http" && f.route === "acr/webhook");
  const eventGridEndpoint = functions.find((f) => f.trigger === "http" && f.route === "eventgrid");
  const eventGridTrigger = functions.find((f) => f.trigger === "eventGrid");
  const registry = moduleFile(MAIN, mainModule("./app/registry.bicep"));
  const webhooks = registry.resources.find(
    (r) => r.target === "Microsoft.ContainerRegistry/registries/webhooks",
  );
  const subscription = bicep("infra/app/eventgrid-subscription.bicep");

  it("one webhook per region for every action the code routes, to the webhook route", () => {
    expect(webhookFunction).toBeDefined();
    expect(webhooks?.loop?.source).toBe("regions");
    expect(evaluate(registry, registry.params.get("webhookActions")?.defaultText ?? "")).toEqual(
      Object.keys(config.DEFAULT_TOPICS),
    );
    const properties = objectEntries(
      objectEntries(webhooks?.body ?? "{}").get("properties") ?? "{}",
    );
    expect(properties.get("serviceUri")).toContain(`/api/${webhookFunction?.route}?region=`);
    expect(objectEntries(properties.get("customHeaders") ?? "{}").get("Authorization")).toBe(
      `'Bearer \${webhookSecret}'`,
    );
    expect(evaluate(MAIN, APP_SETTINGS.get("WEBHOOK_AUTH_HEADER") ?? "")).toBe("Authorization");
    expect(evaluate(MAIN, APP_SETTINGS.get("WEBHOOK_AUTH_LEVEL") ?? "")).toBe("anonymous");
    expect(objectEntries(webhooks?.body ?? "{}").get("location")).toBeDefined();
  });

  it("the outputs name the functions' real routes", () => {
    expect(MAIN.outputs.get("AZURE_ACR_WEBHOOK_URL")).toContain(`/api/${webhookFunction?.route}'`);
    expect(MAIN.outputs.get("AZURE_EVENTGRID_ENDPOINT_URL")).toContain(
      `/api/${eventGridEndpoint?.route}'`,
    );
  });

  it("the subscription takes the event types the code trusts, retries 24 h, dead-letters by identity", () => {
    expect(eventGridTrigger).toBeDefined();
    expect(evaluate(subscription, subscription.params.get("functionName")?.defaultText ?? "")).toBe(
      eventGridTrigger?.name,
    );
    const resource = subscription.resources.find((r) => !r.existing);
    const properties = objectEntries(
      objectEntries(resource?.body ?? "{}").get("properties") ?? "{}",
    );
    const filter = objectEntries(properties.get("filter") ?? "{}");
    expect(evaluate(subscription, filter.get("includedEventTypes") ?? "")).toEqual([
      ...ACR_EVENT_TYPES,
    ]);
    expect(subscription.params.get("maxDeliveryAttempts")?.defaultText).toBe("30");
    expect(subscription.params.get("eventTimeToLiveInMinutes")?.defaultText).toBe("1440");
    const deadLetter = objectEntries(properties.get("deadLetterWithResourceIdentity") ?? "{}");
    expect(objectEntries(deadLetter.get("identity") ?? "{}").get("type")).toBe("'SystemAssigned'");
    expect(evaluate(MAIN, "deadLetterContainerName")).toBe(
      evaluate(subscription, subscription.params.get("deadLetterContainerName")?.defaultText ?? ""),
    );
    expect(moduleParams(mainModule("./core/storage.bicep")).get("containers")).toContain(
      "deadLetterContainerName",
    );
  });

  it("the system topic's identity may write dead letters", () => {
    const access = moduleFile(MAIN, mainModule("./app/eventgrid-rbac.bicep"));
    const [assignment] = roleAssignments(access);
    expect(assignment.roleIds).toEqual([ROLE.storageBlobDataContributor]);
    expect(assignment.scopeType).toBe("Microsoft.Storage/storageAccounts/blobServices/containers");
    expect(assignment.principal).toBe("systemTopicPrincipalId");
  });
});

describe("azd: azure.yaml, parameters, modules, hooks", () => {
  const azureYaml = parseYaml(read("azure.yaml"));
  const parameters = JSON.parse(read("infra/main.parameters.json")).parameters as Record<
    string,
    { value: unknown }
  >;

  it("azure.yaml: service api is this TypeScript function app; infra is infra/main.bicep", () => {
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
    expect(MAIN.targetScope).toBe("subscription");
  });

  it("azure.yaml: every hook runs a script that exists", () => {
    const hooks = Object.entries(azureYaml.hooks ?? {}) as [
      string,
      Record<string, { run: string }>,
    ][];
    expect(hooks.length).toBeGreaterThan(0);
    for (const [hook, platforms] of hooks) {
      for (const [platform, { run }] of Object.entries(platforms)) {
        expect(existsSync(join(ROOT, run)), `${hook} ${platform}: ${run}`).toBe(true);
      }
    }
  });

  it("main.parameters.json: only main.bicep's parameters, only azd substitutions, no secret", () => {
    for (const [name, { value }] of Object.entries(parameters)) {
      const param = MAIN.params.get(name);
      expect(param, name).toBeDefined();
      expect(param?.decorators, `${name} is secure`).not.toContain("@secure()");
      expect(value, name).toMatch(/^\$\{[A-Z_][A-Z0-9_]*(=[^}]*)?\}$/);
    }
  });

  it("every required parameter of main.bicep gets a value from azd", () => {
    for (const param of MAIN.params.values()) {
      if (param.defaultText !== undefined || param.name in parameters) continue;
      expect(param.decorators, `${param.name} has no value`).toMatch(
        /azd:\s*\{\s*type:\s*'generate'/,
      );
    }
    expect(MAIN.params.get("webhookSecret")?.decorators).toContain("@secure()");
    expect(MAIN.params.get("eventgridSecret")?.decorators).toContain("@secure()");
  });

  it("modules exist and agree with their parameters and outputs", () => {
    const reachable = new Set(["infra/main.bicep"]);
    for (const path of bicepFiles()) {
      const file = bicep(path);
      for (const module of file.modules) {
        const target = relative(ROOT, join(ROOT, dirname(path), module.target));
        expect(existsSync(join(ROOT, target)), `${path}: module ${module.target}`).toBe(true);
        reachable.add(target);
        const child = bicep(target);
        const passed = moduleParams(module);
        for (const name of passed.keys())
          expect(child.params.has(name), `${target}: param ${name}`).toBe(true);
        for (const param of child.params.values()) {
          if (param.defaultText === undefined) {
            expect(passed.has(param.name), `${path} -> ${target}: ${param.name}`).toBe(true);
          }
        }
        for (const match of read(path).matchAll(
          new RegExp(`\\b${module.symbol}\\.outputs\\.(\\w+)`, "g"),
        )) {
          expect(child.outputs.has(match[1]), `${target}: output ${match[1]}`).toBe(true);
        }
      }
    }
    reachable.add("infra/app/eventgrid-subscription.bicep"); // deployed by the postdeploy hook
    expect(bicepFiles().filter((path) => !reachable.has(path))).toEqual([]);
  });

  it("every symbol a Bicep file uses is declared there", () => {
    const builtins = new Set(
      "az sys true false null if for in existing resourceGroup subscription tenant deployment environment".split(
        " ",
      ),
    );
    for (const path of bicepFiles()) {
      const file = bicep(path);
      const declared = new Set([
        ...file.params.keys(),
        ...file.vars.keys(),
        ...file.resources.map((r) => r.symbol),
        ...file.modules.map((m) => m.symbol),
      ]);
      const expressions = [
        ...file.vars.values(),
        ...file.outputs.values(),
        ...[...file.params.values()].map((p) => p.defaultText ?? ""),
        ...[...file.resources, ...file.modules].map(
          (d) => `${d.body} ${d.condition ?? ""} ${d.loop?.source ?? ""}`,
        ),
      ];
      const locals = new Set(
        [...file.resources, ...file.modules].flatMap((d) =>
          d.loop ? [d.loop.item, d.loop.index ?? ""] : [],
        ),
      );
      for (const expression of expressions) {
        // Identifiers in value position: not a property key, not after a dot, not a call.
        const code = codeOnly(expression);
        for (const match of code.matchAll(/(?<![.\w$'])([A-Za-z_]\w*)(?!\s*:)(?=\s*[^\w(]|$)/g)) {
          const name = match[1];
          if (declared.has(name) || builtins.has(name) || locals.has(name)) continue;
          if (
            new RegExp(
              `\\bfor\\s+\\(?\\s*${name}\\b|\\b${name}\\s*=>|,\\s*${name}\\s*\\)\\s+in\\b`,
            ).test(code)
          )
            continue;
          throw new Error(`${path}: '${name}' is not declared`);
        }
      }
    }
  });
});

describe("the postdeploy hooks", () => {
  const sh = read("infra/hooks/postdeploy.sh");
  const ps1 = read("infra/hooks/postdeploy.ps1");
  const subscription = bicep("infra/app/eventgrid-subscription.bicep");
  const AZD_PROVIDED = new Set(["AZURE_ENV_NAME", "AZURE_SUBSCRIPTION_ID"]);
  const OPTIONS = new Set(["AZURE_EVENTGRID_ENDPOINT_TYPE"]);
  /** Variables main.parameters.json maps to parameters (the hooks name them in their advice). */
  const MAPPED = new Set(
    Object.values(
      JSON.parse(read("infra/main.parameters.json")).parameters as Record<
        string,
        { value: string }
      >,
    ).flatMap(({ value }) => [...(/\$\{(\w+)/.exec(value)?.slice(1) ?? [])]),
  );
  const used = (text: string, pattern: RegExp) =>
    new Set([...text.matchAll(pattern)].map((m) => m[1]));
  const shVars = used(sh, /\b(AZURE_[A-Z0-9_]+)\b/g);
  const ps1Vars = used(ps1, /\b(AZURE_[A-Z0-9_]+)\b/g);

  it("read only main.bicep's outputs, azd's own variables and their documented option", () => {
    for (const name of shVars) {
      const known =
        MAIN.outputs.has(name) || AZD_PROVIDED.has(name) || OPTIONS.has(name) || MAPPED.has(name);
      expect(known, name).toBe(true);
    }
    expect(ps1Vars).toEqual(shVars);
  });

  it("deploy eventgrid-subscription.bicep with its parameters", () => {
    expect(sh).toContain("../app/eventgrid-subscription.bicep");
    expect(ps1).toContain("../app/eventgrid-subscription.bicep");
    const written = used(sh, /^\s*"(\w+)": \{ "value"/gm);
    const writtenPs1 = used(ps1, /^\s*(\w+)\s*=\s*@\{ value =/gm);
    expect(writtenPs1).toEqual(written);
    for (const name of written) expect(subscription.params.has(name), name).toBe(true);
    for (const param of subscription.params.values()) {
      if (param.defaultText === undefined) expect(written, param.name).toContain(param.name);
    }
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
      expect(parameters.endpointType.value).toBe("function");
      expect(parameters.webhookEndpointUrl.value).toBe("");
      expect(calls).not.toContain("keyvault");
    });

    it("in servicebus-queue mode (as provisioned), points the subscription at the queue", () => {
      const topic = {
        AZURE_ACR_SYSTEM_TOPIC_NAME: "evgt-myregistry",
        AZURE_ACR_SYSTEM_TOPIC_RESOURCE_GROUP: "reg",
        AZURE_ACR_SYSTEM_TOPIC_SUBSCRIPTION_ID: "sub-2",
      };
      const queueId =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ServiceBus/namespaces/sb-x/queues/acr-eventgrid";
      const { calls } = runHook({
        ...topic,
        AZURE_EVENTGRID_DELIVERY: "servicebus-queue",
        AZURE_EVENTGRID_QUEUE_ID: queueId,
      });
      const parameters = JSON.parse(calls.slice(calls.indexOf("{"))).parameters;
      expect(parameters.endpointType.value).toBe("servicebus-queue");
      expect(parameters.serviceBusQueueId.value).toBe(queueId);
      expect(() =>
        runHook({ ...topic, AZURE_EVENTGRID_ENDPOINT_TYPE: "servicebus-queue" }),
      ).toThrow(/run azd provision first/);
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
});

describe("README: the Deploy section", () => {
  const readme = read("README.md");
  const deploy = /\n## Deploy\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";

  it("sits between Settings and Messages on the topics", () => {
    expect(deploy).not.toBe("");
    const order = ["## Settings", "## Deploy", "## Messages on the topics"].map((h) =>
      readme.indexOf(`\n${h}\n`),
    );
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it("names only outputs and parameters that exist", () => {
    for (const match of deploy.matchAll(/`(AZURE_[A-Z0-9_]+)`/g)) {
      const name = match[1];
      if (
        [
          "AZURE_ENV_NAME",
          "AZURE_LOCATION",
          "AZURE_SUBSCRIPTION_ID",
          "AZURE_PRINCIPAL_ID",
        ].includes(name)
      )
        continue;
      const mapped = Object.values(
        JSON.parse(read("infra/main.parameters.json")).parameters as Record<
          string,
          { value: string }
        >,
      ).some(({ value }) => value.includes(`\${${name}`));
      const known =
        MAIN.outputs.has(name) ||
        mapped ||
        APP_SETTINGS.has(name) ||
        name === "AZURE_EVENTGRID_ENDPOINT_TYPE";
      expect(known, name).toBe(true);
    }
    for (const match of deploy.matchAll(/infra\.parameters\.(\w+)/g)) {
      expect(MAIN.params.has(match[1]), match[1]).toBe(true);
    }
  });
});

describe("the Event Grid queue intake (eventGridDelivery = servicebus-queue)", () => {
  const module = mainModule("./app/eventgrid-queue.bicep");
  const queueFile = moduleFile(MAIN, module);
  const subscription = bicep("infra/app/eventgrid-subscription.bicep");
  const queueFunction = readFileSync(join(ROOT, "src/functions/acrEventGridQueue.ts"), "utf8");
  const localTopology = JSON.parse(read("dev/servicebus/Config.json")).UserConfig.Namespaces[0];

  it("is one of the deliveries, creates its queue only when chosen, and tells the code its name", () => {
    expect(MAIN.params.get("eventGridDelivery")?.decorators).toContain(
      "['function', 'webhook', 'servicebus-queue']",
    );
    expect(module.condition).toBe("eventGridToQueue");
    expect(moduleParams(module).get("queueName")).toBe("eventgridQueue");
    expect(APP_SETTINGS.get("EVENTGRID_QUEUE")).toBe("eventGridToQueue ? eventgridQueue : ''");
    expect(evaluate(MAIN, "eventgridQueue")).toBe("acr-eventgrid");
    expect(localTopology.Queues.map((q: { Name: string }) => q.Name)).toContain("acr-eventgrid");
  });

  it("the trigger connects with the app's identity, through the connection its code names", () => {
    const connection = /connection:\s*"(\w+)"/.exec(queueFunction)?.[1];
    expect(connection).toBe("SERVICEBUS_CONNECTION");
    expect(APP_SETTINGS.get(`${connection}__fullyQualifiedNamespace`)).toBe(
      "serviceBus.outputs.fullyQualifiedNamespace",
    );
    expect(APP_SETTINGS.get(`${connection}__credential`)).toBe("'managedidentity'");
    expect(APP_SETTINGS.get(`${connection}__clientId`)).toBe("identity.outputs.clientId");
    expect(APP_SETTINGS.has(connection ?? "")).toBe(false);
  });

  it("the app may receive from the queue, the system topic may send to it", () => {
    const assignments = roleAssignments(queueFile);
    const queue = "Microsoft.ServiceBus/namespaces/queues";
    expect(assignments).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          roleIds: [ROLE.serviceBusDataReceiver],
          principal: "receiverPrincipalId",
          scopeType: queue,
        }),
        expect.objectContaining({
          roleIds: [ROLE.serviceBusDataSender],
          principal: "senderPrincipalId",
          scopeType: queue,
        }),
      ]),
    );
    expect(moduleParams(module).get("receiverPrincipalId")).toBe("identity.outputs.principalId");
    expect(moduleParams(module).get("senderPrincipalId")).toContain(
      "registryLink.outputs.systemTopicPrincipalId",
    );
  });

  it("the subscription delivers to the queue with the system topic's identity", () => {
    expect(subscription.params.get("endpointType")?.decorators).toContain("'servicebus-queue'");
    const delivery = evaluate(subscription, "serviceBusQueueDelivery") as Record<string, Value>;
    expect(delivery).toMatchObject({
      identity: { type: "SystemAssigned" },
      destination: { endpointType: "ServiceBusQueue" },
    });
    const resource = subscription.resources.find((r) => !r.existing);
    const properties = objectEntries(
      objectEntries(resource?.body ?? "{}").get("properties") ?? "{}",
    );
    expect(properties.get("deliveryWithResourceIdentity")).toBe(
      "toQueue ? serviceBusQueueDelivery : null",
    );
    expect(MAIN.outputs.get("AZURE_EVENTGRID_QUEUE_ID")).toContain("eventGridQueue.outputs.id");
  });
});
