import type { IncomingMessage, ServerResponse } from "node:http";
import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { parseIsoDuration } from "./isoDuration";
import type { Namespace, SubscriptionEntity } from "./namespace";
import { type SharedAccessKey, verifySasToken } from "./sasToken";
import { parseSqlFilter, SqlFilterError } from "./sqlFilter";
import type { DeliverySettings, SubscriptionRule } from "./topology";

/**
 * The part of Service Bus's HTTPS/ATOM management API that `ServiceBusAdministrationClient` uses
 * for subscriptions and their rules: create (PUT), read (GET), replace (PUT with If-Match) and
 * delete. Topics and queues stay those of the topology file.
 */

const ATOM = "http://www.w3.org/2005/Atom";
const SERVICE_BUS = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect";
const XSI = "http://www.w3.org/2001/XMLSchema-instance";
/** .NET's TimeSpan.MaxValue: how Service Bus spells "never". */
const NEVER = "P10675199DT2H48M5.4775807S";
const MAX_BODY_BYTES = 256 * 1024;

const DEFAULTS: DeliverySettings = {
  lockDurationMs: 60_000,
  maxDeliveryCount: 10,
  defaultMessageTimeToLiveMs: Number.POSITIVE_INFINITY,
  deadLetteringOnMessageExpiration: false,
};

const parser = new XMLParser({
  ignoreAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  attributeNamePrefix: "@",
});
const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  suppressEmptyNode: true,
});

class AdministrationError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type XmlObject = Record<string, unknown>;
const child = (value: unknown, name: string): unknown =>
  typeof value === "object" && value !== null ? (value as XmlObject)[name] : undefined;
const text = (value: unknown): string | undefined =>
  typeof value === "string" ? value : (child(value, "#text") as string | undefined);

/** The description inside `<entry><content>`, by its element name. */
function description(body: string, element: string): XmlObject {
  let parsed: unknown;
  try {
    parsed = parser.parse(body, true);
  } catch (error) {
    throw new AdministrationError(400, `The body is not XML: ${(error as Error).message}`);
  }
  const found = child(child(child(parsed, "entry"), "content"), element);
  // An element with nothing set (all defaults) parses as an empty string.
  if (found === "") return {};
  if (typeof found !== "object" || found === null) {
    throw new AdministrationError(400, `The body is not an ATOM entry holding a ${element}.`);
  }
  return found as XmlObject;
}

function duration(value: unknown, field: string, fallback: number): number {
  const given = text(value);
  if (given === undefined) return fallback;
  const ms = parseIsoDuration(given);
  if (ms === undefined || ms <= 0) {
    throw new AdministrationError(400, `${field} "${given}" is not an ISO 8601 duration.`);
  }
  return ms;
}

function settingsOf(subscription: XmlObject): DeliverySettings {
  for (const unsupported of ["ForwardTo", "ForwardDeadLetteredMessagesTo"]) {
    if (text(subscription[unsupported])) {
      throw new AdministrationError(400, `${unsupported} is not supported by the local broker.`);
    }
  }
  if (text(subscription.RequiresSession) === "true") {
    throw new AdministrationError(400, "RequiresSession is not supported by the local broker.");
  }
  const maxDeliveryCount = Number(text(subscription.MaxDeliveryCount) ?? DEFAULTS.maxDeliveryCount);
  if (!Number.isInteger(maxDeliveryCount) || maxDeliveryCount < 1) {
    throw new AdministrationError(400, "MaxDeliveryCount must be a whole number above 0.");
  }
  return {
    lockDurationMs: duration(subscription.LockDuration, "LockDuration", DEFAULTS.lockDurationMs),
    maxDeliveryCount,
    defaultMessageTimeToLiveMs: duration(
      subscription.DefaultMessageTimeToLive,
      "DefaultMessageTimeToLive",
      DEFAULTS.defaultMessageTimeToLiveMs,
    ),
    deadLetteringOnMessageExpiration:
      text(subscription.DeadLetteringOnMessageExpiration) === "true",
  };
}

/** A rule description: only SQL filters (the SDK sends a true filter as `1=1`) and no action. */
function ruleOf(rule: XmlObject, name: string): SubscriptionRule {
  const filter = rule.Filter;
  const filterType = child(filter, "@type");
  if (filterType !== "SqlFilter" && filterType !== "TrueFilter" && filterType !== "FalseFilter") {
    throw new AdministrationError(
      400,
      `Filter type ${String(filterType)} is not supported by the local broker's administration endpoint (SqlFilter is).`,
    );
  }
  const actionType = child(rule.Action, "@type");
  if (actionType !== undefined && actionType !== "EmptyRuleAction") {
    throw new AdministrationError(400, "Rule actions are not supported by the local broker.");
  }
  const sqlExpression =
    filterType === "SqlFilter"
      ? (text(child(filter, "SqlExpression")) ?? "")
      : filterType === "TrueFilter"
        ? "1=1"
        : "1=0";
  try {
    return {
      name,
      filter: { type: "sql", sqlExpression, expression: parseSqlFilter(sqlExpression) },
    };
  } catch (error) {
    if (error instanceof SqlFilterError) throw new AdministrationError(400, error.message);
    throw error;
  }
}

