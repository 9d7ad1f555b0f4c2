import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { create_container, type SenderOptions } from "rhea";
import { administrationHandler } from "./administration";
import { ClaimsBasedSecurity } from "./cbs";
import { LinkRouter } from "./linkRouter";
import { localCertificate, localCertificatePath } from "./localCertificate";
import type { MessageQueue } from "./messageQueue";
import { Namespace } from "./namespace";
import { acceptAmqpConnection } from "./rheaInternals";
import type { Topology } from "./topology";

export const DEFAULT_SAS_KEY_NAME = "RootManageSharedAccessKey";
export const DEFAULT_SAS_KEY = "SAS_KEY_VALUE";

/** Service Bus Standard tier's limit, advertised on every link the SDK sends on. */
export const MAX_MESSAGE_SIZE_BYTES = 256 * 1024;

const TLS_HANDSHAKE = 0x16;

export interface LocalServiceBusOptions {
  /** Interface to listen on; 127.0.0.1 by default. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  topology: Topology;
  sasKeyName?: string;
  sasKey?: string;
  log?: (line: string) => void;
}

/** A message held by the local broker, for tests to look at. */
export interface MessageSnapshot {
  sequenceNumber: number;
  messageId: string;
  subject: string | undefined;
  contentType: string | undefined;
  correlationId: string | undefined;
  applicationProperties: Record<string, unknown>;
  /** As the SDK would return it: data bodies parsed as JSON when they are JSON. */
  body: unknown;
  /** Deliveries so far. */
  deliveryCount: number;
  enqueuedTime: Date;
  locked: boolean;
}

export interface LocalServiceBus {
  readonly port: number;
  /**
   * The PEM certificate of the administration endpoint (HTTPS on the same port): trust it in
   * `ServiceBusAdministrationClient`'s process with `NODE_EXTRA_CA_CERTS` or an https.Agent's `ca`.
   */
  readonly certificate: string;
  /** For `new ServiceBusClient(connectionString)`. */
  readonly connectionString: string;
  /** Closes every connection and the listener; the port can be listened on again at once. */
  stop(): Promise<void>;
  /**
   * Active messages (available or locked) of a topic's subscription, or of a queue when no
   * subscription is given. The dead-letter variants read the entity's dead-letter queue.
   */
  messageCount(entity: string, subscription?: string): number;
  deadLetterCount(entity: string, subscription?: string): number;
  messages(entity: string, subscription?: string): MessageSnapshot[];
  deadLetterMessages(entity: string, subscription?: string): MessageSnapshot[];
  /** Receive links attached to a subscription or queue. */
  receiverCount(entity: string, subscription?: string): number;
  /**
   * Send operations (transfers received on sender links) by a topic or queue, or by all of them
   * since the broker started: one per message sent alone, one per batch or array send.
   */
  sendOperations(entity?: string): number;
}

function listening(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function snapshots(queue: MessageQueue): MessageSnapshot[] {
  return queue.messages().map(({ message, deliveryCount, lockedUntil }) => ({
    sequenceNumber: message.sequenceNumber,
    messageId: message.system.messageId,
    subject: message.system.subject,
    contentType: message.system.contentType,
    correlationId: message.system.correlationId,
    applicationProperties: message.applicationProperties,
    body: message.body(),
    deliveryCount,
    enqueuedTime: new Date(message.enqueuedTime),
    locked: lockedUntil !== undefined,
  }));
}

/** Starts an AMQP 1.0 broker that the unmodified `@azure/service-bus` SDK can use. */
export async function startLocalServiceBus(
  options: LocalServiceBusOptions,
): Promise<LocalServiceBus> {
  const keyName = options.sasKeyName ?? DEFAULT_SAS_KEY_NAME;
  const key = options.sasKey ?? DEFAULT_SAS_KEY;
  const log = options.log ?? (() => {});
  const namespace = new Namespace(options.topology);
  const container = create_container({ id: "local-servicebus" });
  new LinkRouter(namespace, new ClaimsBasedSecurity({ keyName, key }), log).listenTo(container);

  const amqpOptions = {
    // rhea would also report a "modified" outcome as "released", mixing up abandon and defer.
    sender_options: { treat_modified_as_released: false } as SenderOptions,
    // Outcomes are decided per message (accept, reject on a bad batch), never automatically.
    receiver_options: { autoaccept: false, max_message_size: MAX_MESSAGE_SIZE_BYTES },
  };
  const tls = await localCertificate();
  const administration = createHttpsServer(
    tls,
    administrationHandler({ namespace, key: { keyName, key }, log }),
  );
  const sockets = new Set<Socket>();
  // One port for both, as on Azure's namespace host: the SDK sends AMQP and ATOM (HTTPS) to the
  // same host:port. A TLS handshake starts with 0x16, an AMQP header with "AMQP".
  const server = createServer((socket) => {
    // Without it Nagle's algorithm holds back small frames and the first send takes ~50 ms more.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // rhea and TLS report their sockets' errors; this keeps one before dispatch from crashing.
    socket.on("error", () => {});
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) administration.emit("connection", socket);
      else acceptAmqpConnection(container, amqpOptions, socket);
      process.nextTick(() => socket.resume());
    });
  });
  server.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  await listening(server);
  server.on("error", (error) => log(`listener error: ${error.message}`));
  const port = (server.address() as AddressInfo).port;
  const certificateFile = localCertificatePath(port);
  mkdirSync(dirname(certificateFile), { recursive: true });
  writeFileSync(certificateFile, tls.cert);

  const queueAt = (entity: string, subscription: string | undefined, deadLetter = false) => {
    const path = subscription === undefined ? entity : `${entity}/Subscriptions/${subscription}`;
    const queue = namespace.queue(path);
    if (queue === undefined)
      throw new Error(`The local Service Bus has no queue or subscription ${path}`);
    return deadLetter && queue.deadLetters ? queue.deadLetters : queue;
  };

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= new Promise<void>((resolve) => {
      namespace.close();
      administration.close();
      rmSync(certificateFile, { force: true });
      server.close(() => resolve());
      // An error (rather than a bare destroy) makes rhea see the disconnect and drop its timers.
      for (const socket of sockets) socket.destroy(new Error("the local Service Bus stopped"));
    });
    return stopped;
  };

  log(`local Service Bus for namespace ${options.topology.namespace} listening on port ${port}`);
  return {
    port,
    certificate: tls.cert,
    connectionString: `Endpoint=sb://localhost:${port};SharedAccessKeyName=${keyName};SharedAccessKey=${key};UseDevelopmentEmulator=true`,
    stop,
    messageCount: (entity, subscription) => queueAt(entity, subscription).messages().length,
    deadLetterCount: (entity, subscription) =>
      queueAt(entity, subscription, true).messages().length,
    messages: (entity, subscription) => snapshots(queueAt(entity, subscription)),
    deadLetterMessages: (entity, subscription) => snapshots(queueAt(entity, subscription, true)),
    receiverCount: (entity, subscription) => queueAt(entity, subscription).consumerCount,
    sendOperations: (entity) => namespace.sendOperations(entity),
  };
}
