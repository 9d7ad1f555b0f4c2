import type { ServiceBusAdministrationClient } from "@azure/service-bus";
import { type FunctionsHost, startFunctionsHost } from "./host/functionsHost";
import { readLocalSettings } from "./host/settings";
import { sqlFilterFor } from "./subscribe/globFilter";

/**
 * samples/notify-chat served beside the bridge by `npm start` once its webhook URL is set: its
 * filtered subscription is created on the bridge's Service Bus through the administration endpoint
 * (as `npm run subscribe` would), then a second local host serves the app on that Service Bus.
 */

/** The setting that turns the sample on. */
export const NOTIFY_CHAT_SETTING = "CHAT_WEBHOOK_URL";

/** What the sample's Bicep module lets through by default: one message per released image. */
const RELEASED_IMAGES = sqlFilterFor({
  repositories: [],
  tags: [],
  actions: [],
  kinds: ["image", "index", "patch"],
  tagged: true,
});

/** As in the sample's Bicep module: each delivery is one post to the chat. */
const MAX_DELIVERY_COUNT = 5;

export interface NotifyChatSubscription {
  topic: string;
  subscription: string;
  /** False when it was there already (its rules are left as they are). */
  created: boolean;
}

/** Creates the sample's subscription with the released-images filter, unless it exists. */
export async function ensureNotifyChatSubscription(
  admin: ServiceBusAdministrationClient,
  topic: string,
  subscription: string,
): Promise<NotifyChatSubscription> {
  if (!RELEASED_IMAGES.ok) throw new Error(RELEASED_IMAGES.failure.join("; "));
  if (await admin.subscriptionExists(topic, subscription)) {
    return { topic, subscription, created: false };
  }
  await admin.createSubscription(topic, subscription, {
    lockDuration: "PT1M",
    maxDeliveryCount: MAX_DELIVERY_COUNT,
    defaultMessageTimeToLive: "P1D",
    deadLetteringOnFilterEvaluationExceptions: true,
    defaultRuleOptions: {
      name: "released-images",
      filter: { sqlExpression: RELEASED_IMAGES.value },
    },
  });
  return { topic, subscription, created: true };
}

export interface NotifyChatSample extends NotifyChatSubscription {
  readonly host: FunctionsHost;
  readonly format: string;
}

export interface NotifyChatSampleOptions {
  /** samples/notify-chat, built (`npm run build` builds it). */
  root: string;
  /** The bridge's Service Bus connection string: the sample receives from the same namespace. */
  serviceBusConnection: string;
  admin: ServiceBusAdministrationClient;
  log: (line: string) => void;
}

/**
 * Serves the sample in this process on the bridge's Service Bus. Its settings are those of its
 * local.settings(.sample).json with the environment over them, except the connection (`SERVICEBUS`),
 * which is the bridge's.
 */
export async function startNotifyChatSample(
  options: NotifyChatSampleOptions,
): Promise<NotifyChatSample> {
  const settings = readLocalSettings(options.root);
  process.env.SERVICEBUS = options.serviceBusConnection;
  const subscription = await ensureNotifyChatSubscription(
    options.admin,
    settings.NOTIFY_TOPIC || "acr-push",
    settings.NOTIFY_SUBSCRIPTION || "notify-chat",
  );
  const host = await startFunctionsHost({
    appRoot: options.root,
    log: (line) => options.log(`[notify-chat] ${line}`),
  });
  return { ...subscription, host, format: process.env.CHAT_FORMAT || "teams" };
}
