import type {
  Arrival,
  DeliveryRecord,
  PublishState,
  RecordedRequest,
} from "../core/deliveryRecord";
import { type EventAttributes, eventAttributes } from "../core/registryEvent";
import { isNotRoutedReason, type Route } from "../core/routing";
import type { EntityKeys } from "./tableLayout";

/** A Table string property holds at most 64 KiB (32K UTF-16 units): long payloads are split. */
const CHUNK_CHARS = 30_000;

/** The most arrivals kept per record; `deliveryCount` keeps counting past it. */
const MAX_ARRIVALS = 50;

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
  return {
    ...keys,
    eventId: event.eventId,
    ...eventAttributes(event),
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
    arrivals: JSON.stringify(record.arrivals.slice(-MAX_ARRIVALS)),
    request: JSON.stringify(record.request),
    payloadChunks: count,
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
    publishedTopics: JSON.parse(entity.publishedTopics) as string[],
    publishAttempts: Number(entity.publishAttempts),
    lastAttemptAt: entity.lastAttemptAt ? new Date(entity.lastAttemptAt).getTime() : undefined,
    lastError: entity.lastError,
    crossCheck: entity.crossCheck,
    occurrence: entity.occurrence === undefined ? undefined : Number(entity.occurrence),
  };
}

export function withArrival(record: DeliveryRecord, arrival: Arrival): DeliveryRecord {
  return {
    ...record,
    deliveryCount: record.deliveryCount + 1,
    arrivals: [...record.arrivals, arrival].slice(-MAX_ARRIVALS),
  };
}
