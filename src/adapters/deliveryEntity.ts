import type {
  Arrival,
  DeliveryRecord,
  PublishAttempt,
  PublishState,
  RecordedRequest,
  RecordStatus,
} from "../core/deliveryRecord";
import { type EventAttributes, eventAttributes } from "../core/registryEvent";
import { isNotRoutedReason, type Route } from "../core/routing";
import type { EntityKeys } from "./tableLayout";

/** A Table string property holds at most 64 KiB (32K UTF-16 units): long payloads are split. */
const CHUNK_CHARS = 30_000;

/**
 * The most a recorded payload may hold, in characters of JSON: a record keeps it in one Table
 * entity (1 MiB, strings counted as UTF-16), beside its request. The intakes refuse more.
 */
export const MAX_PAYLOAD_CHARS = 256 * 1024;

/**
 * The most a record's request may hold, in characters of JSON: it is one Table string property
 * (64 KiB, strings counted as UTF-16). Every recorded request is cut to fit it (`keptRequest`).
 */
export const MAX_REQUEST_CHARS = 32 * 1024;

export interface DeliveryEntity extends EntityKeys, EventAttributes {
  eventId: string;
  eventTimestamp: string;
  occurredAt: Date;
  receivedAt: Date;
  topic?: string;
  notRoutedReason?: string;
  publishState: PublishState;
  publishedTopics: string;
  publishAttempts: number;
  lastAttemptAt?: Date;
  lastError?: string;
  crossCheck?: string;
  occurrence?: number;
  deliveryCount: number;
  arrivals: string;
  attemptLog?: string;
  request: string;
  payloadChunks: number;
  [payloadChunk: `payload${number}`]: string;
}

export function toDeliveryEntity(keys: EntityKeys, record: DeliveryRecord): DeliveryEntity {
  const { event, route } = record;
  const payload = JSON.stringify(event.payload);
  const chunks: Record<`payload${number}`, string> = {};
  let count = 0;
  for (let offset = 0; offset < payload.length; offset += CHUNK_CHARS) {
    chunks[`payload${count++}`] = payload.slice(offset, offset + CHUNK_CHARS);
  }
  // The spreads come last: on Node 20, properties written after a spread make V8 build the object
  // in its slow dictionary mode, which cost 25 µs per entity (0.1 µs this way) and slowed every
  // later read of it. The same holds for the other entities of the hot path.
  return {
    eventId: event.eventId,
    eventTimestamp: event.timestamp,
    occurredAt: new Date(event.occurredAt),
    receivedAt: new Date(record.receivedAt),
    topic: route.kind === "topic" ? route.topic : undefined,
    notRoutedReason: route.kind === "not-routed" ? route.reason : undefined,
    publishState: record.publishState,
    publishedTopics: JSON.stringify(record.publishedTopics),
    publishAttempts: record.publishAttempts,
    lastAttemptAt: record.lastAttemptAt === undefined ? undefined : new Date(record.lastAttemptAt),
    lastError: record.lastError,
    crossCheck: record.crossCheck,
    occurrence: record.occurrence,
    deliveryCount: record.deliveryCount,
    arrivals: JSON.stringify(record.arrivals),
    attemptLog: record.attemptLog && JSON.stringify(record.attemptLog),
    request: JSON.stringify(record.request),
    payloadChunks: count,
    ...keys,
    ...eventAttributes(event),
    ...chunks,
  };
}

export function fromDeliveryEntity(entity: DeliveryEntity): DeliveryRecord {
  let payload = "";
  for (let index = 0; index < Number(entity.payloadChunks); index++) {
    payload += entity[`payload${index}`] ?? "";
  }
  const route: Route = entity.topic
    ? { kind: "topic", topic: entity.topic }
    : {
        kind: "not-routed",
        reason: isNotRoutedReason(entity.notRoutedReason)
          ? entity.notRoutedReason
          : "unknown-action",
      };
  return {
    event: {
      eventId: entity.eventId,
      ...eventAttributes(entity),
      timestamp: entity.eventTimestamp,
      occurredAt: new Date(entity.occurredAt).getTime(),
      payload: JSON.parse(payload) as Record<string, unknown>,
    },
    route,
    receivedAt: new Date(entity.receivedAt).getTime(),
    request: JSON.parse(entity.request) as RecordedRequest,
    publishState: entity.publishState,
    deliveryCount: Number(entity.deliveryCount),
    arrivals: JSON.parse(entity.arrivals) as Arrival[],
    attemptLog: entity.attemptLog ? (JSON.parse(entity.attemptLog) as PublishAttempt[]) : undefined,
    publishedTopics: JSON.parse(entity.publishedTopics) as string[],
    publishAttempts: Number(entity.publishAttempts),
    lastAttemptAt: entity.lastAttemptAt ? new Date(entity.lastAttemptAt).getTime() : undefined,
    lastError: entity.lastError || undefined,
    crossCheck: entity.crossCheck,
    occurrence: entity.occurrence === undefined ? undefined : Number(entity.occurrence),
  };
}

/** Only the columns of the given status fields, for a merge that leaves the rest alone. */
export function statusColumns(status: Partial<RecordStatus>): Partial<DeliveryEntity> {
  const columns: Partial<DeliveryEntity> = {};
  if ("publishState" in status) columns.publishState = status.publishState;
  if ("publishedTopics" in status) columns.publishedTopics = JSON.stringify(status.publishedTopics);
  if ("publishAttempts" in status) columns.publishAttempts = status.publishAttempts;
  if (status.lastAttemptAt !== undefined) columns.lastAttemptAt = new Date(status.lastAttemptAt);
  // A merge cannot remove a column: an empty error reads back as none.
  if ("lastError" in status) columns.lastError = status.lastError ?? "";
  if ("crossCheck" in status) columns.crossCheck = status.crossCheck;
  if ("occurrence" in status) columns.occurrence = status.occurrence;
  if (status.attemptLog !== undefined) columns.attemptLog = JSON.stringify(status.attemptLog);
  return columns;
}
