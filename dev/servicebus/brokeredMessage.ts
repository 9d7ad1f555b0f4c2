import { randomUUID } from "node:crypto";
import { message as amqp, type Typed, types, uuid_to_string } from "rhea";
import { createReader, createWriter, headerSection, propertiesSection } from "./rheaInternals";

const SECTION = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
  sequence: 0x76,
  value: 0x77,
  footer: 0x78,
} as const;

const SYMBOLIC_SECTIONS: Record<string, number> = {
  "amqp:header:list": SECTION.header,
  "amqp:delivery-annotations:map": SECTION.deliveryAnnotations,
  "amqp:message-annotations:map": SECTION.messageAnnotations,
  "amqp:properties:list": SECTION.properties,
  "amqp:application-properties:map": SECTION.applicationProperties,
  "amqp:data:binary": SECTION.data,
  "amqp:amqp-sequence:list": SECTION.sequence,
  "amqp:value:*": SECTION.value,
  "amqp:footer:map": SECTION.footer,
};

const PROPERTY_FIELDS = [
  "message_id",
  "user_id",
  "to",
  "subject",
  "reply_to",
  "correlation_id",
  "content_type",
  "content_encoding",
  "absolute_expiry_time",
  "creation_time",
  "group_id",
  "group_sequence",
  "reply_to_group_id",
] as const;

const HEADER_FIELDS = ["durable", "priority", "ttl", "first_acquirer"] as const;

/** Annotations the broker owns: a client re-sending a received message must not carry them over. */
const BROKER_ANNOTATIONS = [
  "x-opt-sequence-number",
  "x-opt-enqueued-time",
  "x-opt-locked-until",
  "x-opt-enqueue-sequence-number",
  "x-opt-deadletter-source",
];

export interface SystemProperties {
  messageId: string;
  correlationId?: string;
  contentType?: string;
  subject?: string;
  replyTo?: string;
  replyToSessionId?: string;
  sessionId?: string;
  to?: string;
}

/** A message as a sender published it, before the entity gives it a sequence number. */
export interface MessageContent {
  system: SystemProperties;
  applicationProperties: Record<string, unknown>;
  /** Header time-to-live in milliseconds, when the sender set one. */
  timeToLiveMs: number | undefined;
  header: Record<string, unknown>;
  annotations: Record<string, unknown>;
  /**
   * Encoded sections delivered unchanged: properties (unless an id was assigned), application
   * properties, body and footer.
   */
  propertiesSection: Buffer;
  applicationPropertiesSection: Buffer;
  bodySections: Buffer;
}

interface RawSection {
  code: number;
  bytes: Buffer;
  value: Typed;
}

function readSections(payload: Buffer): RawSection[] {
  const reader = createReader(payload);
  const sections: RawSection[] = [];
  while (reader.remaining() > 0) {
    const start = reader.position;
    const value = reader.read();
    const descriptor = (value as { descriptor?: Typed }).descriptor?.value;
    const code = typeof descriptor === "string" ? SYMBOLIC_SECTIONS[descriptor] : descriptor;
    if (typeof code !== "number" || code < SECTION.header || code > SECTION.footer) {
      throw new Error(`not an AMQP message section: ${String(descriptor)}`);
    }
    sections.push({ code, bytes: payload.subarray(start, reader.position), value });
  }
  return sections;
}

const encodeSection = (section: Typed | { described(): Typed }): Buffer => {
  const writer = createWriter();
  writer.write(section);
  return writer.toBuffer();
};

const describedSection = (code: number, value: Typed): Typed =>
  types.described(types.wrap_ulong(code), value);

const idToString = (id: unknown): string | undefined => {
  if (id === undefined || id === null) return undefined;
  if (Buffer.isBuffer(id)) return id.length === 16 ? uuid_to_string(id) : id.toString("hex");
  return String(id);
};

const optionalString = (value: unknown): string | undefined =>
  value === undefined || value === null ? undefined : String(value);