const seconds = (ms: number) => (Number.isFinite(ms) ? `PT${ms / 1000}S` : NEVER);

function entryObject(id: string, title: string, element: string, content: XmlObject): XmlObject {
  return {
    "@xmlns": ATOM,
    id,
    title: { "@type": "text", "#text": title },
    updated: new Date().toISOString(),
    content: {
      "@type": "application/xml",
      [element]: { "@xmlns": SERVICE_BUS, "@xmlns:i": XSI, ...content },
    },
  };
}

const XML_DECLARATION = { "@version": "1.0", "@encoding": "utf-8" };
const entry = (object: XmlObject) => builder.build({ "?xml": XML_DECLARATION, entry: object });

/**
 * A page of entries: `$skip` and `$top` as the SDK sends them, a `next` link while more remain
 * (the SDK reads links only as a list, so `self` is always there too).
 */
function feed(url: URL, title: string, entries: XmlObject[]): string {
  const skip = Number(url.searchParams.get("$skip") ?? 0) || 0;
  const top = Number(url.searchParams.get("$top") ?? 100) || 100;
  const page = entries.slice(skip, skip + top);
  const links = [{ "@rel": "self", "@href": url.toString() }];
  if (skip + top < entries.length) {
    const next = new URL(url);
    next.searchParams.set("$skip", String(skip + top));
    links.push({ "@rel": "next", "@href": next.toString() });
  }
  return builder.build({
    "?xml": XML_DECLARATION,
    feed: { "@xmlns": ATOM, title: { "@type": "text", "#text": title }, link: links, entry: page },
  });
}

/** The entry's id: the entity's own URL, which the SDK reads the entity's names from. */
const entityUrl = (base: URL, path: string) =>
  new URL(path, `${base.protocol}//${base.host}`).toString();

function subscriptionEntry(id: string, subscription: SubscriptionEntity): XmlObject {
  const { settings } = subscription;
  return entryObject(id, subscription.name, "SubscriptionDescription", {
    LockDuration: seconds(settings.lockDurationMs),
    RequiresSession: "false",
    DefaultMessageTimeToLive: seconds(settings.defaultMessageTimeToLiveMs),
    DeadLetteringOnMessageExpiration: String(settings.deadLetteringOnMessageExpiration),
    DeadLetteringOnFilterEvaluationExceptions: "true",
    MaxDeliveryCount: String(settings.maxDeliveryCount),
    EnableBatchedOperations: "true",
    Status: "Active",
    AutoDeleteOnIdle: NEVER,
    EntityAvailabilityStatus: "Available",
  });
}

function ruleEntry(id: string, rule: SubscriptionRule): XmlObject {
  if (rule.filter.type !== "sql") {
    throw new AdministrationError(
      400,
      `Rule ${rule.name} is a correlation filter, shown only in Config.json.`,
    );
  }
  return entryObject(id, rule.name, "RuleDescription", {
    Filter: { "@i:type": "SqlFilter", SqlExpression: rule.filter.sqlExpression },
    Action: { "@i:type": "EmptyRuleAction", "#text": "" },
    Name: rule.name,
  });
}

const errorXml = (status: number, message: string) =>
  builder.build({ Error: { Code: String(status), Detail: message } });

async function readBody(request: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdministrationError(413, "The body is too large.");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export interface AdministrationOptions {
  namespace: Namespace;
  key: SharedAccessKey;
  log: (line: string) => void;
}

/** An HTTPS request listener serving the subscription and rule operations. */
export function administrationHandler(options: AdministrationOptions) {
  return (request: IncomingMessage, response: ServerResponse) => {
    handle(options, request).then(
      ({ status, body }) => send(response, status, body),
      (error: unknown) => {
        if (error instanceof AdministrationError) {
          send(response, error.status, errorXml(error.status, error.message));
          return;
        }
        options.log(`administration: ${(error as Error).message}`);
        send(response, 500, errorXml(500, "The local broker failed on this request."));
      },
    );
  };
}

function send(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { "content-type": "application/atom+xml;type=entry;charset=utf-8" });
  response.end(body);
}

const SUBSCRIPTIONS_PATH = /^\/(.+)\/Subscriptions\/?$/i;
const RULES_PATH = /^\/(.+)\/Subscriptions\/([^/]+)\/Rules\/?$/i;
const SUBSCRIPTION_PATH = /^\/(.+)\/Subscriptions\/([^/]+)$/i;
const RULE_PATH = /^\/(.+)\/Subscriptions\/([^/]+)\/Rules\/([^/]+)$/i;

