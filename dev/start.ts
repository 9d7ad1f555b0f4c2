import { resolve } from "node:path";
import type { ArmStandIn } from "./arm/armStandIn";
import { startLocalRegistry } from "./arm/localRegistry";
import { type LocalAzurite, startAzurite } from "./azurite";
import { isListening } from "./freePort";
import { describeFunction } from "./host/describeFunction";
import { startFunctionsHost } from "./host/functionsHost";
import { applyLocalSettings, localPort } from "./host/settings";
import {
  NOTIFY_CHAT_SETTING,
  type NotifyChatSample,
  startNotifyChatSample,
} from "./notifyChatSample";
import { onParentExit } from "./onParentExit";
import { samplePayload } from "./samplePayloads";
import { type LocalServiceBus, startLocalServiceBus } from "./servicebus/broker";
import { defaultTopology, loadTopology } from "./servicebus/topology";
import { administrationClient } from "./subscribe/administrationClient";

/**
 * `npm start`: Azurite (tables), the local Service Bus and the functions host, on the settings of
 * local.settings.json over local.settings.sample.json, the environment over both. A dependency
 * whose connection points elsewhere, or whose port already answers, is used as it is.
 */
const appRoot = resolve(__dirname, "..", "..");
const DEFAULT_SECRET = "local-dev-secret";
const LOOPBACK = /^(localhost|127\.0\.0\.1)$/i;

interface Endpoint {
  host: string;
  port: number;
}

function localTablesEndpoint(connection: string): Endpoint | undefined {
  if (/UseDevelopmentStorage=true/i.test(connection)) return { host: "127.0.0.1", port: 10002 };
  const match = /TableEndpoint=http:\/\/([^:/;]+):(\d+)/i.exec(connection);
  return match && LOOPBACK.test(match[1])
    ? { host: "127.0.0.1", port: Number(match[2]) }
    : undefined;
}

function localServiceBusEndpoint(connection: string): Endpoint | undefined {
  if (!/UseDevelopmentEmulator=true/i.test(connection)) return undefined;
  const match = /Endpoint=sb:\/\/([^:/;]+)(?::(\d+))?/i.exec(connection);
  if (!match || !LOOPBACK.test(match[1])) return undefined;
  return { host: "127.0.0.1", port: Number(match[2] ?? 5672) };
}

function localArmEndpoint(endpoint: string): Endpoint | undefined {
  const match = /^http:\/\/(localhost|127\.0\.0\.1):(\d+)\/?$/i.exec(endpoint);
  return match ? { host: "127.0.0.1", port: Number(match[2]) } : undefined;
}

/** Newest first, so the host stops before the dependencies it is still using. */
const stops: Array<() => Promise<void>> = [];

async function stopAll(): Promise<void> {
  for (const stop of stops.splice(0)) await stop().catch((error: unknown) => console.error(error));
}

