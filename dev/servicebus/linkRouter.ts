import {
  type AmqpError,
  message as amqp,
  type Connection,
  type Container,
  type EventContext,
  type link,
  type Message,
  type Receiver,
  type Sender,
} from "rhea";
import type { ClaimsBasedSecurity } from "./cbs";
import { ConsumerLink, type Outcome } from "./consumerLink";
import type { EntityFanOut } from "./entityFanOut";
import { answerManagementRequest } from "./management";
import type { MessageQueue } from "./messageQueue";
import type { Namespace } from "./namespace";
import { setSenderSettleModes } from "./rheaInternals";
import { messagesInTransfer } from "./transferPayload";

/** What the broker does with messages arriving on one of its receiving links. */
type Inbox =
  | { kind: "cbs" }
  | { kind: "management"; queue: MessageQueue | undefined }
  | { kind: "publish"; fanOut: EntityFanOut };

const CBS = "$cbs";
const MANAGEMENT_SUFFIX = "/$management";

/** The entity a `<entity>/$management` address manages, undefined for other addresses. */
const managedEntity = (address: string) =>
  address.endsWith(MANAGEMENT_SUFFIX) ? address.slice(0, -MANAGEMENT_SUFFIX.length) : undefined;

const notFound = (address: string, connection: Connection): AmqpError => ({
  condition: "amqp:not-found",
  // The SDK recognises a missing entity by this wording.
  description: `The messaging entity 'sb://${connection.hostname ?? "localhost"}/${address}' could not be found.`,
});

const unauthorized = (address: string): AmqpError => ({
  condition: "amqp:unauthorized-access",
  description: `Unauthorized access to '${address}': put a token on $cbs first.`,
});

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message;
  const context = error as EventContext | undefined;
  const amqpError = context?.connection?.error ?? context?.session?.error;
  return amqpError ? JSON.stringify(amqpError) : String(error);
};

/** Gives meaning to the links peers attach: $cbs, $management, senders to entities, receivers. */
export class LinkRouter {
  private readonly inboxes = new WeakMap<Receiver, Inbox>();
  private readonly consumers = new Map<Sender, ConsumerLink>();

  constructor(
    private readonly namespace: Namespace,
    private readonly cbs: ClaimsBasedSecurity,
    private readonly log: (line: string) => void,
  ) {}

  listenTo(container: Container): void {
    const on = (event: string, handler: (context: EventContext) => void) =>
      container.on(event, handler);
    on("connection_open", (context) =>
      this.log(`connection ${context.connection.container_id} opened`),
    );
    on("receiver_open", (context) => this.onReceiverOpen(context.receiver as Receiver));
    on("sender_open", (context) => this.onSenderOpen(context.sender as Sender));
    on("message", (context) => this.onMessage(context));
    on("sendable", (context) => this.consumers.get(context.sender as Sender)?.onSendable());
    on("sender_flow", (context) => this.consumers.get(context.sender as Sender)?.onFlow());
    for (const outcome of ["accepted", "rejected", "modified", "released"] as const) {
      on(outcome, (context) => this.onOutcome(context, outcome));
    }
    on("sender_close", (context) => this.detachConsumers((sender) => sender === context.sender));
    on("session_close", (context) =>
      this.detachConsumers((sender) => sender.session === context.session),
    );
    for (const event of ["connection_close", "disconnected"]) {
      on(event, (context) =>
        this.detachConsumers((sender) => sender.connection === context.connection),
      );
    }
    for (const event of [
      "error",
      "protocol_error",
      "connection_error",
      "session_error",
      "sender_error",
      "receiver_error",
    ]) {
      container.on(event, (error: unknown) => this.log(`${event}: ${describe(error)}`));
    }
  }

  /** A peer's sender attached: we receive what it sends to $cbs, $management or an entity. */
  private onReceiverOpen(receiver: Receiver): void {
    const address = receiver.target?.address ?? "";
    const inbox = this.inboxFor(address);
    if (!this.admit(receiver, address, inbox !== undefined) || inbox === undefined) return;
    this.echoTermini(receiver);
    this.inboxes.set(receiver, inbox);
    if (inbox.kind === "publish") this.log(`sender attached to ${address}`);
  }

