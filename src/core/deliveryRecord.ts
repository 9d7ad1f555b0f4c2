import { isoTime } from "./isoTime";
import type { RegistryEvent } from "./registryEvent";
import type { Route } from "./routing";

/**
 * `pending`: routed to a topic, not yet published (the re-drive finishes it).
 * `published`: on its topic (by this arrival or by its twin). `not-routed`: recorded only (ping,
 * unknown action, out of scope). `held`: an Event Grid arrival, published only if its webhook
 * never comes. `dead`: the re-drive gave up; `lastError` says why.
 */
export const PUBLISH_STATES = ["pending", "published", "not-routed", "held", "dead"] as const;
export type PublishState = (typeof PUBLISH_STATES)[number];

/** The request as `az acr webhook list-events` shows it: secrets masked, never stored. */
export interface RecordedRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
  /** A delivery imported from ACR's log: the status ACR logged (none: it got no answer). */
  loggedResponse?: { status?: number };
  /**
   * How many of the request's headers the record had no room for (those after the ones it keeps,
   * see `keptRequest`); absent when it kept them all.
   */
  headersLeftOut?: number;
}

/** One arrival of the event: a repeat delivery or another regional webhook adds one. */
export interface Arrival {
  receivedAt: string;
  region?: string;
  /**
   * How the delivery was answered: 200 for one the bridge took; for an import from ACR's delivery
   * log, the status ACR logged (a 5xx, a 401), none when ACR got no answer (it timed out).
   */
  status?: number;
}

export interface NewDelivery {
  event: RegistryEvent;
  route: Route;
  receivedAt: number;
  request: RecordedRequest;
}

export interface DeliveryRecord extends NewDelivery {
  publishState: PublishState;
  deliveryCount: number;
  arrivals: Arrival[];
  publishedTopics: string[];
  publishAttempts: number;
  lastAttemptAt?: number;
  lastError?: string;
  /** The cross-check's verdict, once its window has closed. */
  crossCheck?: string;
  /** Which occurrence of its content this is (see `LogicalEvent.occurrence`), once known. */
  occurrence?: number;
  /** Each publish attempt, the most recent `MAX_ATTEMPTS_KEPT`. */
  attemptLog?: PublishAttempt[];
}

/** One try to put the record on its topic: when, where, with which message id, and how it went. */
export interface PublishAttempt {
  at: number;
  topic: string;
  messageId: string;
  outcome: "published" | "failed";
  error?: string;
}

export const MAX_ATTEMPTS_KEPT = 20;

/** What a publish attempt sent: the topic and the message id. */
export interface AttemptTarget {
  topic: string;
  messageId: string;
}

/** What changes on a record after its first write: each change writes only these fields. */
export type RecordStatus = Pick<
  DeliveryRecord,
  | "publishState"
  | "publishedTopics"
  | "publishAttempts"
  | "lastAttemptAt"
  | "lastError"
  | "crossCheck"
  | "occurrence"
  | "attemptLog"
>;

/** The most arrivals kept per record; `deliveryCount` keeps counting past it. */
export const MAX_ARRIVALS = 50;

/** An Event Grid arrival is held for its webhook, unless a connected registry sent it (no webhook). */
export function initialPublishState(route: Route, event: RegistryEvent): PublishState {
  if (route.kind !== "topic") return "not-routed";
  return event.origin === "eventgrid" && event.connectedRegistry === undefined ? "held" : "pending";
}

function arrivalOf(delivery: NewDelivery): Arrival {
  const logged = delivery.request.loggedResponse;
  return {
    receivedAt: isoTime(delivery.receivedAt),
    region: delivery.event.region,
    status: logged ? logged.status : 200,
  };
}

/** The record of a first arrival. */
export function newRecord(delivery: NewDelivery, occurrence?: number): DeliveryRecord {
  return {
    event: delivery.event,
    route: delivery.route,
    receivedAt: delivery.receivedAt,
    request: delivery.request,
    publishState: initialPublishState(delivery.route, delivery.event),
    deliveryCount: 1,
    arrivals: [arrivalOf(delivery)],
    publishedTopics: [],
    publishAttempts: 0,
    occurrence,
  };
}

/**
 * Whether this very delivery is on the record already (the same arrival time and region), as when
 * a journal entry is restored a second time: not a repeat to count.
 */
