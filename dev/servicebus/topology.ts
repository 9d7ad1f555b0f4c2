import { readFileSync } from "node:fs";
import { z } from "zod";
import shippedConfig from "./Config.json";
import { parseIsoDuration } from "./isoDuration";
import { parseSqlFilter, type SqlExpression, SqlFilterError } from "./sqlFilter";

/** Entities of the local namespace, read from the official Service Bus emulator's Config.json. */
export interface Topology {
  namespace: string;
  queues: QueueTopology[];
  topics: TopicTopology[];
}

export interface DeliverySettings {
  lockDurationMs: number;
  maxDeliveryCount: number;
  /** Infinity when the entity sets none. */
  defaultMessageTimeToLiveMs: number;
  deadLetteringOnMessageExpiration: boolean;
}

export interface QueueTopology extends DeliverySettings {
  name: string;
  /** Undefined when the queue does not require duplicate detection. */
  duplicateDetectionWindowMs: number | undefined;
}

export interface TopicTopology {
  name: string;
  defaultMessageTimeToLiveMs: number;
  /** Undefined when the topic does not require duplicate detection. */
  duplicateDetectionWindowMs: number | undefined;
  subscriptions: SubscriptionTopology[];
}

export interface SubscriptionTopology extends DeliverySettings {
  name: string;
  /** A message reaches the subscription when any rule matches; no rules means every message. */
  rules: SubscriptionRule[];
}

export interface SubscriptionRule {
  name: string;
  filter: RuleFilter;
}

export type RuleFilter =
  | { type: "correlation"; match: CorrelationMatch }
  | { type: "sql"; sqlExpression: string; expression: SqlExpression };

/** Every field given must equal the message's; `applicationProperties` compares each key. */
export interface CorrelationMatch {
  contentType?: string;
  correlationId?: string;
  subject?: string;
  messageId?: string;
  replyTo?: string;
  replyToSessionId?: string;
  sessionId?: string;
  to?: string;
  applicationProperties: Record<string, string | number | boolean>;
}

const DEFAULT_LOCK_DURATION = "PT1M";
const DEFAULT_MAX_DELIVERY_COUNT = 10;
const DEFAULT_DUPLICATE_DETECTION_WINDOW = "PT10M";

const duration = (max: { ms: number; text: string }) =>
  z.string().transform((text, ctx) => {
    const ms = parseIsoDuration(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `"${text}" is not an ISO 8601 duration such as PT1M, PT20S or P7D`,
      });
      return z.NEVER;
    }
    if (ms <= 0 || ms > max.ms) {
      ctx.addIssue({
        code: "custom",
        message: `"${text}" must be above zero and at most ${max.text}`,
      });
      return z.NEVER;
    }
    return ms;
  });

const lockDuration = duration({ ms: 5 * 60_000, text: "PT5M" });
const duplicateWindow = duration({ ms: 7 * 86_400_000, text: "P7D" });
const timeToLive = duration({ ms: Number.MAX_SAFE_INTEGER, text: "TimeSpan.MaxValue" });

const notSupported = (feature: string) => `${feature} is not supported by the local broker`;
const noSessions = z.boolean().refine((value) => !value, notSupported("RequiresSession"));
const noForwarding = z.string().refine((value) => value === "", notSupported("auto-forwarding"));

const entityName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/,
    "must start with a letter or digit and hold only letters, digits, '.', '_', '-', '/'",
  )
  .max(260);
const subscriptionName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "must start with a letter or digit and hold only letters, digits, '.', '_', '-'",
  )
  .max(50);

const deliveryProperties = z.strictObject({
  DeadLetteringOnMessageExpiration: z.boolean().default(false),
  DefaultMessageTimeToLive: timeToLive.optional(),
  LockDuration: lockDuration.prefault(DEFAULT_LOCK_DURATION),
  MaxDeliveryCount: z.int().min(1).default(DEFAULT_MAX_DELIVERY_COUNT),
  ForwardTo: noForwarding.optional(),
  ForwardDeadLetteredMessagesTo: noForwarding.optional(),
  RequiresSession: noSessions.optional(),
});

const duplicateDetectionProperties = {
  DuplicateDetectionHistoryTimeWindow: duplicateWindow.prefault(DEFAULT_DUPLICATE_DETECTION_WINDOW),
  RequiresDuplicateDetection: z.boolean().default(false),
};

/** A SQL filter expression in the subset the local broker evaluates, parsed once. */
export const sqlExpression = z.string().transform((text, ctx) => {
  try {
    return { text, expression: parseSqlFilter(text) };
  } catch (error) {
    if (!(error instanceof SqlFilterError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message });
    return z.NEVER;
  }
});

const ruleSchema = z.strictObject({
  Name: z.string().min(1),
  Properties: z.discriminatedUnion("FilterType", [
    z.strictObject({
      FilterType: z.literal("Correlation"),
      CorrelationFilter: z.strictObject({
        ContentType: z.string().optional(),
        CorrelationId: z.string().optional(),
        Label: z.string().optional(),
        MessageId: z.string().optional(),
        ReplyTo: z.string().optional(),
        ReplyToSessionId: z.string().optional(),
        SessionId: z.string().optional(),
        To: z.string().optional(),
        Properties: z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
          .default({}),
      }),
    }),
    z.strictObject({
      FilterType: z.literal("Sql"),
      SqlFilter: z.strictObject({ SqlExpression: sqlExpression }),
      Action: z
        .strictObject({ SqlExpression: z.string() })
        .refine((action) => action.SqlExpression.trim() === "", notSupported("a rule action"))
        .optional(),
    }),
  ]),
});

const subscriptionSchema = z.strictObject({
  Name: subscriptionName,
  Properties: deliveryProperties.prefault({}),
  Rules: z.array(ruleSchema).default([]),
});