/** Decodes one encoded AMQP message; throws when the payload is not one. */
export function parseMessageContent(payload: Buffer): MessageContent {
  const sections = readSections(payload);
  const decoded = amqp.decode(payload);
  const bytesOf = (test: (code: number) => boolean) =>
    Buffer.concat(sections.filter((section) => test(section.code)).map((section) => section.bytes));

  // Service Bus assigns an id when the sender set none; the SDK's lock renewal needs one.
  const hasMessageId = decoded.message_id !== undefined && decoded.message_id !== null;
  const properties = Object.fromEntries(
    PROPERTY_FIELDS.filter((field) => decoded[field] !== undefined).map((field) => [
      field,
      decoded[field],
    ]),
  );
  if (!hasMessageId) properties.message_id = randomUUID().replaceAll("-", "");

  const annotations: Record<string, unknown> = { ...decoded.message_annotations };
  for (const key of BROKER_ANNOTATIONS) delete annotations[key];

  return {
    system: {
      messageId: idToString(properties.message_id) ?? "",
      correlationId: idToString(decoded.correlation_id),
      contentType: optionalString(decoded.content_type),
      subject: optionalString(decoded.subject),
      replyTo: optionalString(decoded.reply_to),
      replyToSessionId: optionalString(decoded.reply_to_group_id),
      sessionId: optionalString(decoded.group_id),
      to: optionalString(decoded.to),
    },
    applicationProperties: { ...decoded.application_properties },
    timeToLiveMs: typeof decoded.ttl === "number" ? decoded.ttl : undefined,
    header: Object.fromEntries(
      HEADER_FIELDS.filter((field) => decoded[field] !== undefined).map((field) => [
        field,
        decoded[field],
      ]),
    ),
    annotations,
    propertiesSection: hasMessageId
      ? bytesOf((code) => code === SECTION.properties)
      : encodeSection(propertiesSection(properties)),
    applicationPropertiesSection: bytesOf((code) => code === SECTION.applicationProperties),
    bodySections: bytesOf((code) => code >= SECTION.data),
  };
}

export interface DeliveryState {
  /** Deliveries before this one: the AMQP header's delivery-count. */
  deliveryCount: number;
  lockedUntil?: number;
}

/** A message accepted into an entity: immutable, shared by every subscription that holds it. */
export class BrokeredMessage {
  constructor(
    readonly content: MessageContent,
    readonly sequenceNumber: number,
    readonly enqueuedTime: number,
  ) {}

  get system(): SystemProperties {
    return this.content.system;
  }

  get applicationProperties(): Record<string, unknown> {
    return this.content.applicationProperties;
  }

  /** The bytes to transfer: fresh header and broker annotations around the sender's sections. */
  encode(state: DeliveryState): Buffer {
    const annotations: Record<string, unknown> = {
      ...this.content.annotations,
      "x-opt-sequence-number": types.wrap_long(this.sequenceNumber),
      "x-opt-enqueued-time": types.wrap_timestamp(this.enqueuedTime),
    };
    if (state.lockedUntil !== undefined) {
      annotations["x-opt-locked-until"] = types.wrap_timestamp(state.lockedUntil);
    }
    return Buffer.concat([
      encodeSection(headerSection({ ...this.content.header, delivery_count: state.deliveryCount })),
      encodeSection(
        describedSection(SECTION.messageAnnotations, types.wrap_symbolic_map(annotations)),
      ),
      this.content.propertiesSection,
      this.content.applicationPropertiesSection,
      this.content.bodySections,
    ]);
  }

  /** A copy with application properties added or replaced, as dead-lettering and abandon do. */
  withApplicationProperties(changes: Record<string, unknown>): BrokeredMessage {
    const applicationProperties = { ...this.content.applicationProperties, ...changes };
    const content: MessageContent = {
      ...this.content,
      applicationProperties,
      applicationPropertiesSection: encodeSection(
        describedSection(SECTION.applicationProperties, types.wrap_map(applicationProperties)),
      ),
    };
    return new BrokeredMessage(content, this.sequenceNumber, this.enqueuedTime);
  }

  /** The body as the SDK would hand it over: data sections parsed as JSON when they are JSON. */
  body(): unknown {
    const sections = readSections(this.content.bodySections).filter(
      (section) => section.code !== SECTION.footer,
    );
    const first = sections[0];
    if (first === undefined) return undefined;
    if (first.code === SECTION.value) return types.unwrap(first.value);
    if (first.code === SECTION.sequence)
      return sections.map((section) => types.unwrap(section.value));
    const bytes = Buffer.concat(sections.map((section) => section.value.value as Buffer));
    try {
      return JSON.parse(bytes.toString("utf8"));
    } catch {
      return bytes;
    }
  }
}