export function holdsArrival(record: DeliveryRecord, delivery: NewDelivery): boolean {
  const { receivedAt, region } = arrivalOf(delivery);
  return record.arrivals.some(
    (arrival) => arrival.receivedAt === receivedAt && arrival.region === region,
  );
}

/** A repeat delivery of a recorded event: counted, nothing else changes. */
export function withRepeatArrival(record: DeliveryRecord, delivery: NewDelivery): DeliveryRecord {
  return {
    ...record,
    deliveryCount: record.deliveryCount + 1,
    arrivals: [...record.arrivals, arrivalOf(delivery)].slice(-MAX_ARRIVALS),
  };
}

export function publishedStatus(
  record: DeliveryRecord,
  target: AttemptTarget,
  at: number,
): Partial<RecordStatus> {
  return {
    publishState: "published",
    publishedTopics: [...new Set([...record.publishedTopics, target.topic])],
    publishAttempts: record.publishAttempts + 1,
    lastError: undefined,
    attemptLog: withAttempt(record, { ...target, at, outcome: "published" }),
  };
}

export function publishFailedStatus(
  record: DeliveryRecord,
  target: AttemptTarget,
  error: string,
  at: number,
): Partial<RecordStatus> {
  return {
    publishAttempts: record.publishAttempts + 1,
    lastAttemptAt: at,
    lastError: error,
    attemptLog: withAttempt(record, { ...target, at, outcome: "failed", error }),
  };
}

function withAttempt(record: DeliveryRecord, attempt: PublishAttempt): PublishAttempt[] {
  return [...(record.attemptLog ?? []), attempt].slice(-MAX_ATTEMPTS_KEPT);
}

/** Whether a pending record is waiting for the re-drive. */
export function isPending(record: DeliveryRecord): boolean {
  return record.publishState === "pending";
}

export const MASK = "******";

/**
 * Masks every header that can carry a credential: the configured secret header, those that carry
 * one by convention, and any other whose value contains one of the accepted secrets. A header
 * whose name contains one is kept as `MASK: MASK`.
 */
export function maskHeaders(
  headers: Iterable<[string, string]>,
  secretHeader: string,
  secrets: readonly string[] = [],
): Record<string, string> {
  const sensitive = new Set(
    ["authorization", "x-functions-key", "cookie", "proxy-authorization", secretHeader].map(
      (name) => name.toLowerCase(),
    ),
  );
  // Entries, not assignments: a header may be named `__proto__`.
  return Object.fromEntries(
    [...headers].map(([name, value]) =>
      nameCarriesSecret(name, secrets)
        ? [MASK, MASK]
        : [name, sensitive.has(name.toLowerCase()) || carriesSecret(value, secrets) ? MASK : value],
    ),
  );
}

function carriesSecret(value: string, secrets: readonly string[]): boolean {
  return secrets.some((secret) => value.includes(secret));
}

/** Header and parameter names are matched whatever their case: HTTP lower-cases header names. */
function nameCarriesSecret(name: string, secrets: readonly string[]): boolean {
  return carriesSecret(
    name.toLowerCase(),
    secrets.map((secret) => secret.toLowerCase()),
  );
}

/**
 * A function key (`code`) or the Event Grid endpoint's secret (`key`) may ride in the URL, in
 * any case: the Functions host reads query parameter names case-insensitively. Any other
 * parameter is masked too when its value carries one of the `secrets`; those whose name carries
 * one (a secret pasted in as a bare parameter) are left out, a `MASK=MASK` in their place. A
 * fragment is left out.
 */
export function maskUri(uri: string, secrets: readonly string[] = []): string {
  const url = new URL(uri);
  const secretNames = new Set(
    [...url.searchParams].flatMap(([name, value]) =>
      SECRET_QUERY_PARAMETERS.has(name.toLowerCase()) || carriesSecret(value, secrets)
        ? [name]
        : [],
    ),
  );
  for (const name of secretNames) url.searchParams.set(name, MASK);
  const named = [...new Set(url.searchParams.keys())].filter((name) =>
    nameCarriesSecret(name, secrets),
  );
  for (const name of named) url.searchParams.delete(name);
  if (named.length > 0) url.searchParams.append(MASK, MASK);
  // No client sends a fragment: one in the request target is the sender's text, secrets and all.
  url.hash = "";
  return url.toString();
}

const SECRET_QUERY_PARAMETERS = new Set(["code", "key"]);