  /** A peer's receiver attached: a reply link for $cbs / $management, or a receiver of messages. */
  private onSenderOpen(sender: Sender): void {
    const address = sender.source?.address ?? "";
    const entity = managedEntity(address);
    const queue =
      address === CBS || entity !== undefined ? undefined : this.namespace.queue(address);
    const exists =
      address === CBS || (entity !== undefined ? this.namespace.has(entity) : queue !== undefined);
    if (!this.admit(sender, address, exists)) return;
    this.echoTermini(sender);
    if (queue === undefined) return;
    setSenderSettleModes(sender, sender.snd_settle_mode, sender.rcv_settle_mode);
    // The SDK asks for settled transfers (snd-settle-mode 1) in receiveAndDelete mode.
    const consumer = new ConsumerLink(
      sender,
      queue,
      sender.snd_settle_mode === 1 ? "receiveAndDelete" : "peekLock",
    );
    this.consumers.set(sender, consumer);
    queue.attach(consumer);
    this.log(`receiver attached to ${address} (${consumer.receiveMode})`);
  }

  private inboxFor(address: string): Inbox | undefined {
    if (address === CBS) return { kind: "cbs" };
    const entity = managedEntity(address);
    if (entity !== undefined) {
      return this.namespace.has(entity)
        ? { kind: "management", queue: this.namespace.queue(entity) }
        : undefined;
    }
    const fanOut = this.namespace.fanOut(address);
    return fanOut === undefined ? undefined : { kind: "publish", fanOut };
  }

  private onMessage(context: EventContext): void {
    const receiver = context.receiver as Receiver;
    const delivery = context.delivery;
    const inbox = this.inboxes.get(receiver);
    if (delivery === undefined || inbox === undefined) return;
    const body = context.message as Message | Buffer;
    if (inbox.kind === "publish") {
      let contents: ReturnType<typeof messagesInTransfer>;
      try {
        contents = messagesInTransfer(body, delivery.format);
      } catch (error) {
        delivery.reject({ condition: "amqp:decode-error", description: describe(error) });
        return;
      }
      const { accepted, duplicates } = inbox.fanOut.publish(contents, Date.now());
      delivery.accept();
      this.log(
        `${inbox.fanOut.path}: ${accepted} message(s) published${duplicates ? `, ${duplicates} duplicate(s) dropped` : ""}`,
      );
      return;
    }
    delivery.accept();
    const request = body as Message;
    if (inbox.kind === "cbs") {
      const answer = this.cbs.putToken(context.connection, request, Date.now());
      if (answer.statusCode >= 300)
        this.log(
          `$cbs refused a token for ${request.application_properties?.name}: ${answer.description}`,
        );
      this.reply(context.connection, request, {
        "status-code": answer.statusCode,
        "status-description": answer.description,
      });
    } else {
      const answer = answerManagementRequest(
        request.application_properties?.operation,
        request.body ?? {},
        inbox.queue,
      );
      this.reply(context.connection, request, answer.applicationProperties, answer.body);
    }
  }

  private onOutcome(context: EventContext, outcome: Outcome): void {
    const consumer = this.consumers.get(context.sender as Sender);
    if (consumer !== undefined && context.delivery !== undefined)
      consumer.onOutcome(context.delivery, outcome);
  }

  /** Request/response nodes answer on the peer's receiving link named by the request's reply-to. */
  private reply(
    connection: Connection,
    request: Message,
    applicationProperties: object,
    body?: unknown,
  ): void {
    const replyLink = connection.find_sender(
      (candidate: Sender) => candidate.name === request.reply_to,
    );
    if (replyLink === undefined) {
      this.log(`no reply link named ${request.reply_to}`);
      return;
    }
    const response = {
      correlation_id: request.message_id,
      application_properties: applicationProperties,
      body,
    };
    replyLink.send(amqp.encode(response), undefined, 0);
  }

  /** Refuses the link unless the node exists and a token covers it; true when admitted. */
  private admit(link: link, address: string, exists: boolean): boolean {
    let error: AmqpError | undefined;
    if (!exists) error = notFound(address, link.connection);
    else if (address !== CBS && !this.cbs.allows(link.connection, address))
      error = unauthorized(address);
    if (error === undefined) return true;
    this.log(`refused link to ${address}: ${error.condition}`);
    link.close(error);
    return false;
  }

  /** Our attach repeats the peer's source and target; a refused link keeps null ones. */
  private echoTermini(link: link): void {
    if (link.source?.address !== undefined) link.set_source({ address: link.source.address });
    if (link.target?.address !== undefined) link.set_target({ address: link.target.address });
  }

  private detachConsumers(belongs: (sender: Sender) => boolean): void {
    for (const [sender, consumer] of this.consumers) {
      if (!belongs(sender)) continue;
      consumer.detach();
      this.consumers.delete(sender);
    }
  }
}