async function handle(
  { namespace, key }: AdministrationOptions,
  request: IncomingMessage,
): Promise<{ status: number; body: string }> {
  const verdict = verifySasToken(request.headers.authorization ?? "", key, Date.now());
  if (!verdict.valid) throw new AdministrationError(401, `Unauthorized: ${verdict.reason}.`);
  const url = new URL(request.url ?? "/", `https://${request.headers.host ?? "localhost"}`);
  const id = url.toString();
  const path = decodeURIComponent(url.pathname);
  const body = request.method === "PUT" ? await readBody(request) : "";
  const replacing = request.headers["if-match"] !== undefined;

  const list = request.method === "GET" ? listing(namespace, url, path) : undefined;
  if (list !== undefined) return { status: 200, body: list };
  const rulePath = RULE_PATH.exec(path);
  if (rulePath) {
    const [, topic, name, ruleName] = rulePath;
    const subscription = existingSubscription(namespace, topic, name);
    const index = subscription.rules.findIndex(
      (rule) => rule.name.toLowerCase() === ruleName.toLowerCase(),
    );
    switch (request.method) {
      case "GET":
        if (index < 0) throw notFound(`rule ${ruleName}`);
        return { status: 200, body: entry(ruleEntry(id, subscription.rules[index])) };
      case "PUT": {
        if (index >= 0 && !replacing) throw alreadyExists(`rule ${ruleName}`);
        if (index < 0 && replacing) throw notFound(`rule ${ruleName}`);
        const rule = ruleOf(description(body, "RuleDescription"), ruleName);
        if (index >= 0) subscription.rules[index] = rule;
        else subscription.rules.push(rule);
        return { status: index >= 0 ? 200 : 201, body: entry(ruleEntry(id, rule)) };
      }
      case "DELETE":
        if (index < 0) throw notFound(`rule ${ruleName}`);
        subscription.rules.splice(index, 1);
        return { status: 200, body: "" };
    }
  }
  const subscriptionPath = SUBSCRIPTION_PATH.exec(path);
  if (subscriptionPath) {
    const [, topic, name] = subscriptionPath;
    if (namespace.topic(topic) === undefined) throw notFound(`topic ${topic}`);
    const existing = namespace.subscription(topic, name);
    switch (request.method) {
      case "GET":
        if (!existing) throw notFound(`subscription ${topic}/Subscriptions/${name}`);
        return { status: 200, body: entry(subscriptionEntry(id, existing)) };
      case "PUT": {
        if (existing && !replacing)
          throw alreadyExists(`subscription ${topic}/Subscriptions/${name}`);
        const described = description(body, "SubscriptionDescription");
        const settings = settingsOf(described);
        if (existing) {
          Object.assign(existing.settings, settings);
          return { status: 200, body: entry(subscriptionEntry(id, existing)) };
        }
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/.test(name)) {
          throw new AdministrationError(400, `"${name}" is not a subscription name.`);
        }
        // Like Azure: a new subscription has one rule, $Default, taking everything unless given.
        const defaultRule = described.DefaultRuleDescription as XmlObject | undefined;
        const rule = defaultRule
          ? ruleOf(defaultRule, text(defaultRule.Name) ?? "$Default")
          : ruleOf({ Filter: { "@type": "TrueFilter" } }, "$Default");
        const created = namespace.createSubscription(topic, name, settings, [rule]);
        return { status: 201, body: entry(subscriptionEntry(id, created)) };
      }
      case "DELETE":
        if (!existing) throw notFound(`subscription ${topic}/Subscriptions/${name}`);
        namespace.deleteSubscription(existing);
        return { status: 200, body: "" };
    }
  }
  throw new AdministrationError(
    400,
    `${request.method} ${path} is not an operation the local broker's administration endpoint offers (subscriptions and rules).`,
  );
}

/** `GET <topic>/Subscriptions/` and `GET <topic>/Subscriptions/<name>/Rules/` as feeds. */
function listing(namespace: Namespace, url: URL, path: string): string | undefined {
  const rules = RULES_PATH.exec(path);
  if (rules) {
    const [, topic, name] = rules;
    const subscription = existingSubscription(namespace, topic, name);
    const entries = subscription.rules.map((rule) =>
      ruleEntry(entityUrl(url, `${subscription.queue.path}/Rules/${rule.name}`), rule),
    );
    return feed(url, "Rules", entries);
  }
  const subscriptions = SUBSCRIPTIONS_PATH.exec(path);
  if (!subscriptions) return undefined;
  const topic = namespace.topic(subscriptions[1]);
  if (topic === undefined) throw notFound(`topic ${subscriptions[1]}`);
  const entries = namespace
    .subscriptionsOf(topic)
    .map((subscription) =>
      subscriptionEntry(entityUrl(url, subscription.queue.path), subscription),
    );
  return feed(url, "Subscriptions", entries);
}

function existingSubscription(namespace: Namespace, topic: string, name: string) {
  const subscription = namespace.subscription(topic, name);
  if (!subscription) throw notFound(`subscription ${topic}/Subscriptions/${name}`);
  return subscription;
}

const notFound = (what: string) => new AdministrationError(404, `The ${what} does not exist.`);
const alreadyExists = (what: string) => new AdministrationError(409, `The ${what} already exists.`);
