import { DefaultAzureCredential } from "@azure/identity";
import {
  ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from "@azure/service-bus";
import { lockTokenTag } from "../servicebus/consumerLink";
import type { RegisteredFunction } from "./functionsCoreStandIn";
import type { BindingInfo, RpcTypedData } from "./functionsCoreTypes";
import type { HostLog } from "./hostLog";
import { InFlight } from "./inFlight";
import type { Invoke, TriggerInput } from "./invoke";
import { encodedMessage } from "./serviceBusMessageEncoding";
import { resolveSettingExpressions } from "./settingExpressions";
import { type SettlementRequest, SettlementService } from "./settlementService";

/** The host's default `connection` when a trigger names none. */
const DEFAULT_CONNECTION = "AzureWebJobsServiceBus";

/** A Service Bus trigger as the host reads it from the function's binding. */
export interface ServiceBusTriggerEntry {
  readonly fn: RegisteredFunction;
  /** `queue` or `topic/Subscriptions/subscription`, `%SETTING%` expressions resolved. */
  readonly entityPath: string;
  readonly queueName?: string;
  readonly topicName?: string;
  readonly subscriptionName?: string;
  readonly connection: ServiceBusConnection;
  /** host.json's default is true: complete after a successful invocation. */
  readonly autoCompleteMessages: boolean;
  /** `sdkBinding: true`: the function gets the message and the settlement actions. */
  readonly sdkBinding: boolean;
}

type ServiceBusConnection =
  | { kind: "connectionString"; setting: string; value: string }
  | { kind: "identity"; setting: string; fullyQualifiedNamespace: string };

/**
 * Runs the app's Service Bus queue and topic-subscription triggers against the namespace of their
 * `connection` setting, the way the Functions host does: one peek-lock receiver per function, one
 * message per invocation; after a successful invocation the message is completed (with
 * `autoCompleteMessages`, the default), after a failed one abandoned, so Service Bus redelivers it
 * and dead-letters it once the entity's max delivery count is used up. A function with
 * `sdkBinding: true` gets the message with its lock token and settles it itself through the
 * host's settlement service (complete, abandon, dead-letter with a reason). Sessions and
 * `cardinality: "many"` are not supported locally.
 */
export class ServiceBusTriggers {
  readonly entries: readonly ServiceBusTriggerEntry[];
  readonly #running: {
    client: ServiceBusClient;
    receiver: ServiceBusReceiver;
    subscription: { close(): Promise<void> };
  }[] = [];

  constructor(functions: readonly RegisteredFunction[], env: NodeJS.ProcessEnv) {
    this.entries = functions
      .filter((fn) => fn.triggerType.toLowerCase() === "servicebustrigger")
      .map((fn) => readTrigger(fn, env));
  }

  async start(invoke: Invoke, log: HostLog): Promise<void> {
    const settlement = this.entries.some((entry) => entry.sdkBinding)
      ? await SettlementService.shared()
      : undefined;
    for (const entry of this.entries) {
      const client = createClient(entry.connection);
      // The bytes as sent, as the host passes them on: the SDK would parse a JSON body after
      // decoding it leniently, bytes that are not UTF-8 replaced, before the function sees it.
      const options = { receiveMode: "peekLock", skipParsingBodyAsJson: true } as const;
      const receiver =
        entry.queueName !== undefined
          ? client.createReceiver(entry.queueName, options)
          : client.createReceiver(entry.topicName ?? "", entry.subscriptionName ?? "", options);
      const subscription = receiver.subscribe(
        {
          processMessage: (message) =>
            processMessage(entry, message, receiver, invoke, log, settlement),
          processError: async ({ error }) =>
            log("error", `Function.${entry.fn.name}`, `Service Bus receiver: ${error.message}`),
        },
        { autoCompleteMessages: false, maxConcurrentCalls: 1 },
      );
      this.#running.push({ client, receiver, subscription });
    }
  }

  /**
   * No new messages; those being processed can still be settled. Waits at most `timeoutMs` (a
   * namespace that stopped answering would hold it for the AMQP timeout); false when it gave up.
   */
  stopReceiving(timeoutMs: number): Promise<boolean> {
    return within(
      Promise.allSettled(this.#running.map(({ subscription }) => subscription.close())),
      timeoutMs,
    );
  }

  /**
   * Closes the connections, waiting at most `timeoutMs`; false when it gave up. A message still
   * locked goes back to the entity when its lock ends.
   */
  close(timeoutMs: number): Promise<boolean> {
    const running = this.#running.splice(0);
    const closing = async () => {
      await Promise.allSettled(running.map(({ receiver }) => receiver.close()));
      await Promise.allSettled(running.map(({ client }) => client.close()));
    };
    return within(closing(), timeoutMs);
  }
}

async function processMessage(
  entry: ServiceBusTriggerEntry,
  message: ServiceBusReceivedMessage,
  receiver: ServiceBusReceiver,
  invoke: Invoke,
  log: HostLog,
  settlement: SettlementService | undefined,
): Promise<void> {
  const source = `Function.${entry.fn.name}`;
  let settled = false;
  const settle = async (request: SettlementRequest) => {
    if (settled) throw new Error("the message has already been settled");
    switch (request.action) {
      case "complete":
        await receiver.completeMessage(message);
        break;
      case "abandon":
        await receiver.abandonMessage(message);
        break;
      case "deadLetter":
        await receiver.deadLetterMessage(message, {
          deadLetterReason: request.reason ?? "",
          deadLetterErrorDescription: request.description ?? "",
        });
        break;
    }
    settled = true;
  };
  const lockToken = message.lockToken ?? "";
  const registration = entry.sdkBinding ? settlement?.register(lockToken, settle) : undefined;
  log(
    "information",
    source,
    `Trigger Details: MessageId: ${message.messageId}, SequenceNumber: ${message.sequenceNumber}, DeliveryCount: ${(message.deliveryCount ?? 0) + 1}, EnqueuedTimeUtc: ${message.enqueuedTimeUtc?.toISOString()}, LockedUntilUtc: ${message.lockedUntilUtc?.toISOString()}`,
  );

  let succeeded = true;
  try {
    await invoke(entry.fn, triggerInput(entry, message));
  } catch {
    succeeded = false; // Already logged by the invoker.
  } finally {
    registration?.release();
  }
  if (settled) return;
  try {
    if (!succeeded) await settle({ action: "abandon" });
    else if (entry.autoCompleteMessages) await settle({ action: "complete" });
  } catch (error) {
    log(
      "error",
      source,
      `settling message ${message.messageId} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function triggerInput(
  entry: ServiceBusTriggerEntry,
  message: ServiceBusReceivedMessage,
): TriggerInput {
  const data: RpcTypedData = entry.sdkBinding
    ? {
        modelBindingData: {
          version: "1.0",
          source: "AzureServiceBusReceivedMessage",
          contentType: "application/x-amqp",
          content: Buffer.concat([
            lockTokenTag(message.lockToken ?? ""),
            Buffer.from("x-opt-lock-token"),
            encodedMessage(message),
          ]),
        },
      }
    : bodyData(message.body);
  return {
    data,
    reason: `New ServiceBus message detected on '${entry.entityPath}'.`,
    triggerMetadata: triggerMetadata(message),
  };
}

/** The body as the host hands it to a Node.js function: text (JSON parsed by the library), or bytes. */
function bodyData(body: unknown): RpcTypedData {
  if (typeof body === "string") return { string: body };
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    const bytes = Buffer.from(body);
    const text = new TextDecoder("utf-8", { fatal: true });
    try {
      return { string: text.decode(bytes) };
    } catch {
      return { bytes };
    }
  }
  return { string: JSON.stringify(body ?? null) };
}

function triggerMetadata(message: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const values: Record<string, unknown> = {
    MessageId: message.messageId,
    // The host counts this delivery too (1 on the first), as its .NET SDK does.
    DeliveryCount: (message.deliveryCount ?? 0) + 1,
    SequenceNumber: message.sequenceNumber?.toNumber(),
    EnqueuedTimeUtc: message.enqueuedTimeUtc?.toISOString(),
    ExpiresAtUtc: message.expiresAtUtc?.toISOString(),
    LockToken: message.lockToken,
    ContentType: message.contentType,
    CorrelationId: message.correlationId,
    Subject: message.subject,
    Label: message.subject,
    ReplyTo: message.replyTo,
    To: message.to,
    DeadLetterSource: message.deadLetterSource,
    ApplicationProperties: message.applicationProperties ?? {},
    UserProperties: message.applicationProperties ?? {},
  };
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [name, { json: JSON.stringify(value) }]),
  );
}

function readTrigger(fn: RegisteredFunction, env: NodeJS.ProcessEnv): ServiceBusTriggerEntry {
  const binding: BindingInfo = fn.metadata.bindings[fn.triggerBindingName] ?? {};
  const option = (name: string) => {
    const value = binding[name];
    if (value === undefined || value === null || value === "") return undefined;
    return resolveSettingExpressions(String(value), env, `Function "${fn.name}": its ${name}`);
  };
  if (binding.isSessionsEnabled === true) {
    throw new Error(`Function "${fn.name}": session-enabled triggers are not supported locally.`);
  }
  if (binding.cardinality === "many") {
    throw new Error(`Function "${fn.name}": cardinality "many" is not supported locally.`);
  }
  const queueName = option("queueName");
  const topicName = option("topicName");
  const subscriptionName = option("subscriptionName");
  if (queueName === undefined && (topicName === undefined || subscriptionName === undefined)) {
    throw new Error(
      `Function "${fn.name}": a Service Bus trigger needs queueName, or topicName and subscriptionName.`,
    );
  }
  return {
    fn,
    entityPath: queueName ?? `${topicName}/Subscriptions/${subscriptionName}`,
    queueName,
    topicName,
    subscriptionName,
    connection: readConnection(fn, String(binding.connection || DEFAULT_CONNECTION), env),
    autoCompleteMessages: binding.autoCompleteMessages !== false,
    // What the host reads: @azure/functions sets it from `sdkBinding: true`.
    sdkBinding:
      isRecord(binding.properties) && binding.properties.supportsDeferredBinding === "true",
  };
}

/**
 * The host reads `connection` as the name of an app setting holding a connection string, or as
 * the prefix of identity-based settings (`<name>__fullyQualifiedNamespace`).
 */
function readConnection(
  fn: RegisteredFunction,
  setting: string,
  env: NodeJS.ProcessEnv,
): ServiceBusConnection {
  const value = env[setting];
  if (value) return { kind: "connectionString", setting, value };
  const fullyQualifiedNamespace = env[`${setting}__fullyQualifiedNamespace`];
  if (fullyQualifiedNamespace) return { kind: "identity", setting, fullyQualifiedNamespace };
  throw new Error(
    `Function "${fn.name}": its connection "${setting}" needs the app setting "${setting}" (a connection string) or "${setting}__fullyQualifiedNamespace", and neither is set.`,
  );
}

function createClient(connection: ServiceBusConnection): ServiceBusClient {
  return connection.kind === "connectionString"
    ? new ServiceBusClient(connection.value)
    : new ServiceBusClient(connection.fullyQualifiedNamespace, new DefaultAzureCredential());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Whether `work` settles within `timeoutMs`. */
function within(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  const pending = new InFlight();
  pending.track(work);
  return pending.drain(timeoutMs);
}