async function main(): Promise<void> {
  const secretFromEnvironment = process.env.WEBHOOK_SECRETS !== undefined;
  applyLocalSettings(appRoot);
  const settings = process.env;
  const log = (line: string) => console.log(line);
  const port = localPort();
  const bridgeUrl = `http://127.0.0.1:${port}`;
  // What the webhook health check expects the webhooks to call, as infra sets it in Azure: unless
  // told otherwise, this bridge on its PORT, which the ARM stand-in's webhook calls.
  settings.BRIDGE_PUBLIC_URL ||= bridgeUrl;

  const tables = localTablesEndpoint(settings.TABLES_CONNECTION ?? "");
  let azurite: LocalAzurite | undefined;
  if (tables && !(await isListening(tables.host, tables.port))) {
    azurite = await startAzurite(tables);
    stops.unshift(() => azurite?.stop() ?? Promise.resolve());
  }

  const bus = localServiceBusEndpoint(settings.SERVICEBUS_CONNECTION ?? "");
  let broker: LocalServiceBus | undefined;
  if (bus && !(await isListening(bus.host, bus.port))) {
    const topologyFile = settings.SERVICEBUS_TOPOLOGY;
    broker = await startLocalServiceBus({
      ...bus,
      topology: topologyFile ? loadTopology(resolve(appRoot, topologyFile)) : defaultTopology(),
    });
    stops.unshift(() => broker?.stop() ?? Promise.resolve());
  }

  // The registry side (ARM): the stand-in, when ARM_ENDPOINT is a loopback port nobody serves.
  const arm = localArmEndpoint(settings.ARM_ENDPOINT ?? "");
  const registryId = (settings.ACR_RESOURCE_IDS ?? "").split(",")[0]?.trim();
  let armStandIn: ArmStandIn | undefined;
  if (arm && registryId && !(await isListening(arm.host, arm.port))) {
    armStandIn = await startLocalRegistry({
      port: arm.port,
      registryId,
      loginServer: settings.ACR_LOGIN_SERVER ?? "myregistry.azurecr.io",
      bridgeUrl,
      secret: (settings.WEBHOOK_SECRETS ?? "").split(",")[0].trim(),
    });
    stops.unshift(() => armStandIn?.stop() ?? Promise.resolve());
  }

  const host = await startFunctionsHost({
    appRoot,
    host: "127.0.0.1",
    port,
    log,
  });
  stops.unshift(() => host.stop());

  // samples/notify-chat, when its webhook URL is given, on the local Service Bus.
  let notifyChat: NotifyChatSample | undefined;
  if (settings[NOTIFY_CHAT_SETTING] && bus) {
    notifyChat = await startNotifyChatSample({
      root: resolve(appRoot, "samples", "notify-chat"),
      serviceBusConnection: settings.SERVICEBUS_CONNECTION ?? "",
      admin: administrationClient(settings),
      log,
    });
    stops.unshift(() => notifyChat?.host.stop() ?? Promise.resolve());
  }

  const webhookUrl = `${host.url}/api/acr/webhook`;
  console.log("\nFunctions:");
  for (const fn of host.functions) console.log(`  ${describeFunction(fn, host)}`);
  if (notifyChat) {
    for (const fn of notifyChat.host.functions) {
      console.log(`  ${describeFunction(fn, notifyChat.host)} (samples/notify-chat)`);
    }
  }
  const secret =
    !secretFromEnvironment && settings.WEBHOOK_SECRETS === DEFAULT_SECRET
      ? DEFAULT_SECRET
      : "$WEBHOOK_SECRET";
  console.log(`
acr-event-bridge is running locally.
  Webhook:        POST ${webhookUrl}
  Console:        ${host.url}/api/console
  Table Storage:  ${tables ? `http://${tables.host}:${tables.port}${azurite ? " (Azurite, in memory)" : " (already running)"}` : "as configured"}
  Service Bus:    ${bus ? `amqp://${bus.host}:${bus.port}${broker ? " (local broker)" : " (already running)"}` : "as configured"}
  ARM (webhooks): ${armStandIn ? `${armStandIn.url} (stand-in: webhook bridgelocal of ${registryId})` : "as configured"}
  notify-chat:    ${notifyChat ? `${notifyChat.topic}/${notifyChat.subscription}${notifyChat.created ? " (created, released images only)" : ""} -> ${NOTIFY_CHAT_SETTING} as ${notifyChat.format}` : `off (set ${NOTIFY_CHAT_SETTING} to post releases to a chat; local Service Bus only)`}

Try it:
  curl -i -X POST '${webhookUrl}' \\
    -H 'Authorization: Bearer ${secret}' -H 'Content-Type: application/json' \\
    -d '${JSON.stringify(samplePayload("push"))}'
  npm run send -- push --repo hello-world --tag v1
  npm run tail -- acr-push
  curl -s 'http://127.0.0.1:${host.port}/api/events?registry=myregistry.azurecr.io'
  curl -s -X POST 'http://127.0.0.1:${host.port}/api/backfill'      # import what ACR logged and the bridge missed
Press Ctrl-C to stop.`);

  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`${reason}: stopping (again to force)...`);
    void stopAll().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // The parent's exit asks for a stop; one already under way (a signal sent to the whole process
  // group reaches npm's shell too) must finish, not be forced as a second Ctrl-C would.
  onParentExit(() => {
    if (!stopping) stop("the process that started it exited");
  });
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await stopAll();
  process.exit(1);
});