const queueProperties = deliveryProperties.extend(duplicateDetectionProperties);
const topicProperties = z.strictObject({
  DefaultMessageTimeToLive: timeToLive.optional(),
  ...duplicateDetectionProperties,
});

/** Service Bus names are case-insensitive, so "Orders" and "orders" are the same entity. */
function reportDuplicateNames(
  ctx: z.RefinementCtx,
  what: string,
  names: [PropertyKey[], string][],
) {
  const seen = new Set<string>();
  for (const [path, name] of names) {
    if (seen.has(name.toLowerCase())) {
      ctx.addIssue({ code: "custom", path, message: `${what} "${name}" is defined twice` });
    }
    seen.add(name.toLowerCase());
  }
}

const topicSchema = z
  .strictObject({
    Name: entityName,
    Properties: topicProperties.prefault({}),
    Subscriptions: z.array(subscriptionSchema).default([]),
  })
  .superRefine((topic, ctx) =>
    reportDuplicateNames(
      ctx,
      "subscription",
      topic.Subscriptions.map((subscription, index) => [
        ["Subscriptions", index, "Name"],
        subscription.Name,
      ]),
    ),
  );

const namespaceSchema = z
  .strictObject({
    Name: z.string().min(1),
    Queues: z
      .array(z.strictObject({ Name: entityName, Properties: queueProperties.prefault({}) }))
      .default([]),
    Topics: z.array(topicSchema).default([]),
  })
  .superRefine((namespace, ctx) =>
    reportDuplicateNames(ctx, "entity", [
      ...namespace.Queues.map((queue, index): [PropertyKey[], string] => [
        ["Queues", index, "Name"],
        queue.Name,
      ]),
      ...namespace.Topics.map((topic, index): [PropertyKey[], string] => [
        ["Topics", index, "Name"],
        topic.Name,
      ]),
    ]),
  );

const configSchema = z.strictObject({
  UserConfig: z.strictObject({
    Namespaces: z
      .array(namespaceSchema)
      .length(1, "the emulator format holds exactly one namespace"),
    Logging: z.looseObject({ Type: z.string() }).optional(),
  }),
});

type ParsedConfig = z.infer<typeof configSchema>;
type ParsedDelivery = z.output<typeof deliveryProperties>;
type ParsedRule =
  ParsedConfig["UserConfig"]["Namespaces"][number]["Topics"][number]["Subscriptions"][number]["Rules"][number];

const deliverySettings = (
  properties: ParsedDelivery,
  inheritedTtlMs = Infinity,
): DeliverySettings => ({
  lockDurationMs: properties.LockDuration,
  maxDeliveryCount: properties.MaxDeliveryCount,
  defaultMessageTimeToLiveMs: Math.min(
    properties.DefaultMessageTimeToLive ?? Infinity,
    inheritedTtlMs,
  ),
  deadLetteringOnMessageExpiration: properties.DeadLetteringOnMessageExpiration,
});

function ruleFilter(properties: ParsedRule["Properties"]): RuleFilter {
  if (properties.FilterType === "Sql") {
    const { text, expression } = properties.SqlFilter.SqlExpression;
    return { type: "sql", sqlExpression: text, expression };
  }
  const filter = properties.CorrelationFilter;
  return {
    type: "correlation",
    match: {
      contentType: filter.ContentType,
      correlationId: filter.CorrelationId,
      subject: filter.Label,
      messageId: filter.MessageId,
      replyTo: filter.ReplyTo,
      replyToSessionId: filter.ReplyToSessionId,
      sessionId: filter.SessionId,
      to: filter.To,
      applicationProperties: filter.Properties,
    },
  };
}

const formatPath = (path: PropertyKey[]) =>
  path
    .map((key, index) =>
      typeof key === "number" ? `[${key}]` : `${index === 0 ? "" : "."}${String(key)}`,
    )
    .join("");

/** Validates a parsed Config.json; throws an Error naming each bad field. */
export function parseTopology(config: unknown): Topology {
  const result = configSchema.safeParse(config);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `  ${formatPath(issue.path) || "(root)"}: ${issue.message}`,
    );
    throw new Error(`Invalid Service Bus topology:\n${problems.join("\n")}`);
  }
  const [namespace] = result.data.UserConfig.Namespaces;
  return {
    namespace: namespace.Name,
    queues: namespace.Queues.map((queue) => ({
      name: queue.Name,
      ...deliverySettings(queue.Properties),
      duplicateDetectionWindowMs: queue.Properties.RequiresDuplicateDetection
        ? queue.Properties.DuplicateDetectionHistoryTimeWindow
        : undefined,
    })),
    topics: namespace.Topics.map((topic) => {
      const topicTtlMs = topic.Properties.DefaultMessageTimeToLive ?? Infinity;
      return {
        name: topic.Name,
        defaultMessageTimeToLiveMs: topicTtlMs,
        duplicateDetectionWindowMs: topic.Properties.RequiresDuplicateDetection
          ? topic.Properties.DuplicateDetectionHistoryTimeWindow
          : undefined,
        subscriptions: topic.Subscriptions.map((subscription) => ({
          name: subscription.Name,
          ...deliverySettings(subscription.Properties, topicTtlMs),
          rules: subscription.Rules.map((rule) => ({
            name: rule.Name,
            filter: ruleFilter(rule.Properties),
          })),
        })),
      };
    }),
  };
}

/** Reads and validates a Config.json file. */
export function loadTopology(path: string): Topology {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`Cannot read Service Bus topology ${path}: ${(error as Error).message}`);
  }
  return parseTopology(config);
}

/** The topology shipped in dev/servicebus/Config.json. */
export const defaultTopology = (): Topology => parseTopology(shippedConfig);
